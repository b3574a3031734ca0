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
  private readonly hashes: Int32Array;
  private readonly labels: string[];
  private readonly exact: (readonly T[] | undefined)[];
  private readonly wild: (readonly T[] | undefined)[];
  private readonly table: Int32Array;
  private readonly mask: number;
  // Reused between calls: match() is synchronous, so nothing else can observe it half-filled.
  private readonly found: (readonly T[])[] = [];

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
    this.hashes = Int32Array.from(hashes);
    this.labels = labels;
    this.exact = Array.from({ length: parents.length }, (_, i) => freezeOrUndefined(exact[i]));
    this.wild = Array.from({ length: parents.length }, (_, i) => freezeOrUndefined(wild[i]));
    let capacity = 16;
    while (capacity < parents.length * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.table = new Int32Array(capacity);
    for (let id = 1; id < parents.length; id++) {
      let slot = slotOf(parents[id]!, this.hashes[id]!) & this.mask;
      while (this.table[slot] !== 0) slot = (slot + 1) & this.mask;
      this.table[slot] = id + 1;
    }
  }

  /** Values of every pattern matching `name`, most specific first; empty when none. */
  match(name: string): readonly T[] {
    const found = this.found;
    found.length = 0;
    this.walk(name, found);
    if (found.length === 0) return EMPTY;
    if (found.length === 1) return found[0]!;
    const out: T[] = [];
    for (let i = found.length - 1; i >= 0; i--) for (const v of found[i]!) out.push(v);
    found.length = 0;
    return out;
  }

  matches(name: string): boolean {
    return this.walk(name, undefined);
  }

  // Collects matching value lists least specific first; with no sink, stops at the first match.
  private walk(name: string, sink: (readonly T[])[] | undefined): boolean {
    let end = name.length;
    if (end > 0 && name.charCodeAt(end - 1) === DOT) end--;
    let node = ROOT;
    while (end >= 0) {
      let h = FNV_OFFSET;
      let start = end;
      while (start > 0) {
        const c = name.charCodeAt(start - 1);
        if (c === DOT) break;
        h = Math.imul(h ^ foldAscii(c), FNV_PRIME);
        start--;
      }
      node = this.child(node, h, name, start, end);
      if (node < 0) return false;
      if (start === 0) {
        const values = this.exact[node];
        if (values === undefined) return false;
        if (sink === undefined) return true;
        sink.push(values);
        return true;
      }
      // A wildcard needs at least one character left of the dot before this label.
      const values = start >= 2 ? this.wild[node] : undefined;
      if (values !== undefined) {
        if (sink === undefined) return true;
        sink.push(values);
      }
      end = start - 1;
    }
    return sink !== undefined && sink.length > 0;
  }

  private child(parent: number, h: number, name: string, start: number, end: number): number {
    const mask = this.mask;
    let slot = slotOf(parent, h) & mask;
    for (;;) {
      const entry = this.table[slot]!;
      if (entry === 0) return -1;
      const id = entry - 1;
      if (this.parents[id] === parent && this.hashes[id] === h && this.labelIs(id, name, start, end)) return id;
      slot = (slot + 1) & mask;
    }
  }

  private labelIs(id: number, name: string, start: number, end: number): boolean {
    const label = this.labels[id]!;
    if (label.length !== end - start) return false;
    for (let i = 0; i < label.length; i++) {
      if (label.charCodeAt(i) !== foldAscii(name.charCodeAt(start + i))) return false;
    }
    return true;
  }
}

function freezeOrUndefined<T>(values: T[] | undefined): readonly T[] | undefined {
  return values === undefined ? undefined : Object.freeze(values);
}
