// The incremental compiler: cluster state + local pods -> CompiledNode. It keeps its indexes
// between calls (pod selections per peer, each egress rule's contributions, per-endpoint policy
// sets) so that one pod or one policy changing recompiles only the endpoints it can affect.
import type { ClusterNetworkPolicy, ClusterState, Pod, PolicyObject } from '../api/types.js';
import { objectRef } from '../api/types.js';
import type { PodEntry } from '../policy/cluster-index.js';
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
import { ClusterView } from './cluster-view.js';
import { PeerResolver, selects } from './contributions.js';
import { type CompileDiagnostic, EndpointIdsExhausted, PrefixMapOverflow } from './diagnostics.js';
import { IdAllocator } from './ids.js';
import { type SelectedPolicies, orderRules } from './order.js';
import { rulePatterns, slotKey } from './slots.js';
import { buildDirectionTable, fallbackTable } from './tables.js';
import {
  type CompiledEndpoint,
  type CompiledNode,
  DEFAULT_MAX_ENDPOINTS,
  DEFAULT_MAX_PREFIXES_PER_FAMILY,
  DEFAULT_MAX_RULES,
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
  readonly compiled: CompiledEndpoint;
  readonly policies: ReadonlySet<string>;
  readonly diagnostics: readonly CompileDiagnostic[];
}

export class Compiler {
  private view!: ClusterView;
  private resolver!: PeerResolver;
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
  /** Local pods left without an endpoint id. */
  private readonly unplaced = new Map<string, CompileDiagnostic>();
  private dirtyAll = true;
  private last: CompiledNode | null = null;
  private readonly maxRules: number;
  private readonly maxPrefixes: number;
  private readonly maxEndpoints: number;

  constructor(
    state: ClusterState,
    private readonly local: LocalPods,
    private readonly opts: CompileOptions,
  ) {
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

  /** Replaces everything (namespaces, nodes, Services, EndpointSlices changed): full recompile. */
  replaceState(state: ClusterState): void {
    this.view = new ClusterView(state);
    this.resolver = new PeerResolver(this.view);
    for (const ref of [...this.policies.keys()]) this.unregister(ref);
    for (const p of [...state.clusterNetworkPolicies, ...state.networkPolicies, ...state.applicationNetworkPolicies]) this.register(policyModel(p));
    this.resort();
    this.dirtyAll = true;
  }

  upsertPod(pod: Pod): void {
    const { removed, added } = this.view.upsertPod(pod);
    this.podChanged(removed, added);
  }

  removePod(key: string): void {
    const removed = this.view.removePod(key);
    if (removed) this.podChanged(removed, undefined);
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
    if (!this.dirtyAll && this.dirty.size === 0 && this.last) return this.last;
    const keys = this.dirtyAll ? new Set([...this.endpoints.keys(), ...[...this.view.pods.values()].filter((p) => this.isLocal(p)).map((p) => p.key)]) : this.dirty;
    for (const key of keys) this.compileEndpoint(key);
    this.dirty = new Set();
    this.dirtyAll = false;
    this.last = this.assemble();
    return this.last;
  }

  // ---- internals -----------------------------------------------------------------------------

  private isLocal(pod: PodEntry): boolean {
    return 'nodeName' in this.local ? pod.nodeName === this.local.nodeName : this.local.pods.includes(pod.key);
  }

  private register(model: AnyPolicy): void {
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
        this.resolver.dropEgressCache(rule);
        if (rule.peers !== 'any') this.resolver.forgetPeers(rule.peers.filter((p) => p.kind === 'pods'));
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

  /** A pod appeared, changed or went: drop the caches it can affect, mark the endpoints to redo. */
  private podChanged(removed: PodEntry | undefined, added: PodEntry | undefined): void {
    this.resolver.podChanged(removed, added);
    const pods = [removed, added].filter((p): p is PodEntry => p !== undefined);
    const names = new Set(pods.flatMap((p) => p.namedPorts.map((n) => n.name)));
    const backend = pods.some((p) => p.ips.some((ip) => [...this.view.servicesListing(ip)].length > 0));
    const affected = new Set<string>();
    for (const model of this.policies.values()) {
      for (const direction of ['Egress', 'Ingress'] as const) {
        for (const rule of direction === 'Egress' ? model.egress : model.ingress) {
          if (this.ruleTouches(rule, pods, names, backend)) {
            affected.add(model.ref);
            if (direction === 'Egress') this.resolver.dropEgressCache(rule);
          }
        }
      }
    }
    for (const st of this.endpoints.values()) {
      if ([...st.policies].some((r) => affected.has(r))) this.dirty.add(st.compiled.key);
    }
    for (const p of pods) this.dirty.add(p.key);
  }

  private ruleTouches(rule: RuleModel, pods: readonly PodEntry[], names: ReadonlySet<string>, backend: boolean): boolean {
    const podPeers = rule.peers === 'any' ? [] : rule.peers.filter((p) => p.kind === 'pods');
    if (podPeers.some((peer) => pods.some((pod) => !pod.hostNetwork && selects(peer, pod)))) return true;
    if (backend && (rule.peers === 'any' || podPeers.length > 0)) return true;
    if (rule.ports !== 'any' && rule.ports.some((p) => p.kind === 'named' && names.has(p.name))) return true;
    // A pod IP inside an ipBlock/networks/nodes peer changes nothing (prefixes do not depend on pods).
    return false;
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

  private compileEndpoint(key: string): void {
    const pod = this.view.pods.get(key);
    if (!pod || !this.isLocal(pod)) {
      if (this.endpoints.delete(key)) this.epIds.release(key);
      return;
    }
    const epId = this.epIds.acquire(key);
    if (epId === undefined) {
      this.endpoints.delete(key);
      // Keep the report: an endpoint without an id is still a pod the node cannot enforce.
      this.unplaced.set(key, new EndpointIdsExhausted(key, this.maxEndpoints));
      return;
    }
    this.unplaced.delete(key);
    const diagnostics: CompileDiagnostic[] = [];
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
    const table = (direction: Direction): DirectionTable => {
      const dir = direction === 'Egress' ? 'egress' : 'ingress';
      const selected = direction === 'Egress' ? sel.egress : sel.ingress;
      const isolated = selected.np.length > 0;
      if (mode === 'notEnforced') return { isolated, prefixes: new Map(), fallback: false };
      const ordered = orderRules(direction, selected, (_ref, rule) => this.ruleIdOf.get(rule) ?? RESERVED_RULE_ID.fallbackDeny);
      const rules = ordered.map((rule) => {
        const slot = direction === 'Egress' ? (this.slotOf.get(rule.rule) ?? 0) : 0;
        if (slot !== 0) slots.add(slot);
        return { rule, contributions: this.resolver.contributions(direction, rule.rule, slot, pod) };
      });
      const implicit = direction === 'Ingress' ? [...extraSelf, ...extraNode] : extraSelf;
      const built = buildDirectionTable({ endpoint: key, direction: dir, isolated, rules, implicit, maxRules: this.maxRules });
      diagnostics.push(...built.diagnostics);
      return built.table;
    };
    const compiled: CompiledEndpoint = { key, epId, config, egress: table('Egress'), ingress: table('Ingress'), slots: [...slots].sort((a, b) => a - b) };
    this.endpoints.set(key, { compiled, policies: sel.refs, diagnostics });
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
      for (const t of [ep.egress, ep.ingress]) for (const p of t.prefixes.values()) count[p.family]++;
      let out = ep;
      const over = ([4, 6] as const).find((f) => used[f] + count[f] > this.maxPrefixes);
      if (over !== undefined) {
        diagnostics.push(new PrefixMapOverflow(ep.key, over, used[over] + count[over], this.maxPrefixes));
        out = { ...ep, egress: fallbackTable({ isolated: ep.egress.isolated, implicit: implicitOf(ep.egress) }), ingress: fallbackTable({ isolated: ep.ingress.isolated, implicit: implicitOf(ep.ingress) }) };
        for (const t of [out.egress, out.ingress]) for (const p of t.prefixes.values()) used[p.family]++;
      } else {
        used[4] += count[4];
        used[6] += count[6];
      }
      endpoints.set(ep.key, out);
      diagnostics.push(...st.diagnostics);
    }
    return { endpoints, slots: new Map(this.slots), rules: new Map(this.ruleRefs), diagnostics, maxRules: this.maxRules };
  }
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
