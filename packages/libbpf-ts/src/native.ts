// The compiled addon and the shapes of what it exports. Loaded lazily, so importing the package
// (for types, or on a machine without the addon built) costs nothing until BPF is actually used.
import { createRequire } from 'node:module';

export interface NativeMapDecl {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  internal: boolean;
  pinPath?: string;
  pinned: boolean;
}

export interface NativeProgDecl {
  name: string;
  section: string;
  type: number;
  autoload: boolean;
}

export interface NativeObjectHandle {
  load(): void;
  close(): void;
  name(): string;
  isLoaded(): boolean;
  isClosed(): boolean;
  maps(): NativeMapDecl[];
  programs(): NativeProgDecl[];
  setMapPinPath(map: string, path: string | null): void;
  setMapMaxEntries(map: string, maxEntries: number): void;
  setMapInitialValue(map: string, value: Buffer): void;
  reuseMapFd(map: string, fd: number): void;
  setProgAutoload(program: string, autoload: boolean): void;
  unpinMaps(path: string | null): void;
}

export interface NativeMapInfo {
  name: string;
  id: number;
  type: number;
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  perCpu: boolean;
  possibleCpus: number;
  valueStride: number;
  object?: string;
}

export interface NativeMapHandle {
  info(): NativeMapInfo;
  fd(): number;
  lookup(key: Buffer | null): Buffer | null;
  lookupAndDelete(key: Buffer | null): Buffer | null;
  update(key: Buffer | null, value: Buffer, flags: number): void;
  delete(key: Buffer | null): boolean;
  nextKey(key: Buffer | null): Buffer | null;
  keys(): Buffer[];
  entries(): Array<[Buffer, Buffer]>;
  updateBatch(keys: Buffer, values: Buffer, count: number, flags: number): boolean;
  deleteBatch(keys: Buffer, count: number): number;
  pin(path: string): void;
  close(): void;
}

export interface NativeProgInfo {
  name: string;
  id: number;
  type: number;
  typeName: string;
  tag: string;
  object?: string;
}

export interface NativeTestRunOptions {
  data?: Buffer;
  repeat?: number;
  ctxIn?: Buffer;
  ctxOutSize?: number;
  dataOutSize?: number;
  flags?: number;
  cpu?: number;
}

export interface NativeTestRunResult {
  retval: number;
  durationNs: number;
  dataOut: Buffer | null;
  ctxOut?: Buffer;
}

export interface NativeProgHandle {
  info(): NativeProgInfo;
  fd(): number;
  pin(path: string): void;
  testRun(opts: NativeTestRunOptions): NativeTestRunResult;
  close(): void;
}

export interface NativeRingBufferHandle {
  start(): void;
  stop(): void;
  consume(): Buffer[];
  close(): void;
}

export type NativeTcWhere = 'ingress' | 'egress' | 'both';

export interface NativeTcAttachResult {
  handle: number;
  priority: number;
  progId: number;
}

export interface NativeErrorDetails {
  code: string;
  reason: string;
  message?: string;
  object?: string;
  map?: string;
  program?: string;
  path?: string;
  index?: number;
  log?: string;
}

export interface NativeLogEntry {
  level: 'warn' | 'info' | 'debug';
  message: string;
}

export interface NativeAddon {
  setErrorFactory(factory: (op: string, errno: number, details: NativeErrorDetails) => Error): void;
  takeLog(): NativeLogEntry[];
  setLogLevel(level: 'warn' | 'info' | 'debug'): void;
  numPossibleCpus(): number;
  libbpfVersion(): string;
  ObjectHandle: new (path: string, opts: { pinRoot?: string; objectName?: string }) => NativeObjectHandle;
  MapHandle: {
    new (path: string): NativeMapHandle;
    new (object: NativeObjectHandle, name: string): NativeMapHandle;
    new (none: null, id: number): NativeMapHandle;
  };
  ProgHandle: {
    new (path: string): NativeProgHandle;
    new (object: NativeObjectHandle, name: string): NativeProgHandle;
    new (none: null, id: number): NativeProgHandle;
  };
  RingBufferHandle: new (
    mapFd: number,
    mapName: string,
    callback: (records: Buffer[] | null, errno?: number) => void,
    maxBatch?: number,
  ) => NativeRingBufferHandle;
  ifIndex(name: string, netns?: string): number;
  tcHookCreate(ifindex: number, where: NativeTcWhere, netns?: string): boolean;
  tcHookDestroy(ifindex: number, where: NativeTcWhere, netns?: string): void;
  tcAttach(
    ifindex: number,
    where: 'ingress' | 'egress',
    progFd: number,
    opts: { handle?: number; priority?: number; replace?: boolean },
    netns?: string,
  ): NativeTcAttachResult;
  tcDetach(ifindex: number, where: 'ingress' | 'egress', handle: number, priority: number, netns?: string): void;
  tcQuery(ifindex: number, where: 'ingress' | 'egress', handle: number, priority: number, netns?: string): number | null;
}

/** Where the addon is built; the same relative path works from src/ (tests) and dist/ (consumers). */
export const ADDON_PATH = new URL('../build/Release/bpf_ts.node', import.meta.url);

let addon: NativeAddon | undefined;
const onLoad: Array<(a: NativeAddon) => void> = [];

/** Runs `fn` when the addon loads (immediately if it already has). */
export function whenLoaded(fn: (a: NativeAddon) => void): void {
  if (addon) fn(addon);
  else onLoad.push(fn);
}

export function native(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  try {
    addon = require(ADDON_PATH.pathname) as NativeAddon;
  } catch (err) {
    throw new Error(
      `libbpf-ts: cannot load the native addon at ${ADDON_PATH.pathname}; build it with scripts/build-native.sh`,
      { cause: err },
    );
  }
  for (const fn of onLoad) fn(addon);
  return addon;
}
