// In-memory datapath: the same entries and expiry rule as the eBPF backend, as plain maps, so the
// proxy and agent can be tested without root. Test hooks make `learn` slow or fail to exercise the
// hold-until-programmed contract.
import { BlockList, isIP } from 'node:net';
import type {
  Datapath,
  DatapathCounters,
  DatapathEvent,
  Direction,
  EndpointSpec,
  LearnedEntry,
  LearnedRef,
  PolicyDiff,
  PolicyEntry,
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

interface CompiledEntry {
  readonly entry: PolicyEntry;
  readonly block: BlockList;
}

export class MemoryDatapath implements Datapath {
  private readonly clock: () => number;
  // pod -> ip -> name -> entry: lookups in `decide` go by (pod, ip) like the eBPF map key.
  private readonly learned = new Map<string, Map<string, Map<string, LearnedEntry>>>();
  private readonly endpoints = new Map<string, EndpointSpec>();
  private readonly policy = new Map<string, CompiledEntry>();
  private readonly listeners = new Set<(event: DatapathEvent) => void>();
  private learnHook: LearnHook | undefined;
  private closed = false;
  private learnedCount = 0;
  private learnCalls = 0;
  private learnFailures = 0;
  private allowed = 0;
  private denied = 0;
  /** Recent committed `learn` batches in order (tests compare them with the time answers left). */
  readonly learnLog: LearnRecord[] = [];

  constructor(options: MemoryDatapathOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.learnLogLimit = options.learnLogLimit ?? 10_000;
  }

  private readonly learnLogLimit: number;

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
        if (isIP(e.ip) === 0) throw new LearnRefusedError(`not an IP: ${e.ip}`, entries.length);
      }
      if (this.learnHook !== undefined) await this.learnHook(entries);
    } catch (err) {
      this.learnFailures++;
      throw err;
    }
    for (const e of entries) {
      let byIp = this.learned.get(e.pod);
      if (byIp === undefined) this.learned.set(e.pod, (byIp = new Map()));
      let byName = byIp.get(e.ip);
      if (byName === undefined) byIp.set(e.ip, (byName = new Map()));
      const prev = byName.get(e.name);
      if (prev === undefined) this.learnedCount++;
      // Like the learned store, re-learning extends an expiry and never shortens it.
      byName.set(e.name, prev !== undefined && prev.expiresAt > e.expiresAt ? { ...e, expiresAt: prev.expiresAt } : e);
    }
    if (this.learnLogLimit > 0) {
      // Bounded so a long-running user (benchmarks, the demo) does not grow without limit;
      // trimmed by halves so the cost per call stays constant.
      if (this.learnLog.length >= 2 * this.learnLogLimit) this.learnLog.splice(0, this.learnLog.length - this.learnLogLimit);
      this.learnLog.push({ programmedAt: this.clock(), entries });
    }
  }

  async forget(refs: readonly LearnedRef[]): Promise<void> {
    for (const r of refs) {
      const byIp = this.learned.get(r.pod);
      const byName = byIp?.get(r.ip);
      if (byIp === undefined || byName === undefined) continue;
      if (byName.delete(r.name)) this.learnedCount--;
      if (byName.size === 0) byIp.delete(r.ip);
      if (byIp.size === 0) this.learned.delete(r.pod);
    }
  }

  /** The live (unexpired) entry that lets `pod` open a new connection to `ip`, if any. */
  learnedAllowing(pod: string, ip: string, now = this.clock()): LearnedEntry | undefined {
    const byName = this.learned.get(pod)?.get(ip);
    if (byName === undefined) return undefined;
    for (const e of byName.values()) if (now < e.expiresAt) return e;
    return undefined;
  }

  /** Every stored learned entry of a pod, expired or not (sweeping is the owner's job). */
  learnedOf(pod: string): LearnedEntry[] {
    const out: LearnedEntry[] = [];
    for (const byName of this.learned.get(pod)?.values() ?? []) out.push(...byName.values());
    return out;
  }

  // ---- reconciler side ----------------------------------------------------------------------

  async attach(endpoint: EndpointSpec): Promise<void> {
    this.endpoints.set(endpoint.id, endpoint);
  }

  async detach(endpointId: string): Promise<void> {
    this.endpoints.delete(endpointId);
    const byIp = this.learned.get(endpointId);
    if (byIp !== undefined) {
      for (const byName of byIp.values()) this.learnedCount -= byName.size;
      this.learned.delete(endpointId);
    }
    for (const [id, c] of this.policy) if (c.entry.endpoint === endpointId) this.policy.delete(id);
  }

  async apply(diff: PolicyDiff): Promise<void> {
    // Validate everything first so a bad diff changes nothing (atomic like a map batch).
    const compiled = diff.upsert.map((entry) => ({ entry, block: blockOf(entry) }));
    for (const id of diff.remove) this.policy.delete(id);
    for (const c of compiled) this.policy.set(c.entry.id, c);
  }

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  counters(): DatapathCounters {
    return {
      endpoints: this.endpoints.size,
      policyEntries: this.policy.size,
      learnedEntries: this.learnedCount,
      learnCalls: this.learnCalls,
      learnFailures: this.learnFailures,
      allowed: this.allowed,
      denied: this.denied,
    };
  }

  /**
   * Verdict for a NEW connection, simply: a non-attached or non-isolated direction allows; else
   * policy entries in `order` (first allow/deny wins, pass skips), then learned entries (egress),
   * then deny. Emits a decision event. The full tier semantics live in src/policy.
   */
  decide(
    endpoint: string,
    direction: Direction,
    peer: string,
    protocol: 'tcp' | 'udp' | 'sctp',
    port: number,
    now = this.clock(),
  ): 'allow' | 'deny' {
    const spec = this.endpoints.get(endpoint);
    let verdict: 'allow' | 'deny' = 'allow';
    let by: string | undefined;
    if (spec !== undefined && spec.isolated[direction]) {
      verdict = 'deny';
      const family = isIP(peer) === 6 ? 'ipv6' : 'ipv4';
      const candidates = [...this.policy.values()]
        .filter((c) => c.entry.endpoint === endpoint && c.entry.direction === direction)
        .sort((a, b) => a.entry.order - b.entry.order);
      let decided = false;
      for (const { entry, block } of candidates) {
        if (entry.protocol !== 'any' && entry.protocol !== protocol) continue;
        if (port < entry.portStart || port > entry.portEnd) continue;
        if (!block.check(peer, family)) continue;
        if (entry.verdict === 'pass') continue;
        verdict = entry.verdict;
        by = entry.id;
        decided = true;
        break;
      }
      if (!decided && direction === 'egress') {
        const l = this.learnedAllowing(endpoint, peer, now);
        if (l !== undefined) {
          verdict = 'allow';
          by = `learned:${l.name}`;
        }
      }
    }
    if (verdict === 'allow') this.allowed++;
    else this.denied++;
    const event: DatapathEvent = { at: now, endpoint, direction, verdict, peer, protocol, port, by };
    for (const l of this.listeners) l(event);
    return verdict;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}

function blockOf(entry: PolicyEntry): BlockList {
  const slash = entry.cidr.lastIndexOf('/');
  const addr = slash < 0 ? entry.cidr : entry.cidr.slice(0, slash);
  const family = isIP(addr);
  const prefix = slash < 0 ? (family === 6 ? 128 : 32) : Number(entry.cidr.slice(slash + 1));
  if (family === 0) throw new MemoryApplyError(entry.id, 'cidr', `not an address: ${entry.cidr}`);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
    throw new MemoryApplyError(entry.id, 'cidr', `bad prefix length: ${entry.cidr}`);
  }
  const block = new BlockList();
  block.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
  return block;
}
