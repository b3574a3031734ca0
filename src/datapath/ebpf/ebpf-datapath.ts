// The eBPF datapath: bpf/build/dnsgate.bpf.o loaded through libbpf-ts with its maps pinned under
// one bpffs directory, the two tc programs on each enforced pod's host veth, compilations written
// as LPM entries (new before old, so no packet sees a half-written endpoint), learned IPs in
// dg_learned, decision events from the ring buffer and counters per endpoint.
//
// A restarted agent opens the same pin directory: libbpf reuses the pinned maps (enforcement and
// conntrack keep going), the first applyNode rewrites what the new compilation says and then
// deletes whatever else the maps still hold, and the filters are replaced in place.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer } from 'libbpf-ts';
import type { BpfMap, BpfProgram } from 'libbpf-ts';
import { diff } from '../../compile/diff.js';
import type { CompiledNode, PrefixEntry } from '../../compile/types.js';
import { type KeyChanges, LearnedTable, canonicalIp } from '../learned-table.js';
import type {
  ApplyResult,
  Datapath,
  DatapathCounters,
  DatapathEvent,
  DirectionCounters,
  EndpointCounters,
  IfindexOf,
  LearnedEntry,
  LearnedRef,
} from '../types.js';
import { attachHooks, detachHooks } from './attach.js';
import { EbpfApplyError, EbpfClosedError, EbpfLearnError, EbpfLoadError } from './errors.js';
import { toDatapathEvent } from './events.js';
import {
  MAP,
  OBJECT_FILE,
  PROGRAM,
  decodeCounters,
  decodeLearnedValue,
  encodeCounterKey,
  encodeEndpoint,
  encodeEndpointKey,
  encodeLearnedKey,
  encodeLearnedValue,
  encodePolicyKeyV4,
  encodePolicyKeyV6,
  encodeRuleList,
  monotonicNsFromEpochMs,
} from './layout.js';
import type { DirName, FamilyNumber } from './layout.js';

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/dnsgate';

/** bpf/build/dnsgate.bpf.o of this checkout (src/ and dist/ both sit three levels below the root). */
export function defaultObjectPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', OBJECT_FILE);
}

export interface EbpfDatapathOptions {
  objectPath?: string;
  /** bpffs directory of the pinned maps (created if missing). Default /sys/fs/bpf/dnsgate. */
  pinRoot?: string;
  /** Network namespace of the host veths (a name under /run/netns or a path); default our own. */
  netns?: string;
  /** Attach the programs to endpoint interfaces (default true; false: maps only, for test runs). */
  attachPrograms?: boolean;
  /** Allow events: 0 none (default), 1 every allowed new flow, N about one in N. */
  allowSample?: number;
  /** Tests and benchmarks only: the programs never create conntrack entries. */
  noCtInsert?: boolean;
  /** Epoch milliseconds (learned expiries are on this clock); default Date.now. */
  clock?: () => number;
  /** 'auto' (default): events are read on the event loop; 'manual': only by pollEvents(). */
  events?: 'auto' | 'manual';
  /**
   * After a restart, keep the learned entries found in the pinned map (until they expire) for the
   * (endpoint id, slot) pairs the first compilation still has. Only sound when the caller keeps
   * endpoint ids and FQDN slot numbers across restarts (src/compile `previous`): otherwise a slot
   * number may now mean another rule, so the default drops them (pods re-resolve; established
   * flows continue through conntrack).
   */
  keepAdoptedLearned?: boolean;
  /** Receives ring-buffer failures (consuming stops) and listener exceptions; default: ignored. */
  onEventError?: (err: unknown) => void;
  /** Capacities raised before load (never lower than what pinned maps hold). */
  maxEntries?: Partial<Record<'learned' | 'ct' | 'policyV4' | 'policyV6', number>>;
}

type MapKey = keyof typeof MAP;

interface Attached {
  readonly endpoint: string;
  readonly ifindex: number;
}

function hex(b: Buffer): string {
  return b.toString('hex');
}

function toNumber(c: { allowedPackets: bigint; deniedPackets: bigint; newFlows: bigint; eventsLost: bigint }): DirectionCounters {
  return { allowedPackets: Number(c.allowedPackets), deniedPackets: Number(c.deniedPackets), newFlows: Number(c.newFlows), eventsLost: Number(c.eventsLost) };
}

export class EbpfDatapath implements Datapath {
  readonly pinRoot: string;
  /** True when the maps were reused from pins of an earlier run. */
  readonly adopted: boolean;
  private readonly obj: BpfObject;
  private readonly maps: Record<MapKey, BpfMap>;
  private readonly progs: { fromPod: BpfProgram; toPod: BpfProgram };
  private readonly opts: EbpfDatapathOptions;
  private readonly clock: () => number;
  private readonly table = new LearnedTable();
  private readonly listeners = new Set<(event: DatapathEvent) => void>();
  private ring: RingBuffer | null = null;
  private node: CompiledNode | null = null;
  /** Endpoint key -> the ifindex its dg_endpoints entry (and filters) are on. */
  private readonly placed = new Map<string, Attached>();
  private readonly endpointById = new Map<number, string>();
  /** dg_learned keys found at adoption that no learned name accounts for: kept until they expire. */
  private readonly orphans = new Map<string, bigint>();
  /** ifindex -> endpoint id found in the pinned dg_endpoints at open (empty when not adopted). */
  private readonly adoptedIds = new Map<number, number>();
  /** Walk the maps and delete whatever the compilation does not hold (adoption, failed apply). */
  private reconcile: boolean;
  private closed = false;
  private learnCalls = 0;
  private learnFailures = 0;

  private constructor(opts: EbpfDatapathOptions, obj: BpfObject, pinRoot: string, adopted: boolean) {
    this.opts = opts;
    this.obj = obj;
    this.pinRoot = pinRoot;
    this.adopted = adopted;
    this.reconcile = adopted;
    this.clock = opts.clock ?? Date.now;
    this.maps = {
      endpoints: obj.map(MAP.endpoints),
      policyV4: obj.map(MAP.policyV4),
      policyV6: obj.map(MAP.policyV6),
      learned: obj.map(MAP.learned),
      ct: obj.map(MAP.ct),
      counters: obj.map(MAP.counters),
      events: obj.map(MAP.events),
    };
    this.progs = { fromPod: obj.program(PROGRAM.fromPod), toPod: obj.program(PROGRAM.toPod) };
    if (adopted) {
      for (const [k, v] of this.maps.learned.entries()) this.orphans.set(hex(k), decodeLearnedValue(v));
      for (const [k, v] of this.maps.endpoints.entries()) this.adoptedIds.set(k.readUInt32LE(0), v.readUInt32LE(0));
    }
    this.ring = new RingBuffer(this.maps.events, (rec) => this.dispatch(rec), {
      start: (opts.events ?? 'auto') === 'auto',
      onError: (err) => opts.onEventError?.(err),
    });
  }

  /** Loads the object (reusing pinned maps under pinRoot if an earlier run left them). */
  static open(opts: EbpfDatapathOptions = {}): EbpfDatapath {
    const path = opts.objectPath ?? defaultObjectPath();
    const pinRoot = opts.pinRoot ?? DEFAULT_PIN_ROOT;
    let obj: BpfObject | undefined;
    try {
      mkdirSync(pinRoot, { recursive: true });
      const adopted = existsSync(join(pinRoot, MAP.endpoints));
      obj = BpfObject.open(path, { pinRoot });
      const names = { learned: MAP.learned, ct: MAP.ct, policyV4: MAP.policyV4, policyV6: MAP.policyV6 } as const;
      for (const [k, n] of Object.entries(opts.maxEntries ?? {}) as [keyof typeof names, number][]) obj.setMapMaxEntries(names[k], n);
      obj.load();
      return new EbpfDatapath(opts, obj, pinRoot, adopted);
    } catch (err) {
      obj?.close();
      throw new EbpfLoadError(path, pinRoot, err);
    }
  }

  /**
   * Which endpoint id each interface had when the maps were adopted (ifindex -> id), so a
   * restarted agent can hand the same ids to the compiler and keep the pods' conntrack entries.
   */
  adoptedEndpoints(): ReadonlyMap<number, number> {
    return this.adoptedIds;
  }

  /** The loaded programs (tests and benchmarks run packets through them with testRun). */
  programs(): Readonly<Record<DirName, BpfProgram>> {
    return { egress: this.progs.fromPod, ingress: this.progs.toPod };
  }

  // ---- learning side ------------------------------------------------------------------------

  async learn(entries: readonly LearnedEntry[]): Promise<void> {
    this.learnCalls++;
    try {
      this.live('learn');
      for (const e of entries) if (canonicalIp(e.ip) === undefined) throw new EbpfLearnError(entries.length, `not an IP: ${e.ip}`);
    } catch (err) {
      this.learnFailures++;
      throw err;
    }
    const { changes, undo } = this.table.learn(entries);
    try {
      this.writeLearned(changes);
    } catch (err) {
      this.learnFailures++;
      try {
        this.writeLearned(undo());
      } catch {
        // The entries we could not write are not in the map; the rest expire on their own.
      }
      throw new EbpfLearnError(entries.length, 'dg_learned update failed', err);
    }
  }

  async forget(refs: readonly LearnedRef[]): Promise<void> {
    this.live('forget');
    this.writeLearned(this.table.forget(refs));
  }

  async sweep(now: number, maxWork = 10_000): Promise<LearnedRef[]> {
    this.live('sweep');
    const { removed, changes } = this.table.sweep(now, maxWork);
    this.writeLearned(changes);
    if (this.orphans.size > 0) {
      const mono = monotonicNsFromEpochMs(now, this.clock(), process.hrtime.bigint());
      const dead: Buffer[] = [];
      for (const [k, exp] of this.orphans) {
        if (dead.length >= maxWork) break;
        if (exp <= mono) dead.push(Buffer.from(k, 'hex'));
      }
      if (dead.length > 0) this.maps.learned.deleteBatch(dead);
      for (const k of dead) this.orphans.delete(hex(k));
    }
    return removed;
  }

  private writeLearned(c: KeyChanges): void {
    if (c.upsert.length > 0) {
      const nowMs = this.clock();
      const nowNs = process.hrtime.bigint();
      const batch = c.upsert.map((k) => {
        const key = encodeLearnedKey({ epId: k.epId, fqdnSlot: k.slot, addr: k.ip });
        if (this.orphans.size > 0) this.orphans.delete(hex(key));
        return [key, encodeLearnedValue(monotonicNsFromEpochMs(k.expiresAt, nowMs, nowNs))] as const;
      });
      // One key (a refresh of one name in one slot, the common answer) skips the batch's copies.
      if (batch.length === 1) this.maps.learned.update(batch[0]![0], batch[0]![1]);
      else this.maps.learned.updateBatch(batch);
    }
    if (c.remove.length > 0) {
      const keys = c.remove.map((k) => encodeLearnedKey({ epId: k.epId, fqdnSlot: k.slot, addr: k.ip }));
      if (this.orphans.size > 0) for (const k of keys) this.orphans.delete(hex(k));
      this.maps.learned.deleteBatch(keys);
    }
  }

  // ---- reconciler side ----------------------------------------------------------------------

  async applyNode(next: CompiledNode, ifindexOf: IfindexOf): Promise<ApplyResult> {
    this.live('applyNode');
    // Where each endpoint goes; two endpoints on one interface is a caller bug, refused up front.
    const want = new Map<string, number>();
    const byIfindex = new Map<number, string>();
    const pending: string[] = [];
    for (const key of next.endpoints.keys()) {
      const ifindex = ifindexOf(key);
      if (ifindex === undefined) {
        pending.push(key);
        continue;
      }
      const other = byIfindex.get(ifindex);
      if (other !== undefined) throw new EbpfApplyError('validate', key, new Error(`ifindex ${ifindex} is also given to ${other}`));
      byIfindex.set(ifindex, key);
      want.set(key, ifindex);
    }
    const full = this.reconcile;
    // Until this call completes, a failure leaves maps the next call must walk.
    this.reconcile = true;
    const d = diff(full ? null : this.node, next);
    const learned = this.table.setNode(next);
    let prefixesDeleted = 0;

    // 1. learned keys of new slots, and new or changed prefixes: nothing points at them yet.
    const learnedUpsert = full ? [...this.table.allKeys()] : learned.upsert;
    this.step('learned', 'dg_learned', () => this.writeLearned({ upsert: learnedUpsert, remove: [] }));
    let written = new Set<string>();
    this.step('prefixes', 'dg_policy', () => (written = this.writePrefixes(d.prefixesUpsert)));

    // 2. endpoint configs (and filters) at their interfaces.
    const changedConfig = new Set(d.endpointsUpsert.map((e) => e.endpoint));
    for (const [key, ifindex] of want) {
      const ep = next.endpoints.get(key);
      if (!ep) continue;
      const had = this.placed.get(key);
      if (full || changedConfig.has(key) || had?.ifindex !== ifindex) {
        const cfg = { ...ep.config, allowSample: this.opts.allowSample ?? 0, noCtInsert: this.opts.noCtInsert ?? false };
        this.step('endpoints', key, () => this.maps.endpoints.update(encodeEndpointKey(ifindex), encodeEndpoint(cfg)));
      }
      if ((this.opts.attachPrograms ?? true) && (full || had?.ifindex !== ifindex)) {
        try {
          attachHooks(ifindex, this.progs, this.opts.netns);
        } catch (err) {
          // The veth went away since the caller looked it up (the pod is being deleted): the
          // endpoint waits like one without an ifindex instead of failing the whole node.
          if ((err as { code?: unknown }).code !== 'ENODEV') throw new EbpfApplyError('attach', `${key} ifindex ${ifindex}`, err);
          this.step('endpoints', key, () => this.maps.endpoints.delete(encodeEndpointKey(ifindex)));
          want.delete(key);
          byIfindex.delete(ifindex);
          pending.push(key);
        }
      }
    }

    // 3. old prefixes, then interfaces no endpoint uses any more.
    this.step('prefixes', 'dg_policy', () => (prefixesDeleted += this.deletePrefixes(d.prefixesRemove, written)));
    const stale = new Set<number>();
    for (const [key, a] of this.placed) if (want.get(key) !== a.ifindex) stale.add(a.ifindex);
    for (const ifindex of byIfindex.keys()) stale.delete(ifindex);
    for (const ifindex of stale) this.dropInterface(ifindex);

    // 4. what removed endpoint ids left behind (conntrack, counters), and dead learned keys.
    const liveIds = new Set([...next.endpoints.values()].map((e) => e.epId));
    const goneIds = d.endpointsRemove.map((e) => e.epId).filter((id) => !liveIds.has(id));
    if (goneIds.length > 0) this.step('endpoints', 'dg_ct', () => this.forgetEndpointIds(goneIds));
    this.step('learned', 'dg_learned', () => this.writeLearned({ upsert: [], remove: learned.remove }));
    if (full) this.step('reconcile', 'maps', () => (prefixesDeleted += this.sweepStale(next, byIfindex)));

    this.node = next;
    this.placed.clear();
    for (const [key, ifindex] of want) this.placed.set(key, { endpoint: key, ifindex });
    this.endpointById.clear();
    for (const ep of next.endpoints.values()) this.endpointById.set(ep.epId, ep.key);
    this.reconcile = false;
    return {
      enforced: want.size,
      pending,
      prefixesWritten: d.prefixesUpsert.length,
      prefixesDeleted,
      learnedWritten: learned.upsert.length,
      learnedDeleted: learned.remove.length,
    };
  }

  private step(step: string, object: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      throw err instanceof EbpfApplyError ? err : new EbpfApplyError(step, object, err);
    }
  }

  private policyMap(family: FamilyNumber): BpfMap {
    return family === 4 ? this.maps.policyV4 : this.maps.policyV6;
  }

  private prefixKey(p: { epId: number; dir: DirName; family: FamilyNumber; addr: string; prefixLen: number }): Buffer {
    return p.family === 4 ? encodePolicyKeyV4(p.epId, p.dir, p.addr, p.prefixLen) : encodePolicyKeyV6(p.epId, p.dir, p.addr, p.prefixLen);
  }

  /** Writes prefix entries; returns their keys (hex). */
  private writePrefixes(writes: readonly { epId: number; dir: DirName; family: FamilyNumber; addr: string; prefixLen: number; rules: PrefixEntry['rules'] }[]): Set<string> {
    const keys = new Set<string>();
    for (const family of [4, 6] as const) {
      const batch = writes.filter((w) => w.family === family).map((w) => [this.prefixKey(w), encodeRuleList(w.rules)] as const);
      for (const [k] of batch) keys.add(hex(k));
      if (batch.length > 0) this.policyMap(family).updateBatch(batch);
    }
    return keys;
  }

  /** Deletes prefix entries, except keys just written (an endpoint id that moved to another pod). */
  private deletePrefixes(refs: readonly { epId: number; dir: DirName; family: FamilyNumber; addr: string; prefixLen: number }[], written: ReadonlySet<string>): number {
    let n = 0;
    for (const family of [4, 6] as const) {
      const keys = refs
        .filter((r) => r.family === family)
        .map((r) => this.prefixKey(r))
        .filter((k) => !written.has(hex(k)));
      if (keys.length > 0) n += this.policyMap(family).deleteBatch(keys);
    }
    return n;
  }

  /** Stops enforcing on an interface: its endpoint entry goes first, then dnsgate's filters. */
  private dropInterface(ifindex: number): void {
    this.step('endpoints', `ifindex ${ifindex}`, () => this.maps.endpoints.delete(encodeEndpointKey(ifindex)));
    if (this.opts.attachPrograms ?? true) this.step('detach', `ifindex ${ifindex}`, () => detachHooks(ifindex, this.opts.netns));
  }

  /** A reused endpoint id must not inherit a removed pod's flows or counts. */
  private forgetEndpointIds(ids: readonly number[]): void {
    const gone = new Set(ids);
    const dead = this.maps.ct.keys().filter((k) => gone.has(k.readUInt32LE(0)));
    if (dead.length > 0) this.maps.ct.deleteBatch(dead);
    const zero = Buffer.alloc(this.maps.counters.info.valueSize);
    for (const id of ids) for (const dir of ['egress', 'ingress'] as const) this.maps.counters.update(encodeCounterKey(id, dir), zero);
  }

  /** Deletes every entry the compilation does not account for; returns the prefixes deleted. */
  private sweepStale(next: CompiledNode, byIfindex: ReadonlyMap<number, string>): number {
    const keep = new Set<string>();
    for (const ep of next.endpoints.values()) {
      for (const dir of ['egress', 'ingress'] as const) {
        for (const p of ep[dir].prefixes.values()) keep.add(hex(this.prefixKey({ epId: ep.epId, dir, family: p.family, addr: p.addr, prefixLen: p.prefixLen })));
      }
    }
    let n = 0;
    for (const m of [this.maps.policyV4, this.maps.policyV6]) {
      const dead = m.keys().filter((k) => !keep.has(hex(k)));
      if (dead.length > 0) n += m.deleteBatch(dead);
    }
    for (const k of this.maps.endpoints.keys()) {
      const ifindex = k.readUInt32LE(0);
      if (!byIfindex.has(ifindex)) this.dropInterface(ifindex);
    }
    // Learned keys of slots the compilation no longer has can never match again.
    const slotsOf = new Map<number, Set<number>>();
    for (const ep of next.endpoints.values()) slotsOf.set(ep.epId, new Set(ep.slots));
    const deadLearned: Buffer[] = [];
    for (const k of this.orphans.keys()) {
      const b = Buffer.from(k, 'hex');
      if (!this.opts.keepAdoptedLearned || !slotsOf.get(b.readUInt32LE(0))?.has(b.readUInt32LE(4))) deadLearned.push(b);
    }
    if (deadLearned.length > 0) this.maps.learned.deleteBatch(deadLearned);
    for (const b of deadLearned) this.orphans.delete(hex(b));
    return n;
  }

  // ---- events and counters ------------------------------------------------------------------

  onEvent(listener: (event: DatapathEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads every event waiting in the ring now and delivers it to the listeners; returns how many. */
  pollEvents(): number {
    if (!this.ring) return 0;
    const records = this.ring.consume();
    for (const r of records) this.dispatch(r);
    return records.length;
  }

  private dispatch(record: Buffer): void {
    if (this.listeners.size === 0) return;
    const ev = toDatapathEvent(record, {
      node: this.node,
      endpointOf: (id) => this.endpointById.get(id),
      nowEpochMs: this.clock(),
      nowMonoNs: process.hrtime.bigint(),
    });
    for (const l of this.listeners) l(ev);
  }

  endpointCounters(endpoint: string): EndpointCounters | undefined {
    this.live('endpointCounters');
    const ep = this.node?.endpoints.get(endpoint);
    if (!ep) return undefined;
    const read = (dir: DirName): DirectionCounters =>
      toNumber(decodeCounters(this.maps.counters.lookupPerCpu(encodeCounterKey(ep.epId, dir)) ?? []));
    return { egress: read('egress'), ingress: read('ingress') };
  }

  counters(): DatapathCounters {
    this.live('counters');
    let allowed = 0;
    let denied = 0;
    let prefixes = 0;
    for (const ep of this.node?.endpoints.values() ?? []) {
      prefixes += ep.egress.prefixes.size + ep.ingress.prefixes.size;
      const c = this.endpointCounters(ep.key);
      if (!c) continue;
      allowed += c.egress.allowedPackets + c.ingress.allowedPackets;
      denied += c.egress.deniedPackets + c.ingress.deniedPackets;
    }
    return {
      endpoints: this.placed.size,
      policyEntries: prefixes,
      learnedEntries: this.table.size,
      learnedKeys: this.table.keyCount + this.orphans.size,
      learnCalls: this.learnCalls,
      learnFailures: this.learnFailures,
      allowed,
      denied,
    };
  }

  /** The interface each enforced endpoint is on. */
  enforcedEndpoints(): ReadonlyMap<string, number> {
    return new Map([...this.placed].map(([k, a]) => [k, a.ifindex]));
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /**
   * Releases this process's handles. The pinned maps and the attached filters stay, so the pods
   * stay enforced until a restarted agent adopts them (or `uninstall` runs).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ring?.close();
    this.ring = null;
    this.listeners.clear();
    this.obj.close();
  }

  /** Removes dnsgate from the node: every filter it attached, every endpoint entry, every pin. */
  async uninstall(): Promise<void> {
    this.live('uninstall');
    const ifindexes = new Set([...this.placed.values()].map((a) => a.ifindex));
    for (const k of this.maps.endpoints.keys()) ifindexes.add(k.readUInt32LE(0));
    if (this.opts.attachPrograms ?? true) for (const ifindex of ifindexes) detachHooks(ifindex, this.opts.netns);
    this.maps.endpoints.clear();
    this.placed.clear();
    this.obj.unpinMaps();
    await this.close();
    if (existsSync(this.pinRoot) && readdirSync(this.pinRoot).length === 0) rmSync(this.pinRoot, { recursive: true, force: true });
  }

  private live(op: string): void {
    if (this.closed) throw new EbpfClosedError(op);
  }
}
