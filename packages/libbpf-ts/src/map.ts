// A BPF map by fd: from a loaded object, a pin path or an id. Keys and values are Buffers of the
// map's exact sizes; per-CPU maps take and return one Buffer per possible CPU.
import { unlinkSync } from 'node:fs';

import { UPDATE_FLAGS } from './constants.js';
import type { UpdateFlag } from './constants.js';
import { BpfError, bpfError } from './errors.js';
import { native } from './native.js';
import type { NativeMapHandle } from './native.js';

export interface MapInfo {
  name: string;
  /** Kernel map id (stable while the map exists; visible in bpftool). */
  id: number;
  /** enum bpf_map_type; see MapType. */
  type: number;
  /** libbpf's name for the type, e.g. 'hash', 'lpm_trie', 'percpu_array'. */
  typeName: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  perCpu: boolean;
  /** Number of values a per-CPU lookup returns (0 for other maps). */
  possibleCpus: number;
  /** Name of the object the map came from, when it came from one. */
  object?: string;
}

/** A value to write: one Buffer, or for per-CPU maps one per CPU (a single Buffer is copied to all). */
export type MapValue = Buffer | readonly Buffer[];

export class BpfMap {
  readonly info: Readonly<MapInfo>;
  private readonly stride: number;

  /** @internal use BpfObject.map(), openPinnedMap() or mapFromId(). */
  constructor(private readonly handle: NativeMapHandle) {
    const i = handle.info();
    this.stride = i.valueStride;
    this.info = Object.freeze({
      name: i.name,
      id: i.id,
      type: i.type,
      typeName: i.typeName,
      keySize: i.keySize,
      valueSize: i.valueSize,
      maxEntries: i.maxEntries,
      flags: i.flags,
      perCpu: i.perCpu,
      possibleCpus: i.possibleCpus,
      ...(i.object !== undefined ? { object: i.object } : {}),
    });
  }

  get name(): string {
    return this.info.name;
  }

  /** The map's fd (valid while the map and its object are open). */
  get fd(): number {
    return this.handle.fd();
  }

  /** The value stored under `key` (LPM tries: the longest matching prefix), or undefined. */
  lookup(key: Buffer): Buffer | undefined {
    this.requireNotPerCpu('bpf_map_lookup_elem', 'lookupPerCpu');
    return this.handle.lookup(key) ?? undefined;
  }

  /** One Buffer per possible CPU, or undefined when the key is absent. */
  lookupPerCpu(key: Buffer): Buffer[] | undefined {
    this.requirePerCpu('bpf_map_lookup_elem');
    const v = this.handle.lookup(key);
    return v === null ? undefined : this.splitPerCpu(v);
  }

  /** Removes and returns the value (also queues/stacks with an empty key), or undefined. */
  lookupAndDelete(key: Buffer | null): Buffer | undefined {
    this.requireNotPerCpu('bpf_map_lookup_and_delete_elem', 'lookupPerCpu');
    return this.handle.lookupAndDelete(key) ?? undefined;
  }

  update(key: Buffer, value: MapValue, flag: UpdateFlag = 'any'): void {
    this.handle.update(key, this.encodeValue(value, 'bpf_map_update_elem'), UPDATE_FLAGS[flag]);
  }

  /** True if the key existed. */
  delete(key: Buffer): boolean {
    return this.handle.delete(key);
  }

  /**
   * Writes many entries with one kernel batch call when the map type supports it, else one
   * update per entry. Returns whether the kernel batch was used. On failure the BpfError's
   * `index` names the entry that failed; earlier entries are written.
   */
  updateBatch(entries: ReadonlyArray<readonly [Buffer, MapValue]>, flag: UpdateFlag = 'any'): { batched: boolean } {
    const keys = Buffer.concat(entries.map((e) => e[0]));
    const values = Buffer.concat(entries.map((e) => this.encodeValue(e[1], 'bpf_map_update_batch')));
    return { batched: this.handle.updateBatch(keys, values, entries.length, UPDATE_FLAGS[flag]) };
  }

  /** Deletes the keys that exist (batched where supported); returns how many were deleted. */
  deleteBatch(keys: readonly Buffer[]): number {
    return this.handle.deleteBatch(Buffer.concat(keys), keys.length);
  }

  /** The key after `key` in iteration order (the first key when omitted), or undefined at the end. */
  nextKey(key?: Buffer): Buffer | undefined {
    return this.handle.nextKey(key ?? null) ?? undefined;
  }

  /** Every key, read in one native walk. */
  keys(): Buffer[] {
    return this.handle.keys();
  }

  /** Every [key, value] pair (keys deleted during the walk are skipped). */
  entries(): Array<[Buffer, Buffer]> {
    this.requireNotPerCpu('bpf_map_lookup_elem', 'entriesPerCpu');
    return this.handle.entries();
  }

  entriesPerCpu(): Array<[Buffer, Buffer[]]> {
    this.requirePerCpu('bpf_map_lookup_elem');
    return this.handle.entries().map(([k, v]) => [k, this.splitPerCpu(v)]);
  }

  /** Deletes every entry; returns how many were deleted. */
  clear(): number {
    return this.deleteBatch(this.keys());
  }

  /** Pins the map at `path` on bpffs (the parent directory must exist). */
  pin(path: string): void {
    this.handle.pin(path);
  }

  /** Removes a pin of this map (other pins and open fds keep the map alive). */
  unpin(path: string): void {
    unpin(path, { map: this.name });
  }

  /** Releases the fd if this handle owns it (pinned/id maps); object maps close with their object. */
  close(): void {
    this.handle.close();
  }

  private encodeValue(value: MapValue, op: string): Buffer {
    const { perCpu, valueSize, possibleCpus } = this.info;
    if (!perCpu) {
      if (!Buffer.isBuffer(value)) throw this.sizeError(op, 'per-CPU value arrays only fit per-CPU maps');
      return value;
    }
    const parts = Buffer.isBuffer(value) ? new Array<Buffer>(possibleCpus).fill(value) : value;
    if (parts.length !== possibleCpus) {
      throw this.sizeError(op, `${parts.length} per-CPU values given, map has ${possibleCpus} possible CPUs`);
    }
    const out = Buffer.alloc(this.stride * possibleCpus);
    parts.forEach((p, cpu) => {
      if (p.length !== valueSize) throw this.sizeError(op, `value is ${p.length} bytes, map '${this.name}' expects ${valueSize}`);
      p.copy(out, cpu * this.stride);
    });
    return out;
  }

  private splitPerCpu(v: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (let cpu = 0; cpu < this.info.possibleCpus; cpu++) {
      out.push(v.subarray(cpu * this.stride, cpu * this.stride + this.info.valueSize));
    }
    return out;
  }

  private requirePerCpu(op: string): void {
    if (!this.info.perCpu) throw this.sizeError(op, `map '${this.name}' is not per-CPU`);
  }

  private requireNotPerCpu(op: string, instead: string): void {
    if (this.info.perCpu) throw this.sizeError(op, `map '${this.name}' is per-CPU: use ${instead}()`);
  }

  private sizeError(op: string, detail: string): BpfError {
    return bpfError(op, 'EINVAL', detail, {
      map: this.name,
      ...(this.info.object !== undefined ? { object: this.info.object } : {}),
    });
  }
}

/** Sums per-CPU little-endian u64 counters (what lookupPerCpu returns for a __u64 value). */
export function sumPerCpuU64(values: readonly Buffer[]): bigint {
  return values.reduce((acc, b) => acc + b.readBigUInt64LE(0), 0n);
}

/** Opens a map pinned on bpffs, e.g. by an earlier run of the agent. Close it when done. */
export function openPinnedMap(path: string): BpfMap {
  return new BpfMap(new (native().MapHandle)(path));
}

/** Opens a map by kernel id. Close it when done. */
export function mapFromId(id: number): BpfMap {
  return new BpfMap(new (native().MapHandle)(null, id));
}

/** Removes a pin (a map or program stays alive while anything else holds it). */
export function unpin(path: string, ctx: { map?: string; program?: string } = {}): void {
  try {
    unlinkSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BpfError('unlink', -(e.errno ?? 0) || 0, e.code ?? 'EIO', e.message, { ...ctx, path });
  }
}
