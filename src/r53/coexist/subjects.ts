// Groups the cluster's pods into policy subjects: pods that the same policies select for egress
// (every tier) and that have the same IP families get the same egress verdict for any address
// outside the cluster, so the analysis evaluates one of them and reports the group.
import type { Evaluator } from '../../policy/evaluate.js';
import type { PodEntry } from '../../policy/cluster-index.js';
import type { ClusterPolicyModel, NamespacedPolicyModel, RuleModel } from '../../policy/model.js';
import type { FlowProtocol } from '../../policy/verdict.js';
import type { PatternRef, Subject } from './types.js';

export interface PortProbe {
  readonly protocol: Exclude<FlowProtocol, 'ICMP'>;
  readonly port: number;
}

export const DEFAULT_PORT: PortProbe = { protocol: 'TCP', port: 443 };

export function portLabel(p: PortProbe): string {
  return `${p.protocol}/${p.port}`;
}

export interface SubjectContext {
  readonly subject: Subject;
  /** The pod the evaluator is asked about. */
  readonly pod: PodEntry;
  /** Every domainNames pattern of an egress rule of a selecting policy. */
  readonly patterns: readonly PatternRef[];
  readonly ports: readonly PortProbe[];
}

type AnyPolicy = ClusterPolicyModel | NamespacedPolicyModel;

function egressPolicies(evaluator: Evaluator, pod: PodEntry): AnyPolicy[] {
  const cluster = evaluator.model.cluster.filter((c) => evaluator.selects(c, pod));
  const namespaced = evaluator.model.namespaced.filter((n) => n.policyTypes.includes('Egress') && evaluator.selects(n, pod));
  return [...cluster, ...namespaced];
}

function domainPatterns(policies: readonly AnyPolicy[]): PatternRef[] {
  const out: PatternRef[] = [];
  for (const policy of policies) {
    for (const rule of policy.egress) {
      if (rule.action !== 'Accept' || rule.peers === 'any') continue;
      for (const peer of rule.peers) {
        if (peer.kind === 'domainNames') for (const pattern of peer.patterns) out.push({ pattern, policy: policy.ref, rule: rule.id });
      }
    }
  }
  return out;
}

/** The ports the egress rules name (first port of a range; 443 for "all ports of a protocol"). */
function rulePorts(rules: readonly RuleModel[]): PortProbe[] {
  const out: PortProbe[] = [];
  for (const rule of rules) {
    if (rule.ports === 'any') continue;
    for (const p of rule.ports) {
      if (p.kind === 'range') out.push({ protocol: p.protocol, port: p.start });
      else if (p.kind === 'allPorts') out.push({ protocol: p.protocol, port: 443 });
      // Named ports resolve on destination pods; addresses from DNS answers have none.
    }
  }
  return out;
}

function uniquePorts(ports: readonly PortProbe[]): PortProbe[] {
  const seen = new Map<string, PortProbe>();
  for (const p of ports) seen.set(portLabel(p), p);
  return [...seen.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port);
}

export interface SubjectOptions {
  /** Probe exactly these ports instead of the ones the rules name. */
  readonly ports?: readonly PortProbe[];
}

/**
 * Subjects of the analysis. Host-network pods (egress not enforced, and their lookups do not pass
 * the pod-side proxy) and pods without an IP are left out; `skipped` says which and why.
 */
export function buildSubjects(evaluator: Evaluator, options: SubjectOptions = {}): { subjects: SubjectContext[]; skipped: string[] } {
  const groups = new Map<string, { pods: PodEntry[]; policies: AnyPolicy[]; families: (4 | 6)[] }>();
  const skipped: string[] = [];
  const pods = [...evaluator.index.pods].sort((a, b) => a.key.localeCompare(b.key));
  for (const pod of pods) {
    if (pod.hostNetwork) {
      skipped.push(`${pod.key}: host-network pod (egress not enforced)`);
      continue;
    }
    if (pod.ips.length === 0) {
      skipped.push(`${pod.key}: no pod IP`);
      continue;
    }
    const policies = egressPolicies(evaluator, pod);
    const families = [...new Set(pod.ips.map((ip) => ip.family))].sort();
    const key = `${families.join(',')}|${policies.map((p) => p.ref).join('|')}`;
    const group = groups.get(key);
    if (group) group.pods.push(pod);
    else groups.set(key, { pods: [pod], policies, families });
  }
  const subjects = [...groups.values()].map(({ pods: members, policies, families }): SubjectContext => {
    const first = members[0] as PodEntry;
    const ports = uniquePorts(options.ports ?? [DEFAULT_PORT, ...rulePorts(policies.flatMap((p) => p.egress))]);
    return {
      pod: first,
      patterns: domainPatterns(policies),
      ports,
      subject: {
        id: first.key,
        pods: members.map((m) => m.key),
        policies: policies.map((p) => p.ref),
        families,
        ports: ports.map(portLabel),
      },
    };
  });
  return { subjects, skipped };
}
