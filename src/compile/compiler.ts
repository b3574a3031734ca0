// The incremental compiler: cluster state + local pods -> CompiledNode. What it keeps between calls:
// - ClusterView (cluster-view.ts): pods by key, IP, namespace and named port; Services with their
//   slices and cached backends.
// - SelectionIndex (selections.ts): each distinct pod selection once, members kept current.
// - VariantRegistry (variants.ts): each distinct rule content once, as prefixes with boxes, shared
//   by every endpoint direction using it; a pod, Service or slice change recomputes only the host
//   prefixes (pod /32s, ClusterIPs) it touches, in the variants it can affect.
// - DirectionState (direction.ts): per distinct endpoint direction (pods with the same rules share
//   one), its trie of CIDR ancestors, memoised rule lists and a versioned PrefixTable; changed host
//   prefixes are recomputed alone, an edited policy recomputes where its changed rules contribute.
// So a pod change costs its own endpoint (if local) plus a few prefixes elsewhere, and a policy
// change costs the endpoints it selects, mostly only where its rules changed. A Namespace relabel
// re-selects its pods in place; a Service or EndpointSlice change recomputes its ClusterIPs; a Node
// change (labels or addresses; status updates are ignored) recomputes `nodes` rules at its
// addresses and redoes the local endpoints on it; a change of the local pod set compiles or drops
// just those endpoints. Only a resync goes through replaceState: a full compile whose tables are
// diffed against the last ones.
import type { ClusterNetworkPolicy, ClusterState, EndpointSlice, Namespace, Node, Pod, PolicyObject, Service } from '../api/types.js';
import { objectRef } from '../api/types.js';
import type { NodeEntry, PodEntry } from '../policy/cluster-index.js';
import type { IPAddress } from '../policy/ip.js';
import { formatIP, sameIP, tryParseIP } from '../policy/ip.js';
import {
  type ClusterPolicyModel,
  type Direction,
  type NamespacedPolicyModel,
  type RuleModel,
  clusterPolicyModel,
  comparePolicyNames,
  namespacedPolicyModel,
} from '../policy/model.js';
import { ClusterView, type ServiceView, ipKey } from './cluster-view.js';
import { type CompileDiagnostic, EndpointIdsExhausted, PrefixMapOverflow } from './diagnostics.js';
import { DirectionState } from './direction.js';
import { IdAllocator } from './ids.js';
import { type OrderedRule, type SelectedPolicies, orderRules } from './order.js';
import { PrefixTable } from './prefix-table.js';
import { SelectionIndex, selects } from './selections.js';
import { rulePatterns, slotKey } from './slots.js';
import { fallbackTable } from './tables.js';
import { type RuleVariant, VariantRegistry, serviceIPs } from './variants.js';
import {
  type CompiledEndpoint,
  type CompiledNode,
  DEFAULT_MAX_ENDPOINTS,
  DEFAULT_MAX_PREFIXES_PER_FAMILY,
  DEFAULT_MAX_RULES,
  type DirName,
  type DirectionTable,
  type EndpointConfig,
  FIRST_POLICY_RULE_ID,
  type FqdnSlot,
  type ModeName,
  RESERVED_RULE_ID,
  type RuleRef,
} from './types.js';

/** Which pods this node enforces: those scheduled on a node, or an explicit list of pod keys. */
export type LocalPods = { readonly nodeName: string } | { readonly pods: readonly string[] };

export interface CompileOptions {
  readonly mode: 'standard' | 'strict';
  /** Rules per prefix list (layout.ts MAX_RULES). */
  readonly maxRules?: number;
  /** LPM entries per family for the node (layout.ts POLICY_V4_MAX / POLICY_V6_MAX). */
  readonly maxPrefixesPerFamily?: number;
  /** Endpoint ids are 1..maxEndpoints-1 (layout.ts MAX_ENDPOINTS). */
  readonly maxEndpoints?: number;
  /** An earlier compilation whose endpoint ids, rule ids and FQDN slots are kept (restart adoption). */
  readonly previous?: CompiledNode;
}

type AnyPolicy = ClusterPolicyModel | NamespacedPolicyModel;

const TIER_RANK = { Admin: 0, Baseline: 1 } as const;

function clusterOrder(a: ClusterPolicyModel, b: ClusterPolicyModel): number {
  return TIER_RANK[a.tier] - TIER_RANK[b.tier] || a.priority - b.priority || comparePolicyNames(a, b);
}

function refOrder(a: NamespacedPolicyModel, b: NamespacedPolicyModel): number {
  return a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0;
}

function ruleKey(ref: string, direction: Direction, rule: RuleModel): string {
  return `${ref}|${direction}|${rule.index}`;
}

function policyModel(p: PolicyObject): AnyPolicy {
  return p.kind === 'ClusterNetworkPolicy' ? clusterPolicyModel(p as ClusterNetworkPolicy) : namespacedPolicyModel(p);
}

interface EndpointState {
  compiled: CompiledEndpoint;
  readonly policies: ReadonlySet<string>;
  egress: DirectionState | null;
  ingress: DirectionState | null;
  /** What assemble() last made of `compiled` (itself, or its map-overflow fallback). */
  out?: { readonly from: CompiledEndpoint; readonly ep: CompiledEndpoint };
}

export class Compiler {
  private view!: ClusterView;
  private selections!: SelectionIndex;
  private variants!: VariantRegistry;
  private readonly policies = new Map<string, AnyPolicy>();
  private cluster: ClusterPolicyModel[] = [];
  private namespaced: NamespacedPolicyModel[] = [];
  private readonly epIds: IdAllocator;
  private readonly ruleIds = new IdAllocator(FIRST_POLICY_RULE_ID, 0xffffffff);
  private readonly slotIds = new IdAllocator(1, 0xffffffff, false);
  private readonly ruleRefs = new Map<number, RuleRef>();
  private readonly slots = new Map<number, FqdnSlot>();
  private readonly ruleIdOf = new Map<RuleModel, number>();
  private readonly slotOf = new Map<RuleModel, number>();
  private readonly endpoints = new Map<string, EndpointState>();
  private dirty = new Set<string>();
  /** Endpoint directions with host prefixes to recompute (pod changes elsewhere in the cluster). */
  private stale = new Map<DirectionState, Set<string>>();
  /** Endpoint directions by shape: local pods with the same rules share one state and table. */
  private shared = new Map<string, DirectionState>();
  /**
   * Directions no pod uses any more, kept current (oldest first) for a while: a replaced pod's
   * successor usually has the same rules (a rollout, a restart) and takes the table over as is.
   */
  private idle = new Set<DirectionState>();
  /** Host prefixes pending in idle directions, applied if one is taken over. */
  private idleStale = new Map<DirectionState, Set<string>>();
  /** Bumped when rule refs or slots change, so result() reuses its copies otherwise. */
  private refsVersion = 0;
  private refsCopy: { version: number; slots: ReadonlyMap<number, FqdnSlot>; rules: ReadonlyMap<number, RuleRef> } | null = null;
  /** Local pods left without an endpoint id. */
  private readonly unplaced = new Map<string, CompileDiagnostic>();
  private dirtyAll = true;
  private last: CompiledNode | null = null;
  private readonly maxRules: number;
  private readonly maxPrefixes: number;
  private readonly maxEndpoints: number;

  /** The explicit local pod list as a set (undefined when local pods are those of a node). */
  private localSet: ReadonlySet<string> | undefined;

  constructor(
    state: ClusterState,
    private local: LocalPods,
    private readonly opts: CompileOptions,
  ) {
    this.localSet = 'pods' in local ? new Set(local.pods) : undefined;
    this.maxRules = opts.maxRules ?? DEFAULT_MAX_RULES;
    this.maxPrefixes = opts.maxPrefixesPerFamily ?? DEFAULT_MAX_PREFIXES_PER_FAMILY;
    this.maxEndpoints = opts.maxEndpoints ?? DEFAULT_MAX_ENDPOINTS;
    this.epIds = new IdAllocator(1, this.maxEndpoints - 1);
    const prev = opts.previous;
    if (prev) {
      for (const ep of prev.endpoints.values()) this.epIds.seed(ep.key, ep.epId);
      for (const s of prev.slots.values()) this.slotIds.seed(`${s.policy}/egress/${s.ruleIndex}|${s.patterns.join(',')}`, s.slot);
      for (const r of prev.rules.values()) {
        if (r.policy !== null && r.direction !== null && r.rule !== null) this.ruleIds.seed(`${r.policy}|${r.direction}|${r.note ?? ''}`, r.ruleId);
      }
    }
    this.ruleRefs.set(RESERVED_RULE_ID.fallbackDeny, {
      ruleId: RESERVED_RULE_ID.fallbackDeny, policy: null, direction: null, rule: null, tier: null,
      note: 'fail-closed fallback: the direction could not be compiled exactly (see diagnostics)',
    });
    this.ruleRefs.set(RESERVED_RULE_ID.implicitAllow, {
      ruleId: RESERVED_RULE_ID.implicitAllow, policy: null, direction: null, rule: null, tier: null,
      note: "the pod's own address or its node's address",
    });
    this.replaceState(state);
  }

  // ---- inputs --------------------------------------------------------------------------------

  /** Replaces everything (a resync, or a change the caller cannot name): full recompile, diffed against the last tables. */
  replaceState(state: ClusterState): void {
    this.view = new ClusterView(state);
    this.selections = new SelectionIndex(this.view);
    this.variants = new VariantRegistry(this.view, this.selections);
    // Every endpoint is rebuilt against the new registry; the old directions keep their tables
    // only as the base the new ones are diffed against.
    for (const st of this.endpoints.values()) {
      st.egress = null;
      st.ingress = null;
    }
    this.stale = new Map();
    this.shared = new Map();
    this.idle = new Set();
    this.idleStale = new Map();
    for (const ref of [...this.policies.keys()]) this.unregister(ref);
    for (const p of [...state.clusterNetworkPolicies, ...state.networkPolicies, ...state.applicationNetworkPolicies]) this.register(policyModel(p));
    this.resort();
    this.dirtyAll = true;
  }

  upsertPod(pod: Pod): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const ips = [...(this.view.pods.get(key)?.ips ?? []), ...this.view.podEntry(pod).ips];
    const owners = this.ownersAt(ips);
    const { removed, added } = this.view.upsertPod(pod);
    this.podChanged(removed, added, [...owners, ...this.ownersAt(ips)]);
  }

  removePod(key: string): void {
    const ips = this.view.pods.get(key)?.ips ?? [];
    const owners = this.ownersAt(ips);
    const removed = this.view.removePod(key);
    if (removed) this.podChanged(removed, undefined, [...owners, ...this.ownersAt(ips)]);
  }

  /** A Namespace appeared, changed or went (its labels): its pods are re-selected one by one. */
  upsertNamespace(ns: Namespace): void {
    for (const { removed, added } of this.view.setNamespace(ns.metadata.name, ns)) this.podChanged(removed, added, []);
  }

  removeNamespace(name: string): void {
    for (const { removed, added } of this.view.setNamespace(name, undefined)) this.podChanged(removed, added, []);
  }

  /**
   * A Node appeared, changed or went. Only its labels and addresses matter: rules with a `nodes`
   * peer are recomputed at its old and new addresses, and the local endpoints on it are redone
   * (their node IP and implicitly allowed addresses). A status-only update costs nothing.
   */
  upsertNode(node: Node): void {
    this.nodeChanged(this.view.setNode(node.metadata.name, node));
  }

  removeNode(name: string): void {
    this.nodeChanged(this.view.setNode(name, undefined));
  }

  private nodeChanged(change: { before: NodeEntry | undefined; after: NodeEntry | undefined } | null): void {
    if (change === null || this.dirtyAll) return;
    const name = (change.after ?? change.before)?.name;
    for (const st of this.endpoints.values()) if (this.view.pods.get(st.compiled.key)?.nodeName === name) this.dirty.add(st.compiled.key);
    const ips = new Map<string, IPAddress>();
    for (const n of [change.before, change.after]) for (const ip of n?.addresses ?? []) ips.set(ipKey(ip), ip);
    this.markStale(this.variants.nodeChanged([...ips.values()]));
  }

  /**
   * Which pods this node enforces changed (standalone mode: the pod list; or the node name): the
   * endpoints of pods that joined or left are compiled or dropped, the rest stay as they are.
   */
  setLocalPods(local: LocalPods): void {
    const before = this.local;
    const beforeSet = this.localSet;
    this.local = local;
    this.localSet = 'pods' in local ? new Set(local.pods) : undefined;
    if (this.dirtyAll) return;
    if (beforeSet && this.localSet) {
      for (const k of beforeSet) if (!this.localSet.has(k)) this.dirty.add(k);
      for (const k of this.localSet) if (!beforeSet.has(k)) this.dirty.add(k);
      return;
    }
    if ('nodeName' in before && 'nodeName' in local && before.nodeName === local.nodeName) return;
    for (const key of this.endpoints.keys()) this.dirty.add(key);
    for (const p of this.view.pods.values()) if (this.isLocal(p)) this.dirty.add(p.key);
  }

  /** A Service changed: only its ClusterIP prefixes are recomputed. */
  upsertService(svc: Service): void {
    this.serviceChanged(this.view.setService(`${svc.metadata.namespace}/${svc.metadata.name}`, svc));
  }

  /** `key` is "namespace/name". */
  removeService(key: string): void {
    this.serviceChanged(this.view.setService(key, undefined));
  }

  /** An EndpointSlice changed: the ClusterIP prefixes of its Service (before and after) are recomputed. */
  upsertEndpointSlice(slice: EndpointSlice): void {
    this.serviceChanged(this.view.setSlice(`${slice.metadata.namespace}/${slice.metadata.name}`, slice));
  }

  /** `key` is "namespace/name". */
  removeEndpointSlice(key: string): void {
    this.serviceChanged(this.view.setSlice(key, undefined));
  }

  private serviceChanged(views: readonly (ServiceView | undefined)[]): void {
    if (this.dirtyAll) return;
    this.markStale(this.variants.serviceChanged(serviceIPs(views)));
  }

  private markStale(changed: ReadonlyMap<RuleVariant, readonly string[]>): void {
    for (const [variant, keys] of changed) {
      for (const user of variant.users) {
        const dir = user as DirectionState;
        addAll(this.idle.has(dir) ? this.idleStale : this.stale, dir, keys);
      }
    }
  }

  private ownersAt(ips: readonly IPAddress[]): PodEntry[] {
    return ips.map((ip) => this.view.podAt(ip)).filter((p): p is PodEntry => p !== undefined);
  }

  upsertPolicy(obj: PolicyObject): void {
    const model = policyModel(obj);
    const old = this.policies.get(model.ref);
    if (old) this.unregister(model.ref);
    this.register(model);
    this.resort();
    this.markSubjects([old, model]);
  }

  removePolicy(ref: string): void {
    const old = this.policies.get(ref);
    if (!old) return;
    this.unregister(ref);
    this.resort();
    this.markSubjects([old]);
  }

  /** Removes a policy given as the object (for callers holding objects rather than refs). */
  removePolicyObject(obj: PolicyObject): void {
    this.removePolicy(objectRef(obj));
  }

  // ---- output --------------------------------------------------------------------------------

  result(): CompiledNode {
    if (!this.dirtyAll && this.dirty.size === 0 && this.stale.size === 0 && this.last) return this.last;
    const keys = this.dirtyAll ? new Set([...this.endpoints.keys(), ...[...this.view.pods.values()].filter((p) => this.isLocal(p)).map((p) => p.key)]) : this.dirty;
    for (const key of keys) this.compileEndpoint(key);
    for (const [dir, prefixes] of this.stale) {
      if (dir.users.size === 0) {
        if (this.idle.has(dir)) addAll(this.idleStale, dir, prefixes);
        continue;
      }
      dir.refresh(prefixes);
      const table = dir.table;
      const name = dir.dir;
      for (const user of dir.users) {
        const st = this.endpoints.get(user);
        if (st && st[name] === dir && st.compiled[name] !== table) st.compiled = { ...st.compiled, [name]: table };
      }
    }
    this.stale = new Map();
    this.dirty = new Set();
    this.dirtyAll = false;
    this.last = this.assemble();
    return this.last;
  }

  // ---- internals -----------------------------------------------------------------------------

  private isLocal(pod: PodEntry): boolean {
    return this.localSet ? this.localSet.has(pod.key) : 'nodeName' in this.local && pod.nodeName === this.local.nodeName;
  }

  private register(model: AnyPolicy): void {
    this.refsVersion++;
    this.policies.set(model.ref, model);
    for (const direction of ['Egress', 'Ingress'] as const) {
      for (const rule of direction === 'Egress' ? model.egress : model.ingress) {
        const id = this.ruleIds.acquire(ruleKey(model.ref, direction, rule)) ?? RESERVED_RULE_ID.fallbackDeny;
        this.ruleIdOf.set(rule, id);
        this.ruleRefs.set(id, {
          ruleId: id,
          policy: model.ref,
          direction,
          rule: rule.id,
          tier: model.kind === 'ClusterNetworkPolicy' ? model.tier : 'NetworkPolicy',
          note: String(rule.index),
        });
        const patterns = direction === 'Egress' ? rulePatterns(rule) : [];
        if (patterns.length > 0) {
          const slot = this.slotIds.acquire(slotKey(model.ref, rule, patterns)) ?? 0;
          this.slotOf.set(rule, slot);
          this.slots.set(slot, { slot, rule: `${model.ref}/egress/${rule.index}`, policy: model.ref, ruleIndex: rule.index, patterns });
        }
      }
    }
  }

  private unregister(ref: string): void {
    const model = this.policies.get(ref);
    if (!model) return;
    this.refsVersion++;
    this.policies.delete(ref);
    for (const direction of ['Egress', 'Ingress'] as const) {
      for (const rule of direction === 'Egress' ? model.egress : model.ingress) {
        const key = ruleKey(ref, direction, rule);
        const id = this.ruleIds.get(key);
        if (id !== undefined) this.ruleRefs.delete(id);
        this.ruleIds.release(key);
        this.ruleIdOf.delete(rule);
        const slot = this.slotOf.get(rule);
        if (slot !== undefined) {
          this.slots.delete(slot);
          this.slotIds.release(slotKey(ref, rule, rulePatterns(rule)));
          this.slotOf.delete(rule);
        }
      }
    }
  }

  private resort(): void {
    const all = [...this.policies.values()];
    this.cluster = all.filter((p): p is ClusterPolicyModel => p.kind === 'ClusterNetworkPolicy').sort(clusterOrder);
    this.namespaced = all.filter((p): p is NamespacedPolicyModel => p.kind !== 'ClusterNetworkPolicy').sort(refOrder);
  }

  private markSubjects(models: readonly (AnyPolicy | undefined)[]): void {
    for (const st of this.endpoints.values()) {
      const pod = this.view.pods.get(st.compiled.key);
      if (!pod) continue;
      if (models.some((m) => m && selects(m.subject, pod))) this.dirty.add(st.compiled.key);
    }
  }

  /**
   * A pod appeared, changed or went: update the host prefixes it touches, redo its own endpoint.
   * `owners` held or hold one of its addresses before or after: a prefix owned by another pod now
   * follows that pod's selections and named ports.
   */
  private podChanged(removed: PodEntry | undefined, added: PodEntry | undefined, owners: readonly PodEntry[]): void {
    const touched = new Set(this.selections.podChanged(removed, added));
    for (const p of [removed, added]) if (p) this.dirty.add(p.key);
    if (this.dirtyAll) return;
    const pods = [removed, added].filter((p): p is PodEntry => p !== undefined);
    for (const o of owners) {
      if (o.key === removed?.key || o.key === added?.key || pods.includes(o)) continue;
      pods.push(o);
      for (const s of this.selections.containing(o.key)) touched.add(s);
    }
    this.markStale(this.variants.podChanged(pods, touched));
  }

  private selectedFor(pod: PodEntry): { egress: SelectedPolicies; ingress: SelectedPolicies; refs: Set<string> } {
    const cluster = this.cluster.filter((c) => selects(c.subject, pod));
    const np = this.namespaced.filter((n) => selects(n.subject, pod));
    const admin = cluster.filter((c) => c.tier === 'Admin');
    const baseline = cluster.filter((c) => c.tier === 'Baseline');
    const refs = new Set([...cluster, ...np].map((p) => p.ref));
    return {
      egress: { admin, baseline, np: np.filter((n) => n.policyTypes.includes('Egress')) },
      ingress: { admin, baseline, np: np.filter((n) => n.policyTypes.includes('Ingress')) },
      refs,
    };
  }

  private dropEndpoint(key: string): void {
    const st = this.endpoints.get(key);
    if (!st) return;
    this.releaseDirections(st);
    this.endpoints.delete(key);
  }

  private releaseDirections(st: EndpointState, kept?: ReadonlySet<DirectionState>): void {
    for (const dir of [st.egress, st.ingress]) {
      if (!dir || kept?.has(dir)) continue;
      dir.users.delete(st.compiled.key);
      if (dir.users.size > 0) continue;
      if (this.shared.get(dir.shape) !== dir) {
        this.dropDirection(dir);
        continue;
      }
      this.idle.add(dir);
      const pending = this.stale.get(dir);
      this.stale.delete(dir);
      if (pending) addAll(this.idleStale, dir, pending);
      for (const old of this.idle) {
        if (this.idle.size <= IDLE_DIRECTIONS) break;
        this.dropDirection(old);
      }
    }
  }

  private dropDirection(dir: DirectionState): void {
    this.idle.delete(dir);
    this.idleStale.delete(dir);
    this.stale.delete(dir);
    for (const v of new Set(dir.variants)) this.variants.release(v, dir);
    if (this.shared.get(dir.shape) === dir) this.shared.delete(dir.shape);
  }

  private compileEndpoint(key: string): void {
    const pod = this.view.pods.get(key);
    if (!pod || !this.isLocal(pod)) {
      this.dropEndpoint(key);
      this.epIds.release(key);
      this.unplaced.delete(key);
      return;
    }
    const epId = this.epIds.acquire(key);
    if (epId === undefined) {
      this.dropEndpoint(key);
      // Keep the report: an endpoint without an id is still a pod the node cannot enforce.
      this.unplaced.set(key, new EndpointIdsExhausted(key, this.maxEndpoints));
      return;
    }
    this.unplaced.delete(key);
    const before = this.endpoints.get(key);
    const first = (ips: readonly IPAddress[], family: 4 | 6): string | undefined => {
      const ip = ips.find((i) => i.family === family);
      return ip ? formatIP(ip) : undefined;
    };
    const node = pod.nodeName !== null ? this.view.nodes.get(pod.nodeName) : undefined;
    const nodeIPs = node?.addresses ?? [];
    const mode: ModeName = pod.hostNetwork ? 'notEnforced' : this.opts.mode;
    const sel = this.selectedFor(pod);
    const config: EndpointConfig = {
      epId,
      mode,
      egressIsolated: sel.egress.np.length > 0,
      ingressIsolated: sel.ingress.np.length > 0,
      ...opt('podIp4', first(pod.ips, 4)),
      ...opt('podIp6', first(pod.ips, 6)),
      ...opt('nodeIp4', first(nodeIPs, 4)),
      ...opt('nodeIp6', first(nodeIPs, 6)),
    };
    const extraSelf = pod.ips.filter((ip) => formatIP(ip) !== (ip.family === 4 ? config.podIp4 : config.podIp6));
    const extraNode = nodeIPs.filter((ip) => formatIP(ip) !== (ip.family === 4 ? config.nodeIp4 : config.nodeIp6) && !pod.ips.some((p) => sameIP(p, ip)));
    const slots = new Set<number>();
    // The previous tables (same endpoint id) are the base the new ones share entries with.
    const sameId = before !== undefined && before.compiled.epId === epId;
    const kept = new Set<DirectionState>();
    const direction = (d: Direction): DirectionState | null => {
      const dir = d === 'Egress' ? 'egress' : 'ingress';
      const selected = d === 'Egress' ? sel.egress : sel.ingress;
      if (mode === 'notEnforced') return null;
      const ordered = orderRules(d, selected, (_ref, rule) => this.ruleIdOf.get(rule) ?? RESERVED_RULE_ID.fallbackDeny);
      // A placeholder user until the state exists (the state is built from the variants).
      const user = {};
      const variants: RuleVariant[] = ordered.map((rule) => {
        const slot = d === 'Egress' ? (this.slotOf.get(rule.rule) ?? 0) : 0;
        if (slot !== 0) slots.add(slot);
        return this.variants.acquire(d, rule.rule, slot, pod, user);
      });
      const implicit = d === 'Ingress' ? [...extraSelf, ...extraNode] : extraSelf;
      const isolated = selected.np.length > 0;
      const shape = shapeKey(dir, isolated, ordered, variants, implicit);
      const existing = this.shared.get(shape);
      if (existing) {
        // Another local pod with the same rules (or this pod, unchanged): one table serves both.
        for (const v of new Set(variants)) this.variants.release(v, user);
        if (this.idle.delete(existing)) {
          const pending = this.idleStale.get(existing);
          this.idleStale.delete(existing);
          if (pending) addAll(this.stale, existing, pending);
        }
        existing.users.add(key);
        kept.add(existing);
        return existing;
      }
      const old = sameId ? before[dir] : null;
      let state: DirectionState | undefined;
      if (old && old.sameShape(isolated, ordered, implicit)) {
        // Same rules in the same places, some with new content (a policy edited): recompute only
        // where the old or new content of those rules lies, plus what pod changes left pending.
        const keys = new Set<string>(this.stale.get(old) ?? []);
        let hostOnly = true;
        let same = true;
        variants.forEach((v, i) => {
          const was = old.variants[i] as RuleVariant;
          if (v === was) return;
          same = false;
          for (const x of [was, v]) {
            if (x.cidrs.size > 0) hostOnly = false;
            for (const k of x.entries.keys()) keys.add(k);
          }
        });
        if (hostOnly && !same) state = new DirectionState(dir, isolated, ordered, variants, implicit, this.maxRules, shape, { from: { state: old, keys } });
      }
      state ??= new DirectionState(dir, isolated, ordered, variants, implicit, this.maxRules, shape, { ...(sameId ? { previous: before.compiled[dir] } : {}) });
      state.users.add(key);
      this.shared.set(shape, state);
      // The variants know their users by the direction state (pod changes are routed to it).
      for (const v of new Set(variants)) {
        v.users.add(state);
        this.variants.release(v, user);
      }
      return state;
    };
    const egress = direction('Egress');
    const ingress = direction('Ingress');
    if (before) this.releaseDirections(before, kept);
    const table = (d: DirectionState | null, isolated: boolean): DirectionTable => d?.table ?? { isolated, prefixes: EMPTY, fallback: false };
    const compiled: CompiledEndpoint = {
      key,
      epId,
      config,
      egress: table(egress, config.egressIsolated),
      ingress: table(ingress, config.ingressIsolated),
      slots: [...slots].sort((a, b) => a - b),
    };
    this.endpoints.set(key, { compiled, policies: sel.refs, egress, ingress });
  }

  /** Collects endpoints and enforces the node-wide LPM capacity (endpoints in id order). */
  private assemble(): CompiledNode {
    const states = [...this.endpoints.values()].sort((a, b) => a.compiled.epId - b.compiled.epId);
    const used = { 4: 0, 6: 0 };
    const endpoints = new Map<string, CompiledEndpoint>();
    const diagnostics: CompileDiagnostic[] = [...this.unplaced.values()];
    for (const st of states) {
      const ep = st.compiled;
      const count = { 4: 0, 6: 0 };
      for (const t of [ep.egress, ep.ingress]) {
        const c = (t.prefixes as PrefixTable).counts;
        count[4] += c[4];
        count[6] += c[6];
      }
      let out = ep;
      const over = ([4, 6] as const).find((f) => used[f] + count[f] > this.maxPrefixes);
      if (over !== undefined) {
        diagnostics.push(new PrefixMapOverflow(ep.key, over, used[over] + count[over], this.maxPrefixes));
        // The same fallback object while the endpoint is unchanged: diff skips it in one comparison.
        out =
          st.out?.from === ep
            ? st.out.ep
            : {
                ...ep,
                egress: fallbackTable({ isolated: ep.egress.isolated, implicit: st.egress?.implicit ?? implicitOf(ep.egress) }),
                ingress: fallbackTable({ isolated: ep.ingress.isolated, implicit: st.ingress?.implicit ?? implicitOf(ep.ingress) }),
              };
        st.out = { from: ep, ep: out };
        for (const t of [out.egress, out.ingress]) {
          const c = (t.prefixes as PrefixTable).counts;
          used[4] += c[4];
          used[6] += c[6];
        }
      } else {
        used[4] += count[4];
        used[6] += count[6];
      }
      endpoints.set(ep.key, out);
      for (const d of [st.egress, st.ingress]) if (d) diagnostics.push(...d.diagnosticsFor(ep.key));
    }
    if (this.refsCopy?.version !== this.refsVersion) this.refsCopy = { version: this.refsVersion, slots: new Map(this.slots), rules: new Map(this.ruleRefs) };
    return { endpoints, slots: this.refsCopy.slots, rules: this.refsCopy.rules, diagnostics, maxRules: this.maxRules };
  }
}

const EMPTY = PrefixTable.EMPTY;

/** How many unused directions are kept for a successor pod (each holds its table). */
const IDLE_DIRECTIONS = 16;

function addAll<K>(m: Map<K, Set<string>>, k: K, keys: Iterable<string>): void {
  let set = m.get(k);
  if (!set) m.set(k, (set = new Set()));
  for (const x of keys) set.add(x);
}

/**
 * Everything a direction's table is built from: the rules in order with what the evaluator's
 * order and the list builder look at, the content of each (variant), and the implicit addresses.
 * Equal shapes build equal tables, whichever pod they belong to.
 */
function shapeKey(dir: DirName, isolated: boolean, ordered: readonly OrderedRule[], variants: readonly RuleVariant[], implicit: readonly IPAddress[]): string {
  let k = `${dir}|${isolated}|${implicit.map(formatIP).join(',')}`;
  ordered.forEach((r, i) => {
    k += `|${r.tier[0]}${r.action[0]}${r.rank}:${r.policyPos}:${r.evalIdx}:${r.multi ? 1 : 0}:${r.ruleId}:${(variants[i] as RuleVariant).id}:${r.policyRef}`;
  });
  return k;
}

/** The implicitly allowed host addresses of a table (kept by the map-overflow fallback). */
function implicitOf(t: DirectionTable): IPAddress[] {
  const out: IPAddress[] = [];
  for (const p of t.prefixes.values()) {
    if (p.rules.length === 1 && p.rules[0]?.ruleId === RESERVED_RULE_ID.implicitAllow) {
      const ip = tryParseIP(p.addr);
      if (ip) out.push(ip);
    }
  }
  return out;
}

function opt<K extends string>(k: K, v: string | undefined): { [P in K]?: string } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: string };
}

/** One-shot compilation: `new Compiler(state, local, opts).result()`. */
export function compile(state: ClusterState, local: LocalPods, opts: CompileOptions): CompiledNode {
  return new Compiler(state, local, opts).result();
}
