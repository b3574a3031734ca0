// The learned side shared by both backends: the proxy's (pod, name, ip, expiry) entries and the
// (endpoint id, FQDN slot, ip) -> expiry keys they program (dg_learned). Several names of one pod
// can map to the same key (two names answering one IP, two slots matching one name), so each key
// holds the latest expiry of the names behind it and goes away only when the last one does:
// forgetting one name never cuts an IP another live name still holds.
//
// Keys are derived per (pod, ip) group: the group's names, each placed in the slots of the
// current compilation whose patterns match it (src/compile slotsForLearned). A new compilation
// re-derives the groups of pods whose endpoint id or slots changed.
//
// `learn` is on the DNS proxy's per-answer path, so it costs O(entries x slots of the name), not
// O(names in the group) nor O(slots of the pod): a learn only raises expiries, so a key changes
// only where the learned name's expiry now exceeds it; a refreshed name keeps the slots it got
// (valid until setNode re-derives them); a new name's slots come from a per-pod index of the
// slot patterns. Removals (forget, sweep, setNode) re-derive their groups in full.
import { isIP } from 'node:net';
import { slotsForLearned } from '../compile/slots.js';
import type { CompiledEndpoint, CompiledNode } from '../compile/types.js';
import { addrBytes, addrText } from './ebpf/layout.js';
import { MinHeap } from './min-heap.js';
import type { DomainRuleRef, LearnedEntry, LearnedRef } from './types.js';

export interface KeyWrite {
  readonly epId: number;
  readonly slot: number;
  readonly ip: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export interface KeyDelete {
  readonly epId: number;
  readonly slot: number;
  readonly ip: string;
}

export interface KeyChanges {
  readonly upsert: KeyWrite[];
  readonly remove: KeyDelete[];
}

interface NameRecord {
  readonly group: Group;
  readonly name: string;
  expiresAt: number;
  rules: readonly DomainRuleRef[];
  /** The slots of the current compilation whose patterns match `name` (setNode re-derives them). */
  slots: readonly number[];
}

interface Group {
  readonly pod: string;
  readonly ip: string;
  readonly names: Map<string, NameRecord>;
  /** What the keys of this group currently are (as last handed out in KeyChanges). */
  written: { epId: number; bySlot: Map<number, number> } | undefined;
}

/**
 * What the last `learn` changed, oldest first, so a failed backend write can be reverted. Parallel
 * arrays reused from call to call: the journal costs no allocation on the per-answer path.
 */
class Journal {
  /** Records touched, with their expiry and rules before (NaN expiry: the learn created it). */
  readonly recs: NameRecord[] = [];
  readonly recExpiry: number[] = [];
  readonly recRules: (readonly DomainRuleRef[])[] = [];
  /** Keys raised, with their expiry before (NaN: the learn created the key). */
  readonly keyGroups: Group[] = [];
  readonly keySlots: number[] = [];
  readonly keyExpiry: number[] = [];
  /** How many of the arrays' first items belong to the last learn (the arrays are not shrunk). */
  recCount = 0;
  keyCount = 0;
  /** Bumped on every learn: an undo is only valid for the learn that made it. */
  generation = 0;

  reset(): void {
    this.generation++;
    this.recCount = 0;
    this.keyCount = 0;
  }

  record(rec: NameRecord, created: boolean): void {
    const i = this.recCount++;
    this.recs[i] = rec;
    this.recExpiry[i] = created ? Number.NaN : rec.expiresAt;
    this.recRules[i] = rec.rules;
  }

  key(group: Group, slot: number, prev: number | undefined): void {
    const i = this.keyCount++;
    this.keyGroups[i] = group;
    this.keySlots[i] = slot;
    this.keyExpiry[i] = prev ?? Number.NaN;
  }
}

/** An undo called after another change to the table (it would revert the wrong state). */
export class StaleUndoError extends Error {
  override readonly name = 'StaleUndoError';
  constructor(
    readonly generation: number,
    readonly current: number,
  ) {
    super(`undo of learn #${generation} called after learn #${current}: only the latest learn can be undone`);
  }
}

const V6_CACHE_LIMIT = 4096;
const v6Canonical = new Map<string, string>();

/** Whether `s` is an IPv4 address in canonical dotted-decimal form (no leading zeros). */
function isCanonicalV4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39 || (digits === 1 && value === 0) || digits === 3) return false;
    value = value * 10 + (c - 0x30);
    digits++;
  }
  return parts === 4;
}

/** The canonical text of an IP, or undefined when it is not one. */
export function canonicalIp(ip: string): string | undefined {
  // Answers carry canonical text already (src/dns/answer.ts): check it without parsing.
  if (isCanonicalV4(ip)) return ip;
  const cached = v6Canonical.get(ip);
  if (cached !== undefined) return cached;
  if (isIP(ip) === 0) return undefined;
  const text = addrText(addrBytes(ip));
  if (isIP(ip) === 6) {
    if (v6Canonical.size >= V6_CACHE_LIMIT) v6Canonical.clear();
    v6Canonical.set(ip, text);
  }
  return text;
}

function endpointSignature(node: CompiledNode | null, ep: CompiledEndpoint | undefined): string {
  if (!node || !ep) return '';
  return `${ep.epId}|${ep.slots.map((s) => `${s}:${node.slots.get(s)?.patterns.join(',') ?? ''}`).join(';')}`;
}

const NOT_PLAIN = /[A-Z]|\.$/;
const NO_SLOTS: readonly number[] = Object.freeze([]);

/**
 * The slots of one endpoint by pattern: exact names, and wildcard suffixes (`*.example.com` under
 * `.example.com`), so a name's slots cost one lookup per label instead of one match per slot.
 * Same answer as slotsForLearned (same order); patterns or names not in normalized form go to it.
 */
class SlotIndex {
  private readonly exact = new Map<string, number[]>();
  private readonly wild = new Map<string, number[]>();
  private readonly position = new Map<number, number>();
  private readonly plain: boolean;

  constructor(
    private readonly node: CompiledNode,
    private readonly pod: string,
  ) {
    const ep = node.endpoints.get(pod);
    let plain = true;
    ep?.slots.forEach((s, i) => {
      if (!this.position.has(s)) this.position.set(s, i);
      for (const p of node.slots.get(s)?.patterns ?? []) {
        if (NOT_PLAIN.test(p)) plain = false;
        const [map, key] = p.startsWith('*.') ? [this.wild, p.slice(1)] : [this.exact, p];
        const list = map.get(key);
        if (list === undefined) map.set(key, [s]);
        else if (!list.includes(s)) list.push(s);
      }
    });
    this.plain = plain;
  }

  slotsOf(name: string): readonly number[] {
    if (!this.plain || NOT_PLAIN.test(name)) return slotsForLearned(this.node, this.pod, name);
    let out: number[] | undefined;
    const add = (list: readonly number[] | undefined): void => {
      if (list === undefined) return;
      if (out === undefined) out = [...list];
      else for (const s of list) if (!out.includes(s)) out.push(s);
    };
    add(this.exact.get(name));
    if (this.wild.size > 0) {
      // A wildcard needs at least one character before its suffix: dots from position 1 on.
      for (let i = name.indexOf('.', 1); i > 0; i = name.indexOf('.', i + 1)) add(this.wild.get(name.slice(i)));
    }
    if (out === undefined) return NO_SLOTS;
    if (out.length > 1) out.sort((a, b) => this.position.get(a)! - this.position.get(b)!);
    return out;
  }
}

function entryOf(rec: NameRecord): LearnedEntry {
  return { pod: rec.group.pod, name: rec.name, ip: rec.group.ip, expiresAt: rec.expiresAt, rules: rec.rules };
}

export class LearnedTable {
  /** pod -> ip -> group (two levels: no key string built per lookup). */
  private readonly byPod = new Map<string, Map<string, Group>>();
  /**
   * Every live record once, keyed by an expiry it had (never later than its current one): a
   * refresh does not touch the heap; sweep re-queues a refreshed record under its new expiry.
   */
  private readonly heap = new MinHeap<NameRecord>();
  private node: CompiledNode | null = null;
  private readonly slotIndexes = new Map<string, SlotIndex>();
  private readonly journal = new Journal();
  private records = 0;
  private keys = 0;

  /** (pod, name, ip) entries held. */
  get size(): number {
    return this.records;
  }

  /** (endpoint, slot, ip) keys currently derived. */
  get keyCount(): number {
    return this.keys;
  }

  /**
   * Inserts or refreshes entries (an expiry is never shortened). Returns the key changes and an
   * undo that restores what this call changed (and returns the changes that revert the keys), for
   * a backend whose write failed; only before the next learn (else StaleUndoError).
   */
  learn(entries: readonly LearnedEntry[]): { changes: KeyChanges; undo: () => KeyChanges } {
    const journal = this.journal;
    journal.reset();
    const generation = journal.generation;
    const { changes, full } = this.apply(entries, journal);
    return { changes, undo: this.revert.bind(this, generation, full) };
  }

  /** `learn` for a backend whose write cannot fail (no undo kept). */
  learnFinal(entries: readonly LearnedEntry[]): KeyChanges {
    this.journal.reset();
    return this.apply(entries, undefined).changes;
  }

  private apply(entries: readonly LearnedEntry[], journal: Journal | undefined): { changes: KeyChanges; full: ReadonlySet<Group> | undefined } {
    const upsert: KeyWrite[] = [];
    let full: Set<Group> | undefined;
    for (const e of entries) {
      const ip = canonicalIp(e.ip) ?? e.ip;
      let pod = this.byPod.get(e.pod);
      if (!pod) this.byPod.set(e.pod, (pod = new Map()));
      let g = pod.get(ip);
      if (!g) pod.set(ip, (g = { pod: e.pod, ip, names: new Map(), written: undefined }));
      let rec = g.names.get(e.name);
      if (rec === undefined) {
        rec = { group: g, name: e.name, expiresAt: e.expiresAt, rules: e.rules, slots: this.slotsOf(e.pod, e.name) };
        g.names.set(e.name, rec);
        this.records++;
        this.heap.push(rec.expiresAt, rec);
        journal?.record(rec, true);
      } else {
        journal?.record(rec, false);
        rec.rules = e.rules;
        if (e.expiresAt <= rec.expiresAt) continue;
        rec.expiresAt = e.expiresAt;
      }
      if (rec.slots.length === 0) continue;
      const epId = this.node?.endpoints.get(e.pod)?.epId;
      if (epId === undefined || (g.written !== undefined && g.written.epId !== epId)) {
        // Not reachable while setNode keeps every group on its pod's current id; stay exact anyway.
        (full ??= new Set()).add(g);
        continue;
      }
      const w = (g.written ??= { epId, bySlot: new Map() });
      for (const slot of rec.slots) {
        const cur = w.bySlot.get(slot);
        if (cur !== undefined && cur >= rec.expiresAt) continue;
        journal?.key(g, slot, cur);
        if (cur === undefined) this.keys++;
        w.bySlot.set(slot, rec.expiresAt);
        upsert.push({ epId, slot, ip, expiresAt: rec.expiresAt });
      }
    }
    let changes: KeyChanges = { upsert: entries.length > 1 ? lastWriteOfEachKey(upsert) : upsert, remove: [] };
    if (full !== undefined) {
      const more = this.recompute(full);
      changes = { upsert: lastWriteOfEachKey([...changes.upsert, ...more.upsert]), remove: more.remove };
    }
    this.compactHeap();
    return { changes, full };
  }

  forget(refs: readonly LearnedRef[]): KeyChanges {
    const touched = new Set<Group>();
    for (const r of refs) {
      const g = this.byPod.get(r.pod)?.get(canonicalIp(r.ip) ?? r.ip);
      if (g?.names.delete(r.name)) {
        this.records--;
        touched.add(g);
      }
    }
    return this.recompute(touched);
  }

  /** Every entry of a pod (the endpoint is gone). */
  forgetPod(pod: string): { refs: LearnedRef[]; changes: KeyChanges } {
    const refs: LearnedRef[] = [];
    for (const g of this.byPod.get(pod)?.values() ?? []) for (const rec of g.names.values()) refs.push({ pod, name: rec.name, ip: g.ip });
    return { refs, changes: this.forget(refs) };
  }

  /** Switches to a new compilation: re-derives the keys of pods whose endpoint id or slots changed. */
  setNode(next: CompiledNode): KeyChanges {
    const prev = this.node;
    this.node = next;
    this.slotIndexes.clear();
    const touched = new Set<Group>();
    for (const [pod, groups] of this.byPod) {
      if (endpointSignature(prev, prev?.endpoints.get(pod)) === endpointSignature(next, next.endpoints.get(pod))) continue;
      for (const g of groups.values()) {
        for (const rec of g.names.values()) rec.slots = this.slotsOf(pod, rec.name);
        touched.add(g);
      }
    }
    return this.recompute(touched);
  }

  /**
   * Removes entries expired at `now` (expiresAt <= now), at most `maxWork` of them, oldest
   * first; returns what was removed and the key changes.
   */
  sweep(now: number, maxWork: number): { removed: LearnedRef[]; changes: KeyChanges } {
    const removed: LearnedRef[] = [];
    let pops = 0;
    // Forgotten records and refreshed ones (re-queued) cost a pop each; bound them too.
    while (removed.length < maxWork && pops < maxWork * 4) {
      const k = this.heap.peekKey();
      if (k === undefined || k > now) break;
      const rec = this.heap.pop() as NameRecord;
      pops++;
      if (rec.group.names.get(rec.name) !== rec) continue;
      if (rec.expiresAt > now) {
        this.heap.push(rec.expiresAt, rec);
        continue;
      }
      removed.push({ pod: rec.group.pod, name: rec.name, ip: rec.group.ip });
    }
    return { removed, changes: this.forget(removed) };
  }

  /** The live entry of `pod` for `ip` (any name), if any. */
  liveFor(pod: string, ip: string, now: number): LearnedEntry | undefined {
    const g = this.byPod.get(pod)?.get(canonicalIp(ip) ?? ip);
    for (const rec of g?.names.values() ?? []) if (now < rec.expiresAt) return entryOf(rec);
    return undefined;
  }

  entriesOf(pod: string): LearnedEntry[] {
    const out: LearnedEntry[] = [];
    for (const g of this.byPod.get(pod)?.values() ?? []) for (const rec of g.names.values()) out.push(entryOf(rec));
    return out;
  }

  /** Every key as currently derived (for a backend that rebuilds its view). */
  *allKeys(): Generator<KeyWrite> {
    for (const g of this.groups()) {
      if (!g.written) continue;
      for (const [slot, expiresAt] of g.written.bySlot) yield { epId: g.written.epId, slot, ip: g.ip, expiresAt };
    }
  }

  private slotsOf(pod: string, name: string): readonly number[] {
    if (this.node === null || !this.node.endpoints.has(pod)) return NO_SLOTS;
    let index = this.slotIndexes.get(pod);
    if (index === undefined) this.slotIndexes.set(pod, (index = new SlotIndex(this.node, pod)));
    return index.slotsOf(name);
  }

  /** Every group of every pod. */
  private *groups(): Generator<Group> {
    for (const groups of this.byPod.values()) yield* groups.values();
  }

  /** Undoes one learn (newest change first) and returns the key changes that revert it. */
  private revert(generation: number, full: ReadonlySet<Group> | undefined): KeyChanges {
    const j = this.journal;
    if (j.generation !== generation) throw new StaleUndoError(generation, j.generation);
    j.generation++;
    const restored = new Map<Group, Set<number>>();
    for (let i = j.keyCount - 1; i >= 0; i--) {
      const group = j.keyGroups[i]!;
      const slot = j.keySlots[i]!;
      const prev = j.keyExpiry[i]!;
      const w = group.written;
      if (w === undefined) continue;
      if (Number.isNaN(prev)) {
        if (w.bySlot.delete(slot)) this.keys--;
      } else w.bySlot.set(slot, prev);
      let set = restored.get(group);
      if (!set) restored.set(group, (set = new Set()));
      set.add(slot);
    }
    const groups = new Set<Group>(restored.keys());
    for (let i = j.recCount - 1; i >= 0; i--) {
      const rec = j.recs[i]!;
      const prev = j.recExpiry[i]!;
      groups.add(rec.group);
      if (!Number.isNaN(prev)) {
        rec.expiresAt = prev;
        rec.rules = j.recRules[i]!;
      } else if (rec.group.names.get(rec.name) === rec) {
        rec.group.names.delete(rec.name);
        this.records--;
      }
    }
    const upsert: KeyWrite[] = [];
    const remove: KeyDelete[] = [];
    for (const [g, slots] of restored) {
      const w = g.written!;
      for (const slot of slots) {
        const exp = w.bySlot.get(slot);
        if (exp === undefined) remove.push({ epId: w.epId, slot, ip: g.ip });
        else upsert.push({ epId: w.epId, slot, ip: g.ip, expiresAt: exp });
      }
    }
    for (const g of groups) {
      if (g.written?.bySlot.size === 0) g.written = undefined;
      if (g.names.size === 0) this.dropGroup(g);
    }
    if (full !== undefined && full.size > 0) {
      const more = this.recompute(full);
      return { upsert: lastWriteOfEachKey([...upsert, ...more.upsert]), remove: [...remove, ...more.remove] };
    }
    return { upsert, remove };
  }

  private dropGroup(g: Group): void {
    const pod = this.byPod.get(g.pod);
    if (pod?.get(g.ip) !== g) return;
    pod.delete(g.ip);
    if (pod.size === 0) this.byPod.delete(g.pod);
  }

  /** Re-derives the keys of `touched` groups in full (a group no longer held only loses its keys). */
  private recompute(touched: ReadonlySet<Group>): KeyChanges {
    const upsert: KeyWrite[] = [];
    const remove: KeyDelete[] = [];
    for (const g of touched) {
      if (g.written === undefined && g.names.size === 0 && this.byPod.get(g.pod)?.get(g.ip) !== g) continue;
      const desired = new Map<number, number>();
      for (const rec of g.names.values()) {
        for (const s of rec.slots) desired.set(s, Math.max(desired.get(s) ?? -Infinity, rec.expiresAt));
      }
      const epId = this.node?.endpoints.get(g.pod)?.epId;
      let w = g.written;
      if (w && (epId === undefined || w.epId !== epId)) {
        for (const slot of w.bySlot.keys()) remove.push({ epId: w.epId, slot, ip: g.ip });
        this.keys -= w.bySlot.size;
        w = undefined;
      }
      for (const [slot, expiresAt] of desired) {
        if (epId !== undefined && w?.bySlot.get(slot) !== expiresAt) upsert.push({ epId, slot, ip: g.ip, expiresAt });
      }
      for (const slot of w?.bySlot.keys() ?? []) if (!desired.has(slot)) remove.push({ epId: w!.epId, slot, ip: g.ip });
      this.keys += (epId !== undefined ? desired.size : 0) - (w?.bySlot.size ?? 0);
      g.written = epId !== undefined && desired.size > 0 ? { epId, bySlot: desired } : undefined;
      if (g.names.size === 0) this.dropGroup(g);
    }
    // An id moving between pods (A's old id is B's new one) writes and deletes the same key: the
    // write wins, since the backend writes before it deletes.
    if (upsert.length > 0 && remove.length > 0) {
      const written = new Set(upsert.map((k) => `${k.epId}|${k.slot}|${k.ip}`));
      return { upsert, remove: remove.filter((k) => !written.has(`${k.epId}|${k.slot}|${k.ip}`)) };
    }
    return { upsert, remove };
  }

  private compactHeap(): void {
    if (this.heap.size <= 2 * this.records + 1024) return;
    this.heap.clear();
    for (const g of this.groups()) for (const rec of g.names.values()) this.heap.push(rec.expiresAt, rec);
  }
}

/** One write per key, the last one (a learn's writes of one key only grow). */
function lastWriteOfEachKey(writes: readonly KeyWrite[]): KeyWrite[] {
  if (writes.length < 2) return [...writes];
  const last = new Map<string, KeyWrite>();
  for (const k of writes) {
    const id = `${k.epId}|${k.slot}|${k.ip}`;
    last.delete(id);
    last.set(id, k);
  }
  return [...last.values()];
}
