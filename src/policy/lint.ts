// `dnsgate lint`'s policy findings: things that are valid but almost certainly not what was meant.
// Schema validation is src/api's job; these look at policies together and against the state.
import type { ClusterState } from '../api/types.js';
import { ClusterIndex, type PodEntry, type ServiceBackend, type ServiceEntry } from './cluster-index.js';
import { cidrContainsIP, formatCidr, ipBlockContains } from './cidr.js';
import { type IPAddress, formatIP, tryParseIP } from './ip.js';
import { ruleCovers } from './coverage.js';
import { SelectionCache } from './match.js';
import {
  type ClusterPolicyModel,
  type Direction,
  type NamespacedPolicyModel,
  type PodSelection,
  type RuleModel,
  PolicyModelError,
  clusterPolicyModel,
  comparePolicyNames,
  namespacedPolicyModel,
} from './model.js';
import { formatSelector, selectorMatches, selectorsDisjoint } from './selector.js';

export interface LintFinding {
  severity: 'error' | 'warning';
  /** "Kind/namespace/name" or "Kind/name". */
  ref: string;
  field?: string;
  message: string;
}

type AnyPolicy = ClusterPolicyModel | NamespacedPolicyModel;

function rulesOf(p: AnyPolicy, d: Direction): readonly RuleModel[] {
  return d === 'Egress' ? p.egress : p.ingress;
}

function ruleField(d: Direction, rule: RuleModel): string {
  return `spec.${d === 'Egress' ? 'egress' : 'ingress'}[${rule.index}]`;
}

function subjectsDisjoint(a: PodSelection, b: PodSelection): boolean {
  const nsDisjoint =
    a.namespaces.kind === 'same' && b.namespaces.kind === 'same'
      ? a.namespaces.namespace !== b.namespaces.namespace
      : a.namespaces.kind === 'selector' && b.namespaces.kind === 'selector' && selectorsDisjoint(a.namespaces.selector, b.namespaces.selector);
  return nsDisjoint || selectorsDisjoint(a.podSelector, b.podSelector);
}

function describeSelection(s: PodSelection): string {
  const ns = s.namespaces.kind === 'same' ? `namespace ${s.namespaces.namespace}` : `namespaces {${formatSelector(s.namespaces.selector)}}`;
  return `pods {${formatSelector(s.podSelector)}} in ${ns}`;
}

class Linter {
  readonly findings: LintFinding[] = [];
  readonly index: ClusterIndex;
  readonly cluster: ClusterPolicyModel[] = [];
  readonly namespaced: NamespacedPolicyModel[] = [];
  private readonly selections = new SelectionCache();
  /** Pods a policy can act on: host-network pods are never enforced nor selected as peers. */
  private readonly pods: readonly PodEntry[];

  constructor(private readonly state: ClusterState) {
    this.index = new ClusterIndex(state);
    this.pods = this.index.pods.filter((p) => !p.hostNetwork);
    for (const p of state.clusterNetworkPolicies) this.tryModel(() => this.cluster.push(clusterPolicyModel(p)));
    for (const p of [...state.networkPolicies, ...state.applicationNetworkPolicies]) {
      this.tryModel(() => this.namespaced.push(namespacedPolicyModel(p)));
    }
    this.cluster.sort((a, b) => (a.tier === b.tier ? 0 : a.tier === 'Admin' ? -1 : 1) || a.priority - b.priority || comparePolicyNames(a, b));
  }

  private tryModel(build: () => void): void {
    try {
      build();
    } catch (err) {
      if (!(err instanceof PolicyModelError)) throw err;
      this.findings.push({ severity: 'error', ref: err.ref, field: err.field, message: err.reason });
    }
  }

  private warn(ref: string, field: string | undefined, message: string): void {
    this.findings.push(field === undefined ? { severity: 'warning', ref, message } : { severity: 'warning', ref, field, message });
  }

  selected(sel: PodSelection): PodEntry[] {
    return this.pods.filter((p) => this.selections.selects(sel, p));
  }

  samePriority(): void {
    for (let i = 0; i < this.cluster.length; i++) {
      for (let j = i + 1; j < this.cluster.length; j++) {
        const a = this.cluster[i] as ClusterPolicyModel;
        const b = this.cluster[j] as ClusterPolicyModel;
        if (a.tier !== b.tier || a.priority !== b.priority) continue;
        const shared = this.selected(a.subject).filter((p) => this.selections.selects(b.subject, p));
        if (shared.length === 0 && subjectsDisjoint(a.subject, b.subject)) continue;
        const which = shared.length > 0 ? `both select ${shared.length} pod(s), e.g. ${shared[0]?.key}` : 'their subjects can overlap';
        this.warn(
          a.ref,
          'spec.priority',
          `same tier (${a.tier}) and priority (${a.priority}) as ${b.ref} and ${which}; the API leaves their order undefined (dnsgate applies Deny > Accept > Pass, then name order)`,
        );
      }
    }
  }

  shadowed(): void {
    const all: AnyPolicy[] = [...this.cluster, ...this.namespaced];
    for (const p of all) {
      for (const d of ['Ingress', 'Egress'] as const) {
        const rules = rulesOf(p, d);
        rules.forEach((rule, k) => {
          const earlier = rules.slice(0, k).find((e) => ruleCovers(e, rule));
          if (!earlier) return;
          const what =
            earlier.action === rule.action
              ? 'is redundant'
              : `never applies (its ${rule.action} is decided by ${earlier.action} first)`;
          const why = p.kind === 'ClusterNetworkPolicy' && p.group === 'eks' && earlier.index > rule.index ? ' (EKS evaluates Deny, then Accept, then Pass)' : '';
          this.warn(p.ref, ruleField(d, rule), `rule ${rule.id} ${what}: rule ${earlier.id} matches everything it matches${why}`);
        });
      }
    }
  }

  private npEgressIsolated(pod: PodEntry): boolean {
    return this.namespaced.some((n) => n.policyTypes.includes('Egress') && this.selections.selects(n.subject, pod));
  }

  /** Whether something evaluated after `rule` of `policy` could deny `pod`'s egress. */
  private laterEgressDeny(policy: ClusterPolicyModel, rule: RuleModel, pod: PodEntry): boolean {
    const rules = policy.egress;
    if (rules.slice(rules.indexOf(rule) + 1).some((r) => r.action === 'Deny')) return true;
    if (policy.tier === 'Admin' && this.npEgressIsolated(pod)) return true;
    return this.cluster.some(
      (c) =>
        c !== policy &&
        (c.tier !== policy.tier ? c.tier === 'Baseline' : c.priority >= policy.priority) &&
        this.selections.selects(c.subject, pod) &&
        c.egress.some((r) => r.action === 'Deny'),
    );
  }

  domainNamesEffect(): void {
    if (this.pods.length === 0) return;
    for (const p of this.cluster) {
      for (const rule of p.egress) {
        if (rule.action !== 'Accept' || rule.peers === 'any' || !rule.peers.some((x) => x.kind === 'domainNames')) continue;
        const pods = this.selected(p.subject);
        if (pods.length === 0 || pods.some((pod) => this.laterEgressDeny(p, rule, pod))) continue;
        this.warn(
          p.ref,
          ruleField('Egress', rule),
          `domainNames rule ${rule.id} has no effect in standard mode: none of its ${pods.length} selected pod(s) is egress-isolated or denied by anything evaluated after it (it matters only in strict mode)`,
        );
      }
    }
    for (const p of this.namespaced) {
      for (const rule of p.egress) {
        if (rule.peers === 'any' || !rule.peers.some((x) => x.kind === 'domainNames')) continue;
        if (!p.policyTypes.includes('Egress')) {
          this.warn(p.ref, ruleField('Egress', rule), `domainNames rule ${rule.id} has no effect: the policy's policyTypes leave out Egress`);
          continue;
        }
        const pods = this.selected(p.subject);
        const openAll = (pod: PodEntry): boolean =>
          this.namespaced.some(
            (n) => n.policyTypes.includes('Egress') && this.selections.selects(n.subject, pod) && n.egress.some((r) => r.peers === 'any' && r.ports === 'any'),
          );
        if (pods.length > 0 && pods.every(openAll)) {
          this.warn(p.ref, ruleField('Egress', rule), `domainNames rule ${rule.id} has no effect: every selected pod already has an egress rule that allows everything`);
        }
      }
    }
  }

  /** Whether a port list lets DNS through (UDP or TCP 53; a named port as some pod defines it). */
  private allowsDns(ports: RuleModel['ports']): boolean {
    if (ports === 'any') return true;
    const dns = (protocol: string): boolean => protocol === 'UDP' || protocol === 'TCP';
    return ports.some((p) => {
      switch (p.kind) {
        case 'range':
          return dns(p.protocol) && p.start <= 53 && 53 <= p.end;
        case 'allPorts':
          return dns(p.protocol);
        case 'named':
          return this.pods.some((pod) =>
            pod.namedPorts.some((np) => np.name === p.name && np.port === 53 && dns(np.protocol) && (p.protocol === null || p.protocol === np.protocol)),
          );
      }
    });
  }

  /**
   * Whether `pod`'s egress is closed by default: a NetworkPolicy isolates it, or a cluster policy
   * selecting it denies DNS to every address (a catch-all networks/ipBlock /0 or no peers).
   */
  private egressClosed(pod: PodEntry): boolean {
    if (this.npEgressIsolated(pod)) return true;
    const catchAll = (peers: RuleModel['peers']): boolean =>
      peers === 'any' ||
      peers.some((x) => (x.kind === 'networks' && x.cidrs.some((c) => c.prefixLength === 0)) || (x.kind === 'ipBlock' && x.block.cidr.prefixLength === 0 && x.block.except.length === 0));
    return this.cluster.some((c) => this.selections.selects(c.subject, pod) && c.egress.some((r) => r.action === 'Deny' && catchAll(r.peers) && this.allowsDns(r.ports)));
  }

  /**
   * Whether any Accept rule of a policy selecting `pod` (any tier) could let its DNS out. A
   * domainNames peer cannot: the resolver's address is not learned from a lookup.
   */
  private hasDnsPath(pod: PodEntry): boolean {
    const reachesResolver = (r: RuleModel): boolean => r.peers === 'any' || r.peers.some((x) => x.kind !== 'domainNames');
    const accepts = (rules: readonly RuleModel[]): boolean => rules.some((r) => r.action === 'Accept' && reachesResolver(r) && this.allowsDns(r.ports));
    return (
      this.namespaced.some((n) => n.policyTypes.includes('Egress') && this.selections.selects(n.subject, pod) && accepts(n.egress)) ||
      this.cluster.some((c) => this.selections.selects(c.subject, pod) && accepts(c.egress))
    );
  }

  /** A domainNames rule is useless to a closed pod that cannot reach any resolver (SEMANTICS s.5). */
  domainNamesWithoutDns(): void {
    for (const p of [...this.cluster, ...this.namespaced]) {
      if (p.kind !== 'ClusterNetworkPolicy' && !p.policyTypes.includes('Egress')) continue;
      for (const rule of p.egress) {
        if (rule.action !== 'Accept' || rule.peers === 'any' || !rule.peers.some((x) => x.kind === 'domainNames')) continue;
        const stuck = this.selected(p.subject).filter((pod) => this.egressClosed(pod) && !this.hasDnsPath(pod));
        if (stuck.length === 0) continue;
        this.warn(
          p.ref,
          ruleField('Egress', rule),
          `domainNames rule ${rule.id}: ${stuck.length} selected egress-isolated pod(s), e.g. ${stuck[0]?.key}, have no rule allowing DNS (UDP or TCP port 53) in any of their policies, so the names can never resolve`,
        );
      }
    }
  }

  /**
   * ipBlock/networks peers over Service backends: a connection to the ClusterIP is matched before
   * translation, where only pod-selecting peers see the backends (SEMANTICS s.4).
   */
  serviceBackendsByIP(): void {
    const services = this.services();
    if (services.length === 0) return;
    for (const p of [...this.cluster, ...this.namespaced]) {
      for (const rule of p.egress) {
        if (rule.peers === 'any') continue;
        for (const peer of rule.peers) {
          if (peer.kind !== 'ipBlock' && peer.kind !== 'networks') continue;
          const covers = (ip: IPAddress): boolean => (peer.kind === 'ipBlock' ? ipBlockContains(peer.block, ip) : peer.cidrs.some((c) => cidrContainsIP(c, ip)));
          const hit = services.find((s) => s.backends.some((b) => covers(b.ip)) && !s.entry.clusterIPs.some((ip) => covers(ip)));
          if (!hit) continue;
          const what = peer.kind === 'ipBlock' ? `ipBlock ${formatCidr(peer.block.cidr)}` : `networks ${peer.cidrs.map(formatCidr).join(', ')}`;
          const pods = [...new Set(hit.backends.filter((b) => covers(b.ip)).map((b) => b.pod.key))];
          this.warn(
            p.ref,
            ruleField('Egress', rule),
            `${what} covers pod(s) that back Service ${hit.entry.key} (${pods.join(', ')}), but connections to its ClusterIP ${hit.entry.clusterIPs.map(formatIP).join(', ')} are matched before translation and ipBlock/networks never match a ClusterIP through its backends; select the pods, or add the ClusterIP`,
          );
          break;
        }
      }
    }
  }

  private services(): { entry: ServiceEntry; backends: ServiceBackend[] }[] {
    const out: { entry: ServiceEntry; backends: ServiceBackend[] }[] = [];
    const seen = new Set<string>();
    for (const svc of this.state.services) {
      const ip = [svc.spec.clusterIP, ...(svc.spec.clusterIPs ?? [])].map((t) => (t ? tryParseIP(t) : null)).find((x) => x !== null);
      const entry = ip ? this.index.serviceAt(ip) : undefined;
      if (!entry || seen.has(entry.key)) continue;
      seen.add(entry.key);
      const backends = (svc.spec.ports ?? []).flatMap((sp) => entry.backends(sp.protocol ?? 'TCP', sp.port));
      if (backends.length > 0) out.push({ entry, backends });
    }
    return out;
  }

  /** An EKS and an upstream ClusterNetworkPolicy of one name: "ClusterNetworkPolicy/x" names two. */
  sharedNames(): void {
    const groups = new Map<string, Set<string>>();
    for (const c of this.cluster) groups.set(c.name, (groups.get(c.name) ?? new Set()).add(c.apiVersion.split('/')[0] ?? c.apiVersion));
    for (const [name, set] of groups) {
      if (set.size < 2) continue;
      this.warn(
        `ClusterNetworkPolicy/${name}`,
        'metadata.name',
        `ClusterNetworkPolicy "${name}" exists in both ${[...set].sort().join(' and ')}: references by name (explain, lint, decision logs, kubectl get clusternetworkpolicy) are ambiguous; rename one`,
      );
    }
  }

  /** Pods a rule's peers can name as the destination (for named-port resolution). */
  private destinations(p: AnyPolicy, d: Direction, rule: RuleModel): PodEntry[] {
    if (d === 'Ingress') return this.selected(p.subject);
    if (rule.peers === 'any') return [...this.pods];
    const peers = rule.peers;
    return this.pods.filter((pod) =>
      peers.some(
        (peer) =>
          (peer.kind === 'pods' && this.selections.selects(peer, pod)) ||
          (peer.kind === 'ipBlock' && pod.ips.some((ip) => ipBlockContains(peer.block, ip))),
      ),
    );
  }

  namedPorts(): void {
    if (this.pods.length === 0) return;
    for (const p of [...this.cluster, ...this.namespaced]) {
      for (const d of ['Ingress', 'Egress'] as const) {
        for (const rule of rulesOf(p, d)) {
          if (rule.ports === 'any') continue;
          for (const port of rule.ports) {
            if (port.kind !== 'named') continue;
            const dests = this.destinations(p, d, rule);
            const defined = dests.some((pod) => pod.namedPorts.some((np) => np.name === port.name && (port.protocol === null || port.protocol === np.protocol)));
            if (!defined) {
              const proto = port.protocol === null ? '' : ` (${port.protocol})`;
              this.warn(p.ref, ruleField(d, rule), `named port "${port.name}"${proto} is defined by none of the ${dests.length} pod(s) this rule can reach, so it matches nothing`);
            }
          }
        }
      }
    }
  }

  emptySelectors(): void {
    const nodes = this.index.nodes;
    for (const p of [...this.cluster, ...this.namespaced]) {
      if (this.pods.length > 0 && this.selected(p.subject).length === 0) {
        this.warn(p.ref, p.kind === 'ClusterNetworkPolicy' ? 'spec.subject' : 'spec.podSelector', `selects no pod of the given state (${describeSelection(p.subject)})`);
      }
      for (const d of ['Ingress', 'Egress'] as const) {
        for (const rule of rulesOf(p, d)) {
          if (rule.peers === 'any') continue;
          for (const peer of rule.peers) {
            if (peer.kind === 'pods' && this.pods.length > 0 && this.selected(peer).length === 0) {
              this.warn(p.ref, ruleField(d, rule), `peer ${describeSelection(peer)} matches no pod of the given state`);
            }
            if (peer.kind === 'nodes' && nodes.length > 0 && !nodes.some((n) => selectorMatches(peer.selector, n.labels))) {
              this.warn(p.ref, ruleField(d, rule), `nodes peer {${formatSelector(peer.selector)}} matches no node of the given state`);
            }
          }
        }
      }
    }
  }
}

/**
 * Warnings (and model errors such as an unparsable CIDR) about the policies of `state`. Checks that
 * depend on pods or nodes are skipped when the state holds none, so linting policy files alone
 * does not drown in "selects nothing".
 */
export function lintPolicies(state: ClusterState): LintFinding[] {
  const l = new Linter(state);
  l.samePriority();
  l.shadowed();
  l.domainNamesEffect();
  l.domainNamesWithoutDns();
  l.serviceBackendsByIP();
  l.sharedNames();
  l.namedPorts();
  l.emptySelectors();
  return l.findings;
}
