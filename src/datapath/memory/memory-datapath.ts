// In-memory datapath: the same compiled tables, learned keys and expiry rule as the eBPF backend,
// decided by src/compile's interpret (the program's algorithm in TypeScript), so the proxy and the
// agent can be tested without root. Test hooks make `learn` slow or fail to exercise the
// hold-until-programmed contract.
import { diff } from '../../compile/diff.js';
import { type Outcome, type Packet, interpret } from '../../compile/interpret.js';
import { LearnedSet } from '../../compile/learned-set.js';
import type { CompiledNode } from '../../compile/types.js';
import { type KeyChanges, LearnedTable, canonicalIp } from '../learned-table.js';
import type {
  ApplyResult,
  Datapath,
  DatapathCounters,
  DatapathEvent,
  Direction,
  DirectionCounters,
  EndpointCounters,
  IfindexOf,
  LearnedEntry,
  LearnedRef,
} from '../types.js';
import { LearnRefusedError, MemoryApplyError } from './errors.js';

/** Runs before a `learn` batch is committed; reject (or throw) to make `learn` fail. */
export type LearnHook = (entries: readonly LearnedEntry[]) => Promise<void> | void;

export interface LearnRecord {
  /** `clock()` when the entries became effective. */
  readonly programmedAt: number;
  readonly entries: readonly LearnedEntry[];
}

export interface MemoryDatapathOptions {
  /** Clock for `decide` and `programmedAt`; defaults to `Date.now`. */
  clock?: () => number;
  /** `learnLog` keeps at least the most recent this-many batches, at most twice that (default 10000; 0 keeps none). */
  learnLogLimit?: number;
}

const TIER = { admin: 'Admin', np: 'NetworkPolicy', baseline: 'Baseline' } as const;
const PROTO_NUMBER = { TCP: 6, UDP: 17, SCTP: 132 } as const;

function zeroCounters(): { allowedPackets: number; deniedPackets: number; newFlows: number; eventsLost: number } {
  return { allowedPackets: 0, deniedPackets: 0, newFlows: 0, eventsLost: 0 };
}

export class MemoryDatapath implements Datapath {
  private readonly clock: () => number;
  private readonly table = new LearnedTable();
  private learnedSet: LearnedSet | null = null;
  private node: CompiledNode | null = null;
  /** Enforced endpoints (those with an ifindex) -> ifindex. */
  private readonly enforced = new Map<string, number>();
  private readonly perEndpoint = new Map<string, Record<Direction, ReturnType<typeof zeroCounters>>>();
  private readonly listeners = new Set<(event: DatapathEvent) => void>();
  private learnHook: LearnHook | undefined;
  private closed = false;
  private learnCalls = 0;
  private learnFailures = 0;
  private allowed = 0;
  private denied = 0;
  private readonly learnLogLimit: number;
  /** Recent committed `learn` batches in order (tests compare them with the time answers left). */
  readonly learnLog: LearnRecord[] = [];

  constructor(options: MemoryDatapathOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.learnLogLimit = options.learnLogLimit ?? 10_000;
  }

  // ---- test hooks ---------------------------------------------------------------------------

  setLearnHook(hook: LearnHook | undefined): void {
    this.learnHook = hook;
  }

  /** Every `learn` takes `ms` before its entries become effective. */
  delayLearn(ms: number): void {
    this.learnHook = ms > 0 ? () => new Promise((resolve) => setTimeout(resolve, ms)) : undefined;
  }

  /** Every `learn` fails (after `afterMs`) without programming anything. */
  failLearn(reason = 'test hook', afterMs = 0): void {
    this.learnHook = (entries) =>
      new Promise((_resolve, reject) =>
        setTimeout(() => reject(new LearnRefusedError(reason, entries.length)), afterMs),
      );
  }

  // ---- learning side ------------------------------------------------------------------------

  async learn(entries: readonly LearnedEntry[]): Promise<void> {
    this.learnCalls++;
    try {
      if (this.closed) throw new LearnRefusedError('datapath closed', entries.length);
      for (const e of entries) {
        if (canonicalIp(e.ip) === undefined) throw new LearnRefusedError(`not an IP: ${e.ip}`, entries.length);
      }
      if (this.learnHook !== undefined) await this.learnHook(entries);
    } catch (err) {
      this.learnFailures++;
      throw err;
    }
    this.commit(this.table.learnFinal(entries));
    if (this.learnLogLimit > 0) {
      // Bounded so a long-running user (benchmarks, the demo) does not grow without limit;
      // trimmed by halves so the cost per call stays constant.
      if (this.learnLog.length >= 2 * this.learnLogLimit) this.learnLog.splice(0, this.learnLog.length - this.learnLogLimit);
      this.learnLog.push({ programmedAt: this.clock(), entries });
    }
  }

  async forget(refs: readonly LearnedRef[]): Promise<void> {
    this.commit(this.table.forget(refs));
  }

  async sweep(now: number, maxWork = 10_000): Promise<LearnedRef[]> {
    const { removed, changes } = this.table.sweep(now, maxWork);
    this.commit(changes);
    return removed;
  }

  /** The live (unexpired) entry that lets `pod` open a new connection to `ip` (any name), if any. */
  learnedAllowing(pod: string, ip: string, now = this.clock()): LearnedEntry | undefined {
    return this.table.liveFor(pod, ip, now);
  }

  /** Every stored learned entry of a pod, expired or not (sweeping is the owner's job). */
  learnedOf(pod: string): LearnedEntry[] {
    return this.table.entriesOf(pod);
  }

  /** The (endpoint id, slot, ip) -> expiry keys, as the eBPF backend would hold them. */
  learnedKeys(): { epId: number; slot: number; ip: string; expiresAt: number }[] {
    return [...this.table.allKeys()];
  }

  // The table holds the keys as the change stream leaves them (test/datapath/learned-table checks
  // that); this backend has nothing to write, only its decision view to drop.
  private commit(c: KeyChanges): void {
    if (c.upsert.length > 0 || c.remove.length > 0) this.learnedSet = null;
  }

  private learned(): LearnedSet {
    if (this.learnedSet === null) {
      const set = new LearnedSet();
      for (const k of this.table.allKeys()) set.add(k.epId, k.slot, k.ip, k.expiresAt);
      this.learnedSet = set;
    }
    return this.learnedSet;
  }

  // ---- reconciler side ----------------------------------------------------------------------

  async applyNode(next: CompiledNode, ifindexOf: IfindexOf): Promise<ApplyResult> {
    if (this.closed) throw new MemoryApplyError('datapath', 'state', 'closed');
    const d = diff(this.node, next);
    const pending: string[] = [];
    const enforced = new Map<string, number>();
    for (const key of next.endpoints.keys()) {
      const ifindex = ifindexOf(key);
      if (ifindex === undefined) pending.push(key);
      else enforced.set(key, ifindex);
    }
    const keyChanges = this.table.setNode(next);
    this.commit(keyChanges);
    this.node = next;
    this.enforced.clear();
    for (const [k, v] of enforced) this.enforced.set(k, v);
    for (const key of this.perEndpoint.keys()) if (!next.endpoints.has(key)) this.perEndpoint.delete(key);
    return {
      enforced: enforced.size,
      pending,
      prefixesWritten: d.prefixesUpsert.length,
      prefixesDeleted: d.prefixesRemove.length,
      learnedWritten: keyChanges.upsert.length,
      learnedDeleted: keyChanges.remove.length,
    };
  }

  /**
   * The verdict for a NEW flow of `endpoint` in `direction` (what the eBPF program decides after
   * conntrack): src/compile's interpret over the applied compilation and the learned keys. An
   * endpoint that is not enforced (unknown, or without an ifindex) allows. Emits an event.
   */
  decide(endpoint: string, direction: Direction, packet: Packet, now = this.clock()): Outcome {
    const out: Outcome =
      this.node !== null && this.enforced.has(endpoint)
        ? interpret(this.node, endpoint, direction, packet, this.learned(), now)
        : { verdict: 'allow', reason: 'notEnforced' };
    const c = out.reason === 'notEnforced' ? undefined : this.countersOf(endpoint)[direction];
    if (out.verdict === 'allow') {
      this.allowed++;
      if (c) {
        c.allowedPackets++;
        c.newFlows++;
      }
    } else {
      this.denied++;
      if (c) c.deniedPackets++;
    }
    const local = this.node?.endpoints.get(endpoint)?.config;
    const self = (packet.peer.includes(':') ? local?.podIp6 : local?.podIp4) ?? '';
    const proto = packet.protocol === 'ICMP' ? (packet.peer.includes(':') ? 58 : 1) : PROTO_NUMBER[packet.protocol];
    const port = packet.protocol === 'ICMP' ? 0 : (packet.port ?? 0);
    const rule = out.reason === 'rule' ? this.node?.rules.get(out.ruleId) : undefined;
    const event: DatapathEvent = {
      at: now,
      endpoint,
      direction,
      verdict: out.verdict,
      src: direction === 'egress' ? self : packet.peer,
      dst: direction === 'egress' ? packet.peer : self,
      peer: packet.peer,
      proto,
      sport: 0,
      dport: port,
      reason: out.reason,
      ...(out.reason === 'rule' ? { tier: TIER[out.tier] } : {}),
      ...(rule !== undefined ? { rule } : {}),
    };
    for (const l of this.listeners) l(event);
    return out;
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counters(): DatapathCounters {
    let prefixes = 0;
    for (const ep of this.node?.endpoints.values() ?? []) prefixes += ep.egress.prefixes.size + ep.ingress.prefixes.size;
    return {
      endpoints: this.enforced.size,
      policyEntries: prefixes,
      learnedEntries: this.table.size,
      learnedKeys: this.table.keyCount,
      learnCalls: this.learnCalls,
      learnFailures: this.learnFailures,
      allowed: this.allowed,
      denied: this.denied,
    };
  }

  endpointCounters(endpoint: string): EndpointCounters | undefined {
    if (!this.node?.endpoints.has(endpoint)) return undefined;
    const c = this.countersOf(endpoint);
    return { egress: { ...c.egress } as DirectionCounters, ingress: { ...c.ingress } as DirectionCounters };
  }

  private countersOf(endpoint: string): Record<Direction, ReturnType<typeof zeroCounters>> {
    let c = this.perEndpoint.get(endpoint);
    if (!c) this.perEndpoint.set(endpoint, (c = { egress: zeroCounters(), ingress: zeroCounters() }));
    return c;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
