// An immutable prefix map that shares structure between versions: a version is a base map plus a
// small delta of replaced/removed entries. An incremental recompile that touches a few prefixes of
// a 5000-prefix table then costs a few map writes, not a copy, and diff() between two versions of
// one table walks only their deltas. The delta is folded into a new base once it grows past a
// fraction of the base, so lookups stay two map probes and the amortised cost stays small.
import type { PrefixEntry } from './types.js';

/** Entries removed relative to the base are recorded as null. */
type Delta = ReadonlyMap<string, PrefixEntry | null>;

const EMPTY_DELTA: Delta = new Map();

export interface FamilyCounts {
  readonly 4: number;
  readonly 6: number;
}

function countFamilies(map: ReadonlyMap<string, PrefixEntry>): FamilyCounts {
  let v4 = 0;
  let v6 = 0;
  for (const p of map.values()) if (p.family === 4) v4++;
  else v6++;
  return { 4: v4, 6: v6 };
}

export class PrefixTable implements ReadonlyMap<string, PrefixEntry> {
  private constructor(
    private readonly base: ReadonlyMap<string, PrefixEntry>,
    private readonly delta: Delta,
    /** Entries per address family (the node-wide LPM capacity is per family). */
    readonly counts: FamilyCounts,
  ) {}

  static of(map: ReadonlyMap<string, PrefixEntry>): PrefixTable {
    return new PrefixTable(map, EMPTY_DELTA, countFamilies(map));
  }

  static readonly EMPTY = PrefixTable.of(new Map());

  get size(): number {
    return this.counts[4] + this.counts[6];
  }

  get(key: string): PrefixEntry | undefined {
    const d = this.delta.get(key);
    if (d !== undefined) return d ?? undefined;
    return this.base.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** A new version with `changes` applied (null removes); unchanged entries keep their objects. */
  with(changes: ReadonlyMap<string, PrefixEntry | null>): PrefixTable {
    if (changes.size === 0) return this;
    const delta = new Map(this.delta);
    let v4 = this.counts[4];
    let v6 = this.counts[6];
    let touched = false;
    for (const [key, next] of changes) {
      const before = this.get(key);
      if (before === (next ?? undefined)) continue;
      touched = true;
      if (before?.family === 4) v4--;
      else if (before) v6--;
      if (next?.family === 4) v4++;
      else if (next) v6++;
      const inBase = this.base.get(key);
      // Back to what the base holds: the delta forgets the key (add-then-remove leaves no trace).
      if ((next ?? undefined) === inBase) delta.delete(key);
      else delta.set(key, next);
    }
    if (!touched) return this;
    const counts = { 4: v4, 6: v6 };
    if (delta.size > 64 && delta.size * 4 > this.base.size) {
      const map = new Map<string, PrefixEntry>();
      const t = new PrefixTable(this.base, delta, counts);
      for (const [k, v] of t) map.set(k, v);
      return new PrefixTable(map, EMPTY_DELTA, counts);
    }
    return new PrefixTable(this.base, delta, counts);
  }

  /**
   * The keys whose entries may differ between two versions of one table (same base), or null
   * when they do not share a base and every key must be compared.
   */
  static changedKeys(a: ReadonlyMap<string, PrefixEntry>, b: ReadonlyMap<string, PrefixEntry>): Set<string> | null {
    if (!(a instanceof PrefixTable) || !(b instanceof PrefixTable) || a.base !== b.base) return null;
    const keys = new Set(a.delta.keys());
    for (const k of b.delta.keys()) keys.add(k);
    return keys;
  }

  *entries(): MapIterator<[string, PrefixEntry]> {
    for (const [k, v] of this.base) {
      const d = this.delta.get(k);
      if (d === undefined) yield [k, v];
      else if (d !== null) yield [k, d];
    }
    for (const [k, d] of this.delta) if (d !== null && !this.base.has(k)) yield [k, d];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<PrefixEntry> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, PrefixEntry]> {
    return this.entries();
  }

  forEach(cb: (value: PrefixEntry, key: string, map: ReadonlyMap<string, PrefixEntry>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) cb.call(thisArg, v, k, this);
  }
}
