// Compiled domain-pattern matcher: a reversed-label trie whose edges live in one open-addressing
// hash table keyed by (parent node, label hash). A lookup walks the name from its end, hashing each
// label as it scans for the dot, so it costs O(characters of the name) = O(labels), allocates
// nothing (no split, no substring, no toLowerCase), and does not depend on the number of patterns.
import { normalizeName } from './pattern.js';

const EMPTY: readonly never[] = Object.freeze([]);
const ROOT = 0;
const DOT = 0x2e;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

// DNS names compare case-insensitively over ASCII only (RFC 4343).
function foldAscii(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
}

function slotOf(parent: number, labelHash: number): number {
  let x = Math.imul(parent + 1, 0x9e3779b1) ^ labelHash;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  return x;
}

/** FNV-1a over the folded characters of name[start, end), last character first. */
function hashLabel(name: string, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = end - 1; i >= start; i--) h = Math.imul(h ^ foldAscii(name.charCodeAt(i)), FNV_PRIME);
  return h;
}

/**
 * Maps domain patterns (exact `api.example.com` or wildcard `*.example.com`, already validated) to
 * values. `match(name)` returns the values of every pattern matching the name, most specific first:
 * the exact pattern, then wildcards from the longest base to the shortest. Matching is
 * case-insensitive and ignores one trailing dot of the name.
 */
export class DomainMatcher<T> {
  /** Number of (pattern, value) entries the matcher was built from. */
  readonly size: number;
  private readonly parents: Int32Array;
  // Results are precomputed per node, so a lookup returns a shared frozen array and allocates
  // nothing. withAncestors[n] = values of the wildcards at n and above, most specific first;
  // exactResult[n] = values of the exact pattern n, then of the wildcards strictly above n.
  private readonly withAncestors: (readonly T[])[];
  private readonly exactResult: (readonly T[])[];
  // Open addressing, 4 ints per slot so one probe touches one cache line:
  // [parent + 1 (0 = empty), label hash, child id, offset of the label in labelText].
  private readonly slots: Int32Array;
  private readonly mask: number;
  // Every label followed by '.', which no label contains: a '.' after the compared characters
  // proves the lengths are equal.
  private readonly labelText: string;

  constructor(entries: Iterable<readonly [pattern: string, value: T]>) {
    const parents: number[] = [-1];
    const hashes: number[] = [0];
    const labels: string[] = [''];
    const exact: T[][] = [];
    const wild: T[][] = [];
    const edges = new Map<string, number>();
    let size = 0;
    for (const [rawPattern, value] of entries) {
      const pattern = normalizeName(rawPattern);
      const isWild = pattern.startsWith('*.');
      const base = isWild ? pattern.slice(2) : pattern;
      let node = ROOT;
      for (let end = base.length; end >= 0; ) {
        const start = base.lastIndexOf('.', end - 1) + 1;
        const label = base.slice(start, end);
        const key = `${node}\u0000${label}`;
        let child = edges.get(key);
        if (child === undefined) {
          child = parents.length;
          parents.push(node);
          hashes.push(hashLabel(base, start, end));
          labels.push(label);
          edges.set(key, child);
        }
        node = child;
        end = start - 1;
      }
      const bucket = isWild ? wild : exact;
      (bucket[node] ??= []).push(value);
      size++;
    }
    this.size = size;
    this.parents = Int32Array.from(parents);
    // Parents always get lower ids than their children, so one pass in id order sees them first.
    this.withAncestors = new Array<readonly T[]>(parents.length);
    this.exactResult = new Array<readonly T[]>(parents.length);
    for (let id = 0; id < parents.length; id++) {
      const above = id === ROOT ? EMPTY : this.withAncestors[parents[id]!]!;
      this.withAncestors[id] = concatFrozen(wild[id], above);
      this.exactResult[id] = concatFrozen(exact[id], above);
    }
    let capacity = 16;
    while (capacity < parents.length * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.slots = new Int32Array(capacity * 4);
    const text: string[] = [];
    let textLength = 0;
    for (let id = 1; id < parents.length; id++) {
      let slot = slotOf(parents[id]!, hashes[id]!) & this.mask;
      while (this.slots[slot * 4] !== 0) slot = (slot + 1) & this.mask;
      const at = slot * 4;
      this.slots[at] = parents[id]! + 1;
      this.slots[at + 1] = hashes[id]!;
      this.slots[at + 2] = id;
      this.slots[at + 3] = textLength;
      text.push(labels[id]!, '.');
      textLength += labels[id]!.length + 1;
    }
    // join() gives one flat string; a += chain would leave a rope for every lookup to walk.
    this.labelText = text.join('');
  }

  /** Values of every pattern matching `name`, most specific first; empty when none. Do not mutate. */
  match(name: string): readonly T[] {
    let end = name.length;
    if (end > 0 && name.charCodeAt(end - 1) === DOT) end--;
    let node = ROOT;
    for (;;) {
      let h = FNV_OFFSET;
      let start = end;
      while (start > 0) {
        const c = name.charCodeAt(start - 1);
        if (c === DOT) break;
        h = Math.imul(h ^ foldAscii(c), FNV_PRIME);
        start--;
      }
      const child = this.child(node, h, name, start, end);
      if (child < 0) {
        // The name goes on to the left of `node`: its wildcards and those above apply. Only the
        // root has no label, and only a name like ".a.b" leaves an empty label at start 0.
        return node === ROOT ? EMPTY : end >= 1 ? this.withAncestors[node]! : this.withAncestors[this.parents[node]!]!;
      }
      if (start === 0) return this.exactResult[child]!;
      node = child;
      end = start - 1;
    }
  }

  matches(name: string): boolean {
    return this.match(name).length > 0;
  }

  private child(parent: number, h: number, name: string, start: number, end: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const tag = parent + 1;
    let slot = slotOf(parent, h) & mask;
    for (;;) {
      const at = slot * 4;
      const owner = slots[at]!;
      if (owner === 0) return -1;
      if (owner === tag && slots[at + 1] === h && this.labelIs(slots[at + 3]!, name, start, end)) return slots[at + 2]!;
      slot = (slot + 1) & mask;
    }
  }

  private labelIs(offset: number, name: string, start: number, end: number): boolean {
    const text = this.labelText;
    const n = end - start;
    if (offset + n >= text.length || text.charCodeAt(offset + n) !== DOT) return false;
    for (let i = 0; i < n; i++) {
      if (text.charCodeAt(offset + i) !== foldAscii(name.charCodeAt(start + i))) return false;
    }
    return true;
  }
}

function concatFrozen<T>(own: readonly T[] | undefined, above: readonly T[]): readonly T[] {
  if (own === undefined || own.length === 0) return above;
  return Object.freeze(above.length === 0 ? [...own] : [...own, ...above]);
}
