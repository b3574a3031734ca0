// One endpoint direction's LPM table, kept between compilations: every prefix some rule
// contributes, each carrying the rules of all prefixes containing it (the datapath does ONE
// longest-prefix lookup, so a narrower prefix must repeat what broader ones say).
//
// The few non-host prefixes (CIDRs, default routes) go into a binary trie in one pass, parents
// first, each with the merged items of its ancestors. A host prefix (pod /32, ClusterIP) then
// needs one trie walk to its deepest non-host ancestor plus its own items; the rule list is
// memoised on (ancestor, own items), so the thousands of /32s that see the same rules cost one
// list build. A pod change recomputes just the host prefixes it touched. Overflow or an
// inexpressible order replaces the whole direction with the fail-closed fallback.
import { type IPAddress, parseIP } from '../policy/ip.js';
import { hostCidr } from '../policy/cidr.js';
import { AmbiguousFqdnOrder, type CompileDiagnostic, RuleListOverflow } from './diagnostics.js';
import type { OrderedRule } from './order.js';
import { PrefixTable, type SharedList, type Stored } from './prefix-table.js';
import { type ListItem, buildRuleList, ruleListKey } from './rule-list.js';
import { IMPLICIT_ALLOW, fallbackTable, prefixEntry } from './tables.js';
import type { DirName, DirectionTable } from './types.js';
import { type BoxSet, type PrefixInfo, type RuleVariant, isHostKey, v4OfKey } from './variants.js';

interface Own {
  readonly rule: OrderedRule;
  readonly set: BoxSet;
}

interface NonHost {
  readonly id: number;
  readonly prefix: PrefixInfo;
  /** Items of this prefix and all its ancestors, by rule position. */
  readonly items: readonly ListItem[];
}

interface TrieNode {
  c0?: TrieNode;
  c1?: TrieNode;
  n?: NonHost;
}

/** A memoised list: stored as is in the table (the shared list of every prefix that has it). */
/** Why a direction falls back, for the endpoint it is reported for (a state may serve several). */
type Failure = (endpoint: string) => CompileDiagnostic;

type Built = ({ readonly ok: true } & SharedList) | { readonly ok: false; readonly diagnostic: (cidr: string) => Failure };

class Fallback extends Error {
  constructor(readonly failure: Failure) {
    super('fallback');
  }
}

function bit(p: PrefixInfo, i: number): number {
  if (p.cidr.family === 4) return (p.v4 >>> (31 - i)) & 1;
  return Number((p.cidr.base >> BigInt(127 - i)) & 1n);
}

/** Merges two item lists sorted by rule position; a rule present in both gets both box lists. */
function mergeItems(a: readonly ListItem[], b: readonly ListItem[]): ListItem[] {
  if (a.length === 0) return [...b];
  if (b.length === 0) return [...a];
  const out: ListItem[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x && (!y || x.rule.pos < y.rule.pos)) {
      out.push(x);
      i++;
    } else if (y && (!x || y.rule.pos < x.rule.pos)) {
      out.push(y);
      j++;
    } else if (x && y) {
      out.push({ rule: x.rule, boxes: [...x.boxes, ...y.boxes] });
      i++;
      j++;
    }
  }
  return out;
}

function ownItems(own: readonly Own[]): ListItem[] {
  return own.map((o) => ({ rule: o.rule, boxes: o.set.boxes }));
}

export class DirectionState {
  table: DirectionTable;
  /** Set while the table is the fail-closed fallback. */
  private failureOf: Failure | null = null;
  /** The endpoints whose direction this is: pods with the same rules share one state and table. */
  readonly users = new Set<string>();
  private roots: { 4: TrieNode; 6: TrieNode } = { 4: {}, 6: {} };
  /** Host lists by (deepest non-host ancestor, own-items node); non-host lists are not memoised. */
  private memo = new Map<number, Built>();
  /**
   * Own-item lists of host prefixes as nodes of a trie of (position, box set) steps, so a list's
   * identity is one number built without allocating (node 0 = the empty list).
   */
  private sigs: { next: number; pairs: Map<number, number>; steps: Map<number, number> } = { next: 1, pairs: new Map(), steps: new Map() };
  private failed: { key: string; failure: Failure } | null = null;
  private readonly implicitKeys: Set<string>;

  /**
   * `from`: the endpoint's previous state, when it differs from this one only in the variants at
   * some positions and those contribute host prefixes only (a policy's rule edited): the trie,
   * the memo and the table carry over and just those prefixes are recomputed. Else `previous`:
   * the table a fresh build shares unchanged entries with.
   */
  constructor(
    readonly dir: DirName,
    readonly isolated: boolean,
    readonly ordered: readonly OrderedRule[],
    readonly variants: readonly RuleVariant[],
    readonly implicit: readonly IPAddress[],
    readonly maxRules: number,
    /** What the state is built from (see Compiler.shapeKey): equal shapes give equal tables. */
    readonly shape: string,
    init: { readonly previous?: DirectionTable; readonly from?: { readonly state: DirectionState; readonly keys: Iterable<string> } },
  ) {
    this.implicitKeys = new Set(implicit.map((ip) => prefixEntry(hostCidr(ip), IMPLICIT_ALLOW).cidr));
    if (init.from) {
      const old = init.from.state;
      this.roots = old.roots;
      this.memo = old.memo;
      this.sigs = old.sigs;
      this.table = old.table;
      this.failureOf = old.failureOf;
      this.refresh(init.from.keys);
    } else this.table = this.build(init.previous);
  }

  /** Whether `next` (same endpoint direction) equals this state up to the variants at some positions. */
  sameShape(isolated: boolean, ordered: readonly OrderedRule[], implicit: readonly IPAddress[]): boolean {
    if (isolated !== this.isolated || ordered.length !== this.ordered.length || implicit.length !== this.implicit.length) return false;
    if (implicit.some((ip, i) => ip.value !== this.implicit[i]?.value || ip.family !== this.implicit[i]?.family)) return false;
    return ordered.every((r, i) => {
      const o = this.ordered[i] as OrderedRule;
      return (
        r.tier === o.tier && r.action === o.action && r.rank === o.rank && r.policyPos === o.policyPos && r.evalIdx === o.evalIdx &&
        r.multi === o.multi && r.policyRef === o.policyRef && r.ruleId === o.ruleId
      );
    });
  }

  /** The id of a (position, box set) step: small, so a trie edge is one numeric map key. */
  private pair(pos: number, set: number): number {
    const code = pos * 0x80000000 + set;
    let p = this.sigs.pairs.get(code);
    if (p === undefined) this.sigs.pairs.set(code, (p = this.sigs.pairs.size + 1));
    return p;
  }

  private step(node: number, pair: number): number {
    const code = node * 0x100000 + pair;
    let n = this.sigs.steps.get(code);
    if (n === undefined) this.sigs.steps.set(code, (n = this.sigs.next++));
    return n;
  }

  private makeList(items: readonly ListItem[], family: 4 | 6): Built {
    const res = buildRuleList(items, family);
    // A memoised list serves many prefixes: the diagnostic names the one it is reported for.
    if (!res.ok) return { ok: false, diagnostic: (cidr) => (endpoint) => new AmbiguousFqdnOrder(endpoint, this.dir, cidr, res.policies) };
    if (res.rules.length > this.maxRules) {
      const policies = [...new Set(items.map((i) => i.rule.policyRef))];
      const count = res.rules.length;
      return { ok: false, diagnostic: (cidr) => (endpoint) => new RuleListOverflow(endpoint, this.dir, cidr, count, this.maxRules, policies) };
    }
    return { ok: true, rules: res.rules, key: ruleListKey(res.rules) };
  }

  /** The list of host prefix `cidr` whose own items are trie node `sig`. */
  private hostList(cidr: string, sig: number, own: () => readonly Own[]): Built {
    const family = cidr.includes(':') ? 6 : 4;
    const anc = this.deepest(cidr, family);
    // Ancestor ids are unique per table; no ancestor is -3 (IPv4) or -4 (IPv6).
    const key = (anc ? anc.id : -family / 2 - 1) * 0x4000000 + sig;
    let b = this.memo.get(key);
    if (!b) this.memo.set(key, (b = this.makeList(mergeItems(anc?.items ?? [], ownItems(own())), family)));
    return b;
  }

  /** The diagnostic of the first-sorting failed prefix since the last reset (a method: TS narrows fields). */
  private failure(): Failure | undefined {
    return this.failed?.failure;
  }

  /** What made the direction fall back, as reported for one of its endpoints. */
  diagnosticsFor(endpoint: string): CompileDiagnostic[] {
    return this.failureOf ? [this.failureOf(endpoint)] : [];
  }

  private entry(cidr: string, built: Built, previous: PrefixTable | undefined): Stored {
    if (!built.ok) {
      // Report the failing prefix that sorts first, so the diagnostic does not depend on history.
      if (!this.failed || cidr < this.failed.key) this.failed = { key: cidr, failure: built.diagnostic(cidr) };
      return built as unknown as Stored;
    }
    const old = previous?.stored(cidr);
    if (old && old.key === built.key) return old;
    return built;
  }

  /** The deepest non-host prefix containing host prefix `cidr` (read from its key). */
  private deepest(cidr: string, family: 4 | 6): NonHost | undefined {
    let node: TrieNode | undefined = this.roots[family];
    let best = node.n;
    if (family === 4) {
      const v = v4OfKey(cidr);
      for (let i = 0; i < 32; i++) {
        node = ((v >>> (31 - i)) & 1) === 0 ? node.c0 : node.c1;
        if (!node) break;
        if (node.n) best = node.n;
      }
      return best;
    }
    const v = parseIP(cidr.slice(0, cidr.lastIndexOf('/'))).value;
    for (let i = 0; i < 128; i++) {
      node = ((v >> BigInt(127 - i)) & 1n) === 0n ? node.c0 : node.c1;
      if (!node) break;
      if (node.n) best = node.n;
    }
    return best;
  }

  private hostEntry(cidr: string, own: readonly Own[], previous: PrefixTable | undefined): Stored {
    let sig = 0;
    for (const o of own) sig = this.step(sig, this.pair(o.rule.pos, o.set.id));
    return this.entry(cidr, this.hostList(cidr, sig, () => own), previous);
  }

  /** The contributions at one prefix, in position order. */
  private ownAt(key: string): Own[] {
    const own: Own[] = [];
    for (let i = 0; i < this.ordered.length; i++) {
      const set = (this.variants[i] as RuleVariant).entries.get(key);
      if (set) own.push({ rule: this.ordered[i] as OrderedRule, set });
    }
    return own;
  }

  private build(previous: DirectionTable | undefined): DirectionTable {
    const prev = previous && !previous.fallback && previous.prefixes instanceof PrefixTable ? previous.prefixes : undefined;
    this.failed = null;
    try {
      // Host prefixes are many and mostly alike: first only their own-item signatures (positions
      // and box sets), items are gathered for the prefixes whose list is not memoised yet.
      const hostSig = new Map<string, number>();
      const nonHost = new Map<string, { prefix: PrefixInfo; own: Own[] }>();
      for (let i = 0; i < this.ordered.length; i++) {
        const rule = this.ordered[i] as OrderedRule;
        // Most entries of a variant share one box set: its step id is looked up once per run.
        let lastSet: BoxSet | null = null;
        let pair = 0;
        const variant = this.variants[i] as RuleVariant;
        for (const [k, set] of variant.entries) {
          if (isHostKey(k)) {
            if (set !== lastSet) {
              lastSet = set;
              pair = this.pair(rule.pos, set.id);
            }
            hostSig.set(k, this.step(hostSig.get(k) ?? 0, pair));
          } else {
            const e = nonHost.get(k);
            if (e) e.own.push({ rule, set });
            else nonHost.set(k, { prefix: variant.cidrs.get(k) as PrefixInfo, own: [{ rule, set }] });
          }
        }
      }
      const out = new Map<string, Stored>();
      this.roots = { 4: {}, 6: {} };
      const sorted = [...nonHost.values()].sort((a, b) => a.prefix.cidr.prefixLength - b.prefix.cidr.prefixLength);
      let id = 0;
      for (const e of sorted) {
        // Parents are inserted before children (shorter first): the deepest node on the path is the parent.
        let node = this.roots[e.prefix.cidr.family];
        let parent: NonHost | undefined;
        for (let i = 0; i < e.prefix.cidr.prefixLength; i++) {
          if (node.n) parent = node.n;
          if (bit(e.prefix, i) === 0) node = node.c0 ??= {};
          else node = node.c1 ??= {};
        }
        const items = mergeItems(parent?.items ?? [], ownItems(e.own));
        const n: NonHost = { id: ++id, prefix: e.prefix, items };
        node.n = n;
        if (!this.implicitKeys.has(e.prefix.key)) out.set(e.prefix.key, this.entry(e.prefix.key, this.makeList(items, e.prefix.cidr.family), prev));
      }
      for (const [k, sig] of hostSig) {
        if (this.implicitKeys.has(k)) continue;
        out.set(k, this.entry(k, this.hostList(k, sig, () => this.ownAt(k)), prev));
      }
      for (const ip of this.implicit) {
        const e = prefixEntry(hostCidr(ip), IMPLICIT_ALLOW);
        const old = prev?.stored(e.cidr);
        out.set(e.cidr, old && old.key === e.key ? old : e);
      }
      const failed = this.failure();
      if (failed) throw new Fallback(failed);
      this.failureOf = null;
      if (!prev) return { isolated: this.isolated, prefixes: PrefixTable.of(out), fallback: false };
      const changes = new Map<string, Stored | null>();
      for (const [k, e] of out) if (prev.stored(k) !== e) changes.set(k, e);
      for (const k of prev.keys()) if (!out.has(k)) changes.set(k, null);
      return { isolated: this.isolated, prefixes: prev.with(changes), fallback: false };
    } catch (err) {
      if (!(err instanceof Fallback)) throw err;
      this.failureOf = err.failure;
      return fallbackTable({ isolated: this.isolated, implicit: this.implicit });
    }
  }

  /** Recomputes the given host prefixes from the variants' current contributions. */
  refresh(keys: Iterable<string>): void {
    if (this.table.fallback) {
      this.table = this.build(this.table);
      return;
    }
    const prev = this.table.prefixes as PrefixTable;
    const changes = new Map<string, Stored | null>();
    this.failed = null;
    try {
      for (const k of keys) {
        if (this.implicitKeys.has(k) || changes.has(k)) continue;
        const own = this.ownAt(k);
        if (own.length === 0) {
          if (prev.has(k)) changes.set(k, null);
          continue;
        }
        if (!isHostKey(k)) {
          // Only host prefixes follow pods; anything else means the whole table is stale.
          this.table = this.build(this.table);
          return;
        }
        changes.set(k, this.hostEntry(k, own, prev));
        if (this.failure()) {
          // Which prefix the diagnostic names must not depend on the order of changes.
          this.table = this.build(this.table);
          return;
        }
      }
    } catch (err) {
      if (!(err instanceof Fallback)) throw err;
      this.table = this.build(this.table);
      return;
    }
    this.table = { isolated: this.isolated, prefixes: prev.with(changes), fallback: false };
  }
}
