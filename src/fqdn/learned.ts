// Learned IPs (SEMANTICS.md section 5): which destination IPs a pod may reach because it resolved a
// name through dnsgate, until when, within per-name and per-pod caps. Pure: time is a parameter.
import { IndexedMinHeap } from './heap.js';
import { normalizeName } from './pattern.js';

/** One learning: `pod` is "namespace/name", `name` normalised, `expiresAt` in ms since the epoch. */
export interface LearnedIP {
  pod: string;
  name: string;
  ip: string;
  expiresAt: number;
}

export interface TTLBounds {
  minTTL: number;
  maxTTL: number;
}

export const DEFAULT_TTL_BOUNDS: Readonly<TTLBounds> = Object.freeze({ minTTL: 60, maxTTL: 86400 });

export interface LearnedLimits {
  maxIPsPerName?: number;
  maxLearnedPerPod?: number;
}

export const DEFAULT_LEARNED_LIMITS: Readonly<Required<LearnedLimits>> = Object.freeze({
  maxIPsPerName: 1000,
  maxLearnedPerPod: 10000,
});

export class LearnedConfigError extends Error {
  override readonly name = 'LearnedConfigError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(`${field}=${String(value)}: ${reason}`);
  }
}

/** One batch alone holds more addresses than a cap allows: nothing of it was learned. */
export class LearnedCapError extends Error {
  override readonly name = 'LearnedCapError';
  constructor(
    readonly pod: string,
    readonly qname: string,
    readonly limit: 'maxIPsPerName' | 'maxLearnedPerPod',
    readonly max: number,
  ) {
    super(`${pod} ${qname}: one answer holds more than ${limit}=${max} addresses`);
  }
}

// RFC 2181 section 8: a TTL with the top bit set is to be treated as zero.
const MAX_TTL_SECONDS = 0x7fffffff;

/** arrival + clamp(ttl, minTTL, maxTTL) seconds, in ms. */
export function learnedExpiry(arrivalMs: number, ttlSeconds: number, bounds: TTLBounds = DEFAULT_TTL_BOUNDS): number {
  const { minTTL, maxTTL } = bounds;
  if (!(Number.isFinite(minTTL) && minTTL >= 0)) throw new LearnedConfigError('minTTL', minTTL, 'must be a finite number >= 0');
  if (!(Number.isFinite(maxTTL) && maxTTL >= minTTL)) throw new LearnedConfigError('maxTTL', maxTTL, `must be a finite number >= minTTL (${minTTL})`);
  const ttl = Number.isFinite(ttlSeconds) && ttlSeconds >= 0 && ttlSeconds <= MAX_TTL_SECONDS ? ttlSeconds : 0;
  return arrivalMs + Math.min(Math.max(ttl, minTTL), maxTTL) * 1000;
}

export interface AddResult {
  /** Entries new to the store and still in it after the call. */
  added: LearnedIP[];
  /** Entries already stored whose expiry this call extended (and still in the store). */
  refreshed: LearnedIP[];
  /**
   * Entries removed by a cap, oldest-expiring first; never an entry of the same call. The datapath
   * allows (pod, ip) while any name holds it, so forgetting (pod, name, ip) refs is safe.
   */
  evicted: LearnedIP[];
}

const GLOBAL = 0;
const BY_POD = 1;
const BY_NAME = 2;

interface Rec {
  readonly pod: string;
  readonly name: string;
  readonly ip: string;
  expiresAt: number;
  // Learning order breaks expiry ties, so eviction is deterministic.
  seq: number;
  readonly heapIndex: number[];
}

const expiresFirst = (a: Rec, b: Rec): boolean => a.expiresAt < b.expiresAt || (a.expiresAt === b.expiresAt && a.seq < b.seq);

interface NameState {
  readonly ips: Map<string, Rec>;
  readonly heap: IndexedMinHeap<Rec>;
}

interface PodState {
  readonly names: Map<string, NameState>;
  // ip -> name -> record: answers has()/namesFor() without scanning the pod's names.
  readonly byIP: Map<string, Map<string, Rec>>;
  readonly heap: IndexedMinHeap<Rec>;
}

function toPublic(r: Rec): LearnedIP {
  return { pod: r.pod, name: r.name, ip: r.ip, expiresAt: r.expiresAt };
}

/**
 * The learned (pod, name, ip) -> expiry store. An entry is live while `now < expiresAt`. Learned IPs
 * are per pod: nothing one pod learned ever answers for another.
 */
export class LearnedStore {
  readonly maxIPsPerName: number;
  readonly maxLearnedPerPod: number;
  private readonly pods = new Map<string, PodState>();
  private readonly byExpiry = new IndexedMinHeap<Rec>(GLOBAL, expiresFirst);
  private seq = 0;

  constructor(limits: LearnedLimits = {}) {
    this.maxIPsPerName = checkLimit('maxIPsPerName', limits.maxIPsPerName ?? DEFAULT_LEARNED_LIMITS.maxIPsPerName);
    this.maxLearnedPerPod = checkLimit('maxLearnedPerPod', limits.maxLearnedPerPod ?? DEFAULT_LEARNED_LIMITS.maxLearnedPerPod);
  }

  get size(): number {
    return this.byExpiry.size;
  }

  /**
   * Learns a batch (normally one DNS answer). Re-learning a stored (pod, name, ip) extends its
   * expiry, never shortens it. Entries already expired at `now` are ignored. Over a cap the
   * oldest-expiring entries of that (pod, name), then of that pod, are evicted, but never an
   * entry of this batch: the caller is about to hand those addresses to the pod. A batch that
   * alone exceeds a cap throws LearnedCapError and changes nothing (see `checkFits`).
   */
  add(entries: readonly LearnedIP[], now: number): AddResult {
    this.checkFits(entries, now);
    const batch = new Set<Rec>();
    const added = new Set<Rec>();
    const refreshed = new Set<Rec>();
    // Sets iterate in first-touch order, so evictions are deterministic.
    const touchedNames = new Set<NameState>();
    const touchedPods = new Set<PodState>();
    for (const entry of entries) {
      if (!(entry.expiresAt > now)) continue;
      const name = normalizeName(entry.name);
      let pod = this.pods.get(entry.pod);
      if (pod === undefined) {
        pod = { names: new Map(), byIP: new Map(), heap: new IndexedMinHeap<Rec>(BY_POD, expiresFirst) };
        this.pods.set(entry.pod, pod);
      }
      let ns = pod.names.get(name);
      if (ns === undefined) {
        ns = { ips: new Map(), heap: new IndexedMinHeap<Rec>(BY_NAME, expiresFirst) };
        pod.names.set(name, ns);
      }
      touchedPods.add(pod);
      touchedNames.add(ns);
      const existing = ns.ips.get(entry.ip);
      if (existing !== undefined) {
        batch.add(existing);
        if (entry.expiresAt > existing.expiresAt) {
          existing.expiresAt = entry.expiresAt;
          existing.seq = ++this.seq;
          this.byExpiry.update(existing);
          pod.heap.update(existing);
          ns.heap.update(existing);
          if (!added.has(existing)) refreshed.add(existing);
        }
        continue;
      }
      const rec: Rec = { pod: entry.pod, name, ip: entry.ip, expiresAt: entry.expiresAt, seq: ++this.seq, heapIndex: [-1, -1, -1] };
      ns.ips.set(rec.ip, rec);
      let names = pod.byIP.get(rec.ip);
      if (names === undefined) {
        names = new Map();
        pod.byIP.set(rec.ip, names);
      }
      names.set(name, rec);
      ns.heap.push(rec);
      pod.heap.push(rec);
      this.byExpiry.push(rec);
      batch.add(rec);
      added.add(rec);
    }
    const evicted: LearnedIP[] = [];
    const evict = (victim: Rec): void => {
      this.removeRec(victim);
      evicted.push(toPublic(victim));
    };
    for (const ns of touchedNames) evictDown(ns.heap, this.maxIPsPerName, batch, evict);
    for (const pod of touchedPods) evictDown(pod.heap, this.maxLearnedPerPod, batch, evict);
    return { added: [...added].map(toPublic), refreshed: [...refreshed].map(toPublic), evicted };
  }

  /**
   * Throws LearnedCapError when `entries` (those live at `now`) alone hold more addresses for one
   * (pod, name) than maxIPsPerName or for one pod than maxLearnedPerPod: no eviction can make room.
   */
  checkFits(entries: readonly LearnedIP[], now: number): void {
    if (entries.length <= Math.min(this.maxIPsPerName, this.maxLearnedPerPod)) return;
    const perName = new Map<string, Set<string>>();
    const perPod = new Map<string, Set<string>>();
    for (const e of entries) {
      if (!(e.expiresAt > now)) continue;
      const name = normalizeName(e.name);
      const nameKey = `${e.pod}\u0000${name}`;
      let ips = perName.get(nameKey);
      if (ips === undefined) perName.set(nameKey, (ips = new Set()));
      ips.add(e.ip);
      if (ips.size > this.maxIPsPerName) throw new LearnedCapError(e.pod, name, 'maxIPsPerName', this.maxIPsPerName);
      let keys = perPod.get(e.pod);
      if (keys === undefined) perPod.set(e.pod, (keys = new Set()));
      keys.add(`${name}\u0000${e.ip}`);
      if (keys.size > this.maxLearnedPerPod) throw new LearnedCapError(e.pod, name, 'maxLearnedPerPod', this.maxLearnedPerPod);
    }
  }

  /** The stored expiry of exactly (pod, name, ip), live or not; undefined when not stored. */
  expiryOf(pod: string, name: string, ip: string): number | undefined {
    return this.pods.get(pod)?.names.get(normalizeName(name))?.ips.get(ip)?.expiresAt;
  }

  /** Whether `pod` may reach `ip` at `now` through any name it learned. */
  has(pod: string, ip: string, now: number): boolean {
    const names = this.pods.get(pod)?.byIP.get(ip);
    if (names === undefined) return false;
    for (const rec of names.values()) if (rec.expiresAt > now) return true;
    return false;
  }

  /** The latest expiry of (pod, ip) over all names, live or not; undefined when none is stored. */
  expiryFor(pod: string, ip: string): number | undefined {
    const names = this.pods.get(pod)?.byIP.get(ip);
    if (names === undefined) return undefined;
    let latest: number | undefined;
    for (const rec of names.values()) if (latest === undefined || rec.expiresAt > latest) latest = rec.expiresAt;
    return latest;
  }

  /** The names through which `pod` learned `ip` that are live at `now`, sorted. */
  namesFor(pod: string, ip: string, now: number): string[] {
    const names = this.pods.get(pod)?.byIP.get(ip);
    if (names === undefined) return [];
    const out: string[] = [];
    for (const rec of names.values()) if (rec.expiresAt > now) out.push(rec.name);
    return out.sort();
  }

  /** Copies of the stored entries (expired ones not yet swept included), of one pod or all. */
  entries(pod?: string): LearnedIP[] {
    const out: LearnedIP[] = [];
    const states = pod === undefined ? this.pods.values() : [this.pods.get(pod)].filter((s) => s !== undefined);
    for (const state of states) for (const ns of state.names.values()) for (const rec of ns.ips.values()) out.push(toPublic(rec));
    return out;
  }

  /** Forgets everything `pod` learned (the pod is gone) and returns it. */
  removePod(pod: string): LearnedIP[] {
    const state = this.pods.get(pod);
    if (state === undefined) return [];
    const out: LearnedIP[] = [];
    for (const ns of state.names.values()) {
      for (const rec of ns.ips.values()) {
        this.byExpiry.remove(rec);
        out.push(toPublic(rec));
      }
    }
    this.pods.delete(pod);
    return out;
  }

  /** Removes up to `maxWork` entries with `expiresAt <= now`, earliest first; O(1) when none is due. */
  sweep(now: number, maxWork: number): LearnedIP[] {
    const out: LearnedIP[] = [];
    while (out.length < maxWork) {
      const top = this.byExpiry.peek();
      if (top === undefined || top.expiresAt > now) break;
      this.removeRec(top);
      out.push(toPublic(top));
    }
    return out;
  }

  private removeRec(rec: Rec): void {
    this.byExpiry.remove(rec);
    const pod = this.pods.get(rec.pod);
    if (pod === undefined) return;
    pod.heap.remove(rec);
    const ns = pod.names.get(rec.name);
    if (ns !== undefined) {
      ns.heap.remove(rec);
      ns.ips.delete(rec.ip);
      if (ns.ips.size === 0) pod.names.delete(rec.name);
    }
    const names = pod.byIP.get(rec.ip);
    if (names !== undefined) {
      names.delete(rec.name);
      if (names.size === 0) pod.byIP.delete(rec.ip);
    }
    // Not the heap size: evictDown may have lifted this pod's batch records out of its heap.
    if (pod.names.size === 0) this.pods.delete(rec.pod);
  }
}

/**
 * Removes the oldest-expiring records outside `keep` until `heap` holds at most `limit`. Records
 * of `keep` met on the way are lifted out and put back, so they are skipped, not evicted.
 */
function evictDown(heap: IndexedMinHeap<Rec>, limit: number, keep: ReadonlySet<Rec>, evict: (victim: Rec) => void): void {
  const lifted: Rec[] = [];
  while (heap.size + lifted.length > limit) {
    const top = heap.peek();
    if (top === undefined) break;
    if (keep.has(top)) {
      heap.remove(top);
      lifted.push(top);
    } else {
      evict(top);
    }
  }
  for (const rec of lifted) heap.push(rec);
}

function checkLimit(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new LearnedConfigError(field, value, 'must be an integer >= 1');
  return value;
}
