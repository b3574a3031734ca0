// The agent's state directory: the last programmed compilation, so a restarted agent compiles with
// the same endpoint ids, rule ids and FQDN slots (src/compile `previous`) as the pinned maps it
// adopts. Without it the ids could be reassigned and learned entries kept in the pinned maps
// (keyed by endpoint id and slot) would stop matching until the pods resolved again.
// Written atomically (temp file + rename), at most once per `minIntervalMs`; a missing, corrupt or
// foreign file is ignored with a warning (the agent then starts from fresh ids).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledEndpoint, CompiledNode, DirectionTable, FqdnSlot, PrefixEntry, RuleRef } from '../compile/types.js';

/** The file under the state directory. */
export const STATE_FILE = 'compiled.json';
const FORMAT = 'dnsgate-compiled-node/v1';

interface Envelope {
  readonly format: string;
  readonly savedAt: string;
  readonly node: unknown;
}

interface StoredTable {
  readonly isolated: boolean;
  readonly fallback: boolean;
  readonly prefixes: readonly PrefixEntry[];
}

interface StoredEndpoint extends Omit<CompiledEndpoint, 'egress' | 'ingress'> {
  readonly egress: StoredTable;
  readonly ingress: StoredTable;
}

interface StoredNode {
  readonly endpoints: readonly StoredEndpoint[];
  readonly slots: readonly FqdnSlot[];
  readonly rules: readonly RuleRef[];
  readonly maxRules: number;
}

// Tables are written as plain lists whatever ReadonlyMap implementation the compiler uses.
const storeTable = (t: DirectionTable): StoredTable => ({ isolated: t.isolated, fallback: t.fallback, prefixes: [...t.prefixes.values()] });
const loadTable = (t: StoredTable): DirectionTable => ({ isolated: t.isolated, fallback: t.fallback, prefixes: new Map(t.prefixes.map((p) => [p.cidr, p])) });

/** The compilation as text (diagnostics are not kept: they are recomputed). */
export function encodeCompiledNode(node: CompiledNode): string {
  const stored: StoredNode = {
    endpoints: [...node.endpoints.values()].map((ep) => ({ ...ep, egress: storeTable(ep.egress), ingress: storeTable(ep.ingress) })),
    slots: [...node.slots.values()],
    rules: [...node.rules.values()],
    maxRules: node.maxRules,
  };
  const envelope: Envelope = { format: FORMAT, savedAt: new Date().toISOString(), node: stored };
  return JSON.stringify(envelope);
}

function isTable(t: unknown): t is StoredTable {
  return typeof t === 'object' && t !== null && Array.isArray((t as StoredTable).prefixes) && (t as StoredTable).prefixes.every((p) => typeof p?.cidr === 'string' && Array.isArray(p.rules));
}

/** Parses what encodeCompiledNode wrote; throws on anything else. */
export function decodeCompiledNode(text: string): CompiledNode {
  const env = JSON.parse(text) as Partial<Envelope>;
  if (env.format !== FORMAT) throw new Error(`not a ${FORMAT} file (format ${JSON.stringify(env.format)})`);
  const node = env.node as Partial<StoredNode> | undefined;
  if (!node || !Array.isArray(node.endpoints) || !Array.isArray(node.slots) || !Array.isArray(node.rules) || typeof node.maxRules !== 'number') {
    throw new Error('malformed compiled node');
  }
  for (const ep of node.endpoints) {
    if (typeof ep?.key !== 'string' || !Number.isInteger(ep.epId) || !isTable(ep.egress) || !isTable(ep.ingress) || !Array.isArray(ep.slots)) throw new Error('malformed endpoint');
  }
  if (node.slots.some((sl) => !Number.isInteger(sl?.slot) || typeof sl.rule !== 'string' || !Array.isArray(sl.patterns))) throw new Error('malformed FQDN slot');
  if (node.rules.some((r) => !Number.isInteger(r?.ruleId))) throw new Error('malformed rule reference');
  return {
    endpoints: new Map(node.endpoints.map((ep) => [ep.key, { ...ep, egress: loadTable(ep.egress), ingress: loadTable(ep.ingress) }])),
    slots: new Map(node.slots.map((sl) => [sl.slot, sl])),
    rules: new Map(node.rules.map((r) => [r.ruleId, r])),
    diagnostics: [],
    maxRules: node.maxRules,
  };
}

export class StateStore {
  private lastWrite = 0;
  private pending: CompiledNode | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    private readonly onError: (err: Error) => void,
    private readonly minIntervalMs = 1000,
    private readonly clock: () => number = Date.now,
  ) {}

  get path(): string {
    return join(this.dir, STATE_FILE);
  }

  /** The saved compilation, or undefined (with `onError` called when a file was there but unusable). */
  load(): CompiledNode | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(err as Error);
      return undefined;
    }
    try {
      return decodeCompiledNode(text);
    } catch (err) {
      this.onError(new Error(`${this.path}: ${(err as Error).message}; starting with fresh ids`));
      return undefined;
    }
  }

  /** Saves soon (coalesced); `flush` writes what is pending now. */
  save(node: CompiledNode): void {
    this.pending = node;
    if (this.timer) return;
    const wait = Math.max(0, this.lastWrite + this.minIntervalMs - this.clock());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const node = this.pending;
    this.pending = undefined;
    if (!node) return;
    try {
      mkdirSync(this.dir, { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(tmp, encodeCompiledNode(node));
      renameSync(tmp, this.path);
      this.lastWrite = this.clock();
    } catch (err) {
      this.onError(err as Error);
    }
  }
}
