// An immutable prefix map that shares structure between versions: a version is a base map plus a
// small delta of replaced/removed entries. An incremental recompile that touches a few prefixes of
// a 5000-prefix table then costs a few map writes, not a copy, and diff() between two versions of
// one table walks only their deltas. The delta is folded into a new base once it grows past a
// fraction of the base, so lookups stay two map probes and the amortised cost stays small.
//
// A node holds hundreds of thousands of prefixes whose rule lists are shared (thousands of /32s
// carry the same list), so a prefix is stored as just its key and a reference to the shared list;
// the PrefixEntry object is made when read (its address and length are in the key).
import type { CompiledRule, PrefixEntry } from './types.js';

/** A shared rule list with its compact text (what PrefixEntry.rules/key hold). */
export interface SharedList {
  readonly rules: readonly CompiledRule[];
  readonly key: string;
}

/** What the table stores per prefix: a full entry, or a shared list to be keyed by the cidr. */
export type Stored = PrefixEntry | SharedList;

/** Entries removed relative to the base are recorded as null. */
type Delta = ReadonlyMap<string, Stored | null>;

function familyOf(cidr: string): 4 | 6 {
  return cidr.includes(':') ? 6 : 4;
}

function materialise(cidr: string, v: Stored): PrefixEntry {
  if ('cidr' in v) return v;
  const slash = cidr.lastIndexOf('/');
  return { cidr, family: familyOf(cidr), addr: cidr.slice(0, slash), prefixLen: Number(cidr.slice(slash + 1)), rules: v.rules, key: v.key };
}

const EMPTY_DELTA: Delta = new Map();

export interface FamilyCounts {
  readonly 4: number;
  readonly 6: number;
}

function countFamilies(map: ReadonlyMap<string, Stored>): FamilyCounts {
  let v4 = 0;
  let v6 = 0;
  for (const k of map.keys()) if (familyOf(k) === 4) v4++;
  else v6++;
  return { 4: v4, 6: v6 };
}

export class PrefixTable implements ReadonlyMap<string, PrefixEntry> {
  private constructor(
    private readonly base: ReadonlyMap<string, Stored>,
    private readonly delta: Delta,
    /** Entries per address family (the node-wide LPM capacity is per family). */
    readonly counts: FamilyCounts,
  ) {}

  static of(map: ReadonlyMap<string, Stored>): PrefixTable {
    return new PrefixTable(map, EMPTY_DELTA, countFamilies(map));
  }

  static readonly EMPTY = PrefixTable.of(new Map());

  get size(): number {
    return this.counts[4] + this.counts[6];
  }

  /** The stored value (no entry object is made): what the compiler compares versions by. */
  stored(key: string): Stored | undefined {
    const d = this.delta.get(key);
    if (d !== undefined) return d ?? undefined;
    return this.base.get(key);
  }

  get(key: string): PrefixEntry | undefined {
    const v = this.stored(key);
    return v === undefined ? undefined : materialise(key, v);
  }

  has(key: string): boolean {
    return this.stored(key) !== undefined;
  }

  /** Rule-list keys per prefix without making entry objects. */
  *listKeys(): Generator<[string, string]> {
    for (const [k, v] of this.storedEntries()) yield [k, v.key];
  }

  /** A new version with `changes` applied (null removes); unchanged entries keep their objects. */
  with(changes: ReadonlyMap<string, Stored | null>): PrefixTable {
    if (changes.size === 0) return this;
    const delta = new Map(this.delta);
    let v4 = this.counts[4];
    let v6 = this.counts[6];
    let touched = false;
    for (const [key, next] of changes) {
      const before = this.stored(key);
      if (before === (next ?? undefined)) continue;
      touched = true;
      const fam = familyOf(key);
      const step = (next ? 1 : 0) - (before ? 1 : 0);
      if (fam === 4) v4 += step;
      else v6 += step;
      const inBase = this.base.get(key);
      // Back to what the base holds: the delta forgets the key (add-then-remove leaves no trace).
      if ((next ?? undefined) === inBase) delta.delete(key);
      else delta.set(key, next);
    }
    if (!touched) return this;
    const counts = { 4: v4, 6: v6 };
    if (delta.size > 64 && delta.size * 4 > this.base.size) {
      const map = new Map<string, Stored>();
      const t = new PrefixTable(this.base, delta, counts);
      for (const [k, v] of t.storedEntries()) map.set(k, v);
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

  private *storedEntries(): Generator<[string, Stored]> {
    for (const [k, v] of this.base) {
      const d = this.delta.get(k);
      if (d === undefined) yield [k, v];
      else if (d !== null) yield [k, d];
    }
    for (const [k, d] of this.delta) if (d !== null && !this.base.has(k)) yield [k, d];
  }

  *entries(): MapIterator<[string, PrefixEntry]> {
    for (const [k, v] of this.storedEntries()) yield [k, materialise(k, v)];
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.storedEntries()) yield k;
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
