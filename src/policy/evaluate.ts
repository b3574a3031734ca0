// The reference evaluator: SEMANTICS.md sections 2 and 3 written as plainly as possible. Every
// other verdict implementation (compiled maps, eBPF datapath) is tested against this one.
import type { ClusterState, Tier } from '../api/types.js';
import { ClusterIndex, type PodEntry, type ServiceEntry } from './cluster-index.js';
import { type Endpoint, resolveEndpoints } from './endpoint.js';
import { InvalidFlowError } from './errors.js';
import { type IPAddress, formatIP, sameIP, tryParseIP } from './ip.js';
import { LearnedIndex, type LearnedIP, learnedAt } from './learned.js';
import { type MatchContext, SelectionCache, type Target, ruleMatches } from './match.js';
import {
  type ClusterPolicyModel,
  type Direction,
  type NamespacedPolicyModel,
  type PolicyModel,
  type RuleModel,
  actionRank,
  buildPolicyModel,
} from './model.js';
import { type DirectionVerdict, type EvalOptions, FLOW_PROTOCOLS, type Flow, type FlowVerdict } from './verdict.js';

/** Reserved for evaluator-wide settings; none yet. */
export type EvaluatorOptions = Record<string, never>;

interface PodPolicies {
  admin: readonly ClusterPolicyModel[];
  baseline: readonly ClusterPolicyModel[];
  networkPolicy: Record<Direction, readonly NamespacedPolicyModel[]>;
}

interface ClusterDecision {
  policy: ClusterPolicyModel;
  rule: RuleModel;
}

function lower(d: Direction): string {
  return d === 'Egress' ? 'egress' : 'ingress';
}

function validateFlow(flow: Flow): void {
  if (!FLOW_PROTOCOLS.includes(flow.protocol)) {
    throw new InvalidFlowError('protocol', flow.protocol, `must be one of ${FLOW_PROTOCOLS.join(', ')}`);
  }
  if (flow.protocol !== 'ICMP') {
    const p = flow.port;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
      throw new InvalidFlowError('port', p, `${flow.protocol} needs a port number 1..65535`);
    }
  }
  if (flow.fqdn !== undefined && (typeof flow.fqdn !== 'string' || flow.fqdn.length === 0)) {
    throw new InvalidFlowError('fqdn', flow.fqdn, 'must be a non-empty domain name');
  }
}

export class Evaluator {
  readonly index: ClusterIndex;
  readonly model: PolicyModel;
  private readonly selections = new SelectionCache();
  private readonly perPod = new Map<string, PodPolicies>();
  private readonly learnedIndexes = new WeakMap<readonly LearnedIP[], LearnedIndex>();

  constructor(state: ClusterState, _opts: EvaluatorOptions = {}) {
    this.index = new ClusterIndex(state);
    this.model = buildPolicyModel(state);
  }

  evaluate(flow: Flow, opts: EvalOptions): FlowVerdict {
    validateFlow(flow);
    const { src, dst } = resolveEndpoints(this.index, flow.from, flow.to);
    const learned = [this.learnedIndex(opts.learned)];
    if (flow.fqdn !== undefined && src.pod) {
      learned.push(new LearnedIndex([learnedAt(src.pod.key, flow.fqdn, formatIP(dst.ip), opts.now)]));
    }
    const egress = this.direction('Egress', src, dst, flow, opts, learned);
    const ingress = dst.service ? this.serviceIngress(dst, src, flow, opts, learned) : this.direction('Ingress', dst, src, flow, opts, learned);
    const verdict = egress.verdict === 'Allow' && ingress.verdict === 'Allow' ? 'Allow' : 'Deny';
    return { flow, verdict, egress, ingress };
  }

  /**
   * The learned IPs that the flows' `fqdn` fields stand for (learned at `now`, default TTL), for
   * callers that keep a whole flow file's learnings in force together.
   */
  learnedFromFlows(flows: readonly Flow[], now: number): LearnedIP[] {
    const out: LearnedIP[] = [];
    for (const flow of flows) {
      if (flow.fqdn === undefined) continue;
      const { src, dst } = resolveEndpoints(this.index, flow.from, flow.to);
      if (src.pod) out.push(learnedAt(src.pod.key, flow.fqdn, formatIP(dst.ip), now));
    }
    return out;
  }

  private learnedIndex(learned: readonly LearnedIP[]): LearnedIndex {
    // Only a frozen array can be keyed by identity: any other may change between two calls.
    if (!Object.isFrozen(learned)) return new LearnedIndex(learned);
    let idx = this.learnedIndexes.get(learned);
    if (!idx) {
      idx = new LearnedIndex(learned);
      this.learnedIndexes.set(learned, idx);
    }
    return idx;
  }

  /**
   * Ingress of a flow to a ClusterIP: kube-proxy translates it to one of the ready backends, so
   * every backend for (protocol, port) must admit the source at its target port. The verdict is
   * the first denying backend's, else the first backend's; without backends nothing enforces it.
   */
  private serviceIngress(dst: Endpoint, src: Endpoint, flow: Flow, opts: EvalOptions, learned: readonly LearnedIndex[]): DirectionVerdict {
    const service = dst.service as ServiceEntry;
    const seen = new Set<string>();
    const backends =
      flow.protocol === 'ICMP' || flow.port === undefined
        ? []
        : service.backends(flow.protocol, flow.port).filter((b) => {
            // Translation keeps the family; a backend seen through two slices is one backend.
            const key = `${b.pod.key}|${formatIP(b.ip)}|${b.targetPort}`;
            if (b.ip.family !== dst.ip.family || seen.has(key)) return false;
            seen.add(key);
            return true;
          });
    if (backends.length === 0) return this.direction('Ingress', dst, src, flow, opts, learned);
    let first: DirectionVerdict | null = null;
    for (const b of backends) {
      const end: Endpoint = { text: b.pod.key, ip: b.ip, pod: b.pod, nodes: this.index.nodesAt(b.ip), service: null };
      const v = this.direction('Ingress', end, src, { ...flow, port: b.targetPort }, opts, learned);
      const via = `Service ${service.key} backend ${b.pod.key} (${formatIP(b.ip)}:${b.targetPort}): `;
      const named = { ...v, reason: via + v.reason };
      if (v.verdict === 'Deny') return named;
      first ??= backends.length > 1 ? { ...named, reason: `${named.reason} All ${backends.length} backends allow it.` } : named;
    }
    return first as DirectionVerdict;
  }

  /** Whether a policy's subject selects the pod (memoised). */
  selects(policy: ClusterPolicyModel | NamespacedPolicyModel, pod: PodEntry): boolean {
    return this.selections.selects(policy.subject, pod);
  }

  private policiesFor(pod: PodEntry): PodPolicies {
    let p = this.perPod.get(pod.key);
    if (!p) {
      const cluster = (tier: Tier): ClusterPolicyModel[] => this.model.cluster.filter((c) => c.tier === tier && this.selects(c, pod));
      const np = this.model.namespaced.filter((n) => this.selects(n, pod));
      p = {
        admin: cluster('Admin'),
        baseline: cluster('Baseline'),
        networkPolicy: { Egress: np.filter((n) => n.policyTypes.includes('Egress')), Ingress: np.filter((n) => n.policyTypes.includes('Ingress')) },
      };
      this.perPod.set(pod.key, p);
    }
    return p;
  }

  private targets(direction: Direction, local: PodEntry, remote: Endpoint, flow: Flow): Target[] {
    const port = flow.protocol === 'ICMP' ? undefined : flow.port;
    if (direction === 'Ingress') {
      return [{ ip: remote.ip, pod: remote.pod, nodes: remote.nodes, port, portOwner: local, viaService: null }];
    }
    // A host-network pod's IP is its node's, and an IP with no pod has no named ports (SEMANTICS s.4).
    const portOwner = remote.pod && !remote.pod.hostNetwork ? remote.pod : null;
    const direct: Target = { ip: remote.ip, pod: remote.pod, nodes: remote.nodes, port, portOwner, viaService: null };
    if (!remote.service || port === undefined || flow.protocol === 'ICMP') return [direct];
    // The datapath sees the ClusterIP before kube-proxy's DNAT: a pod-selecting rule matches when it
    // would match a backend pod at the backend's target port.
    const backends = remote.service.backends(flow.protocol, port).map(
      (b): Target => ({ ip: b.ip, pod: b.pod, nodes: [], port: b.targetPort, portOwner: b.pod, viaService: remote.service?.key ?? null }),
    );
    return [direct, ...backends];
  }

  private direction(
    direction: Direction,
    local: Endpoint,
    remote: Endpoint,
    flow: Flow,
    opts: EvalOptions,
    learned: readonly LearnedIndex[],
  ): DirectionVerdict {
    const d = lower(direction);
    const notEnforced = (reason: string): DirectionVerdict => ({ verdict: 'Allow', tier: 'NotEnforced', policy: null, rule: null, reason });
    if (!local.pod) {
      if (local.service && direction === 'Ingress') {
        const port = flow.protocol === 'ICMP' ? flow.protocol : `${flow.protocol}/${flow.port}`;
        return notEnforced(`${local.text} is the ClusterIP of Service ${local.service.key}, which has no ready backend for ${port}, so no pod enforces its ${d}.`);
      }
      if (local.service) return notEnforced(`${local.text} is the ClusterIP of Service ${local.service.key}, not a pod, so nothing enforces its ${d}.`);
      return notEnforced(`${local.text} is not a pod of the cluster, so nothing enforces its ${d}.`);
    }
    const pod = local.pod;
    if (pod.hostNetwork) return notEnforced(`${pod.key} is a host-network pod, whose ${d} is not enforced.`);
    if (pod.ips.some((ip) => sameIP(ip, remote.ip))) return notEnforced(`${pod.key} is talking to its own IP, which is never enforced.`);
    if (direction === 'Ingress') {
      const node = pod.nodeName !== null ? this.index.node(pod.nodeName) : undefined;
      if (node?.addresses.some((a) => sameIP(a, remote.ip))) {
        return notEnforced(`${remote.text} is an address of ${pod.key}'s own node ${node.name} (kubelet probes), always allowed.`);
      }
      // The kubelet reports the node's IPs on the pod itself, so a Node object is not required.
      if (hostIPs(pod).some((a) => sameIP(a, remote.ip))) {
        return notEnforced(`${remote.text} is ${pod.key}'s status.hostIP, its own node's address (kubelet probes), always allowed.`);
      }
    }

    const ctx: MatchContext = { direction, local: pod, protocol: flow.protocol, now: opts.now, learned };
    const targets = this.targets(direction, pod, remote, flow);
    const policies = this.policiesFor(pod);
    const notes: string[] = [];

    const admin = this.clusterTier(direction, policies.admin, targets, ctx);
    if (admin && admin.rule.action !== 'Pass') return this.clusterVerdict('Admin', admin, d, pod);
    if (admin) notes.push(`Admin ${admin.policy.ref} rule ${admin.rule.id} passed`);

    const isolating = policies.networkPolicy[direction];
    if (isolating.length > 0) {
      for (const np of isolating) {
        const rules = direction === 'Egress' ? np.egress : np.ingress;
        const rule = rules.find((r) => ruleMatches(r, targets, ctx, this.selections));
        if (rule) {
          return {
            verdict: 'Allow',
            tier: 'NetworkPolicy',
            policy: np.ref,
            rule: rule.id,
            reason: withNotes(`${np.ref} ${d} rule ${rule.id} allows it`, notes),
          };
        }
      }
      const first = isolating[0] as NamespacedPolicyModel;
      const more = isolating.length > 1 ? ` and ${isolating.length - 1} more` : '';
      return {
        verdict: 'Deny',
        tier: 'NetworkPolicy',
        policy: first.ref,
        rule: null,
        reason: withNotes(`${pod.key} is isolated for ${d} by ${first.ref}${more} and none of their rules match`, notes),
      };
    }

    const baseline = this.clusterTier(direction, policies.baseline, targets, ctx);
    if (baseline && baseline.rule.action !== 'Pass') return this.clusterVerdict('Baseline', baseline, d, pod, notes);
    if (baseline) notes.push(`Baseline ${baseline.policy.ref} rule ${baseline.rule.id} passed`);

    const allow = opts.mode !== 'strict';
    return {
      verdict: allow ? 'Allow' : 'Deny',
      tier: 'Default',
      policy: null,
      rule: null,
      reason: withNotes(`no policy decided ${pod.key}'s ${d}; ${opts.mode} mode ${allow ? 'allows' : 'denies'}`, notes),
    };
  }

  /**
   * First decision of a cluster tier. Policies arrive sorted by priority, then name. Per priority
   * level each policy contributes its first matching rule (rules are already in evaluation order);
   * across the policies of one level the action decides (Deny > Accept > Pass), then name order.
   */
  private clusterTier(direction: Direction, policies: readonly ClusterPolicyModel[], targets: readonly Target[], ctx: MatchContext): ClusterDecision | null {
    let i = 0;
    while (i < policies.length) {
      const priority = (policies[i] as ClusterPolicyModel).priority;
      let best: ClusterDecision | null = null;
      for (; i < policies.length && (policies[i] as ClusterPolicyModel).priority === priority; i++) {
        const policy = policies[i] as ClusterPolicyModel;
        const rules = direction === 'Egress' ? policy.egress : policy.ingress;
        const rule = rules.find((r) => ruleMatches(r, targets, ctx, this.selections));
        if (rule && (best === null || actionRank(rule.action) < actionRank(best.rule.action))) best = { policy, rule };
      }
      if (best) return best;
    }
    return null;
  }

  private clusterVerdict(tier: 'Admin' | 'Baseline', decision: ClusterDecision, d: string, pod: PodEntry, notes: string[] = []): DirectionVerdict {
    const { policy, rule } = decision;
    const verb = rule.action === 'Accept' ? 'accepts' : 'denies';
    return {
      verdict: rule.action === 'Accept' ? 'Allow' : 'Deny',
      tier,
      policy: policy.ref,
      rule: rule.id,
      reason: withNotes(`${tier} ${policy.ref} (priority ${policy.priority}) rule ${rule.id} ${verb} ${pod.key}'s ${d}`, notes),
    };
  }
}

function hostIPs(pod: PodEntry): IPAddress[] {
  const status = pod.pod.status;
  const texts = [...(status?.hostIP ? [status.hostIP] : []), ...(status?.hostIPs ?? []).map((h) => h.ip)];
  return texts.map((t) => tryParseIP(t)).filter((ip): ip is IPAddress => ip !== null);
}

function withNotes(sentence: string, notes: readonly string[]): string {
  return notes.length === 0 ? `${sentence}.` : `${sentence} (after: ${notes.join('; ')}).`;
}
