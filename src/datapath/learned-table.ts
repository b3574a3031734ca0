// The learned side shared by both backends: the proxy's (pod, name, ip, expiry) entries and the
// (endpoint id, FQDN slot, ip) -> expiry keys they program (dg_learned). Several names of one pod
// can map to the same key (two names answering one IP, two slots matching one name), so each key
// holds the latest expiry of the names behind it and goes away only when the last one does:
// forgetting one name never cuts an IP another live name still holds.
//
// Keys are derived per (pod, ip) group: the group's names, each placed in the slots of the
// current compilation whose patterns match it (src/compile slotsForLearned). A new compilation
// re-derives the groups of pods whose endpoint id or slots changed.
import { isIP } from 'node:net';
import { slotsForLearned } from '../compile/slots.js';
import type { CompiledEndpoint, CompiledNode } from '../compile/types.js';
import { addrBytes, addrText } from './ebpf/layout.js';
import { MinHeap } from './min-heap.js';
import type { LearnedEntry, LearnedRef } from './types.js';

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
  readonly entry: LearnedEntry;
  readonly slots: readonly number[];
}

interface Group {
  readonly pod: string;
  readonly ip: string;
  names: Map<string, NameRecord>;
  /** What the keys of this group currently are (as last handed out in KeyChanges). */
  written: { epId: number; bySlot: Map<number, number> } | undefined;
}

interface HeapItem {
  readonly group: string;
  readonly name: string;
  readonly expiresAt: number;
}

/** The canonical text of an IP, or undefined when it is not one. */
export function canonicalIp(ip: string): string | undefined {
  if (isIP(ip) === 0) return undefined;
  return addrText(addrBytes(ip));
}

function groupKey(pod: string, ip: string): string {
  return `${pod}\n${ip}`;
}

function endpointSignature(node: CompiledNode | null, ep: CompiledEndpoint | undefined): string {
  if (!node || !ep) return '';
  return `${ep.epId}|${ep.slots.map((s) => `${s}:${node.slots.get(s)?.patterns.join(',') ?? ''}`).join(';')}`;
}

export class LearnedTable {
  private readonly groups = new Map<string, Group>();
  private readonly byPod = new Map<string, Set<string>>();
  private readonly heap = new MinHeap<HeapItem>();
  private node: CompiledNode | null = null;
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
   * undo that restores the touched groups (and returns the changes that revert the keys), for a
   * backend whose write failed.
   */
  learn(entries: readonly LearnedEntry[]): { changes: KeyChanges; undo: () => KeyChanges } {
    const saved = new Map<string, Map<string, NameRecord> | undefined>();
    const touched = new Set<string>();
    for (const e of entries) {
      const ip = canonicalIp(e.ip) ?? e.ip;
      const gk = groupKey(e.pod, ip);
      let g = this.groups.get(gk);
      if (!saved.has(gk)) saved.set(gk, g ? new Map(g.names) : undefined);
      if (!g) {
        g = { pod: e.pod, ip, names: new Map(), written: undefined };
        this.groups.set(gk, g);
        let set = this.byPod.get(e.pod);
        if (!set) this.byPod.set(e.pod, (set = new Set()));
        set.add(gk);
      }
      const prev = g.names.get(e.name);
      const expiresAt = prev && prev.entry.expiresAt > e.expiresAt ? prev.entry.expiresAt : e.expiresAt;
      const entry: LearnedEntry = { ...e, ip, expiresAt };
      g.names.set(e.name, { entry, slots: this.slotsOf(e.pod, e.name) });
      if (!prev) this.records++;
      if (!prev || prev.entry.expiresAt !== expiresAt) this.heap.push(expiresAt, { group: gk, name: e.name, expiresAt });
      touched.add(gk);
    }
    const changes = this.recompute(touched);
    const undo = (): KeyChanges => {
      for (const [gk, names] of saved) {
        const g = this.groups.get(gk);
        if (!g) continue;
        this.records += (names?.size ?? 0) - g.names.size;
        g.names = names ?? new Map();
      }
      return this.recompute(new Set(saved.keys()));
    };
    this.compactHeap();
    return { changes, undo };
  }

  forget(refs: readonly LearnedRef[]): KeyChanges {
    const touched = new Set<string>();
    for (const r of refs) {
      const gk = groupKey(r.pod, canonicalIp(r.ip) ?? r.ip);
      const g = this.groups.get(gk);
      if (g?.names.delete(r.name)) {
        this.records--;
        touched.add(gk);
      }
    }
    return this.recompute(touched);
  }

  /** Every entry of a pod (the endpoint is gone). */
  forgetPod(pod: string): { refs: LearnedRef[]; changes: KeyChanges } {
    const refs: LearnedRef[] = [];
    for (const gk of this.byPod.get(pod) ?? []) {
      for (const rec of this.groups.get(gk)?.names.values() ?? []) refs.push({ pod, name: rec.entry.name, ip: rec.entry.ip });
    }
    return { refs, changes: this.forget(refs) };
  }

  /** Switches to a new compilation: re-derives the keys of pods whose endpoint id or slots changed. */
  setNode(next: CompiledNode): KeyChanges {
    const prev = this.node;
    this.node = next;
    const touched = new Set<string>();
    for (const [pod, gks] of this.byPod) {
      if (endpointSignature(prev, prev?.endpoints.get(pod)) === endpointSignature(next, next.endpoints.get(pod))) continue;
      for (const gk of gks) {
        const g = this.groups.get(gk);
        if (!g) continue;
        for (const [name, rec] of g.names) g.names.set(name, { entry: rec.entry, slots: this.slotsOf(pod, name) });
        touched.add(gk);
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
    // Stale heap items (refreshed or forgotten entries) cost a pop each; bound them too.
    while (removed.length < maxWork && pops < maxWork * 4) {
      const k = this.heap.peekKey();
      if (k === undefined || k > now) break;
      const item = this.heap.pop() as HeapItem;
      pops++;
      const rec = this.groups.get(item.group)?.names.get(item.name);
      if (!rec || rec.entry.expiresAt !== item.expiresAt) continue;
      removed.push({ pod: rec.entry.pod, name: rec.entry.name, ip: rec.entry.ip });
    }
    return { removed, changes: this.forget(removed) };
  }

  /** The live entry of `pod` for `ip` (any name), if any. */
  liveFor(pod: string, ip: string, now: number): LearnedEntry | undefined {
    const g = this.groups.get(groupKey(pod, canonicalIp(ip) ?? ip));
    for (const rec of g?.names.values() ?? []) if (now < rec.entry.expiresAt) return rec.entry;
    return undefined;
  }

  entriesOf(pod: string): LearnedEntry[] {
    const out: LearnedEntry[] = [];
    for (const gk of this.byPod.get(pod) ?? []) for (const rec of this.groups.get(gk)?.names.values() ?? []) out.push(rec.entry);
    return out;
  }

  /** Every key as currently derived (for a backend that rebuilds its view). */
  *allKeys(): Generator<KeyWrite> {
    for (const g of this.groups.values()) {
      if (!g.written) continue;
      for (const [slot, expiresAt] of g.written.bySlot) yield { epId: g.written.epId, slot, ip: g.ip, expiresAt };
    }
  }

  private slotsOf(pod: string, name: string): number[] {
    return this.node ? slotsForLearned(this.node, pod, name) : [];
  }

  private recompute(touched: ReadonlySet<string>): KeyChanges {
    const upsert: KeyWrite[] = [];
    const remove: KeyDelete[] = [];
    for (const gk of touched) {
      const g = this.groups.get(gk);
      if (!g) continue;
      const desired = new Map<number, number>();
      for (const rec of g.names.values()) {
        for (const s of rec.slots) desired.set(s, Math.max(desired.get(s) ?? -Infinity, rec.entry.expiresAt));
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
      if (g.names.size === 0) {
        this.groups.delete(gk);
        const set = this.byPod.get(g.pod);
        set?.delete(gk);
        if (set?.size === 0) this.byPod.delete(g.pod);
      }
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
    for (const [gk, g] of this.groups) for (const [name, rec] of g.names) this.heap.push(rec.entry.expiresAt, { group: gk, name, expiresAt: rec.entry.expiresAt });
  }
}
