// The DNS proxy's view of the local pods, rebuilt from the same compilation the datapath enforces:
// pod IP -> (pod key, its domain rules, egress isolation). The proxy caches a compiled matcher per
// domainRules array by identity, so an unchanged pod keeps the very same array across rebuilds.
import type { ClusterState } from '../api/types.js';
import type { CompiledNode } from '../compile/types.js';
import type { DomainRuleRef } from '../datapath/types.js';
import type { PodDnsPolicy, PolicyView } from '../dns/policy-view.js';
import { canonicalIp } from './host-port.js';

export class CompiledPolicyView implements PolicyView {
  private byIp = new Map<string, PodDnsPolicy>();
  /** Per pod: the text identity of its rules and the array handed out for it. */
  private rulesOf = new Map<string, { key: string; rules: readonly DomainRuleRef[] }>();

  podBySource(sourceIp: string): PodDnsPolicy | undefined {
    return this.byIp.get(sourceIp) ?? this.byIp.get(canonicalIp(sourceIp) ?? sourceIp);
  }

  /** Every pod the view knows (diagnostics, tests). */
  pods(): PodDnsPolicy[] {
    return [...new Set(this.byIp.values())];
  }

  /** Replaces the view from a compilation and the state it was compiled from. */
  rebuild(node: CompiledNode, state: ClusterState): void {
    const ipsOf = new Map<string, string[]>();
    for (const pod of state.pods) {
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      if (!node.endpoints.has(key)) continue;
      const raw = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)];
      const ips = [...new Set(raw.map((ip) => (ip ? canonicalIp(ip) : undefined)).filter((x): x is string => x !== undefined))];
      ipsOf.set(key, ips);
    }
    const byIp = new Map<string, PodDnsPolicy>();
    const rulesOf = new Map<string, { key: string; rules: readonly DomainRuleRef[] }>();
    for (const ep of node.endpoints.values()) {
      if (ep.config.mode === 'notEnforced') continue;
      const rules: DomainRuleRef[] = [];
      for (const slotId of ep.slots) {
        const slot = node.slots.get(slotId);
        if (!slot) continue;
        for (const pattern of slot.patterns) rules.push({ rule: slot.rule, pattern });
      }
      const key = rules.map((r) => `${r.rule}\u0000${r.pattern}`).join('\u0001');
      const prev = this.rulesOf.get(ep.key);
      const kept = prev !== undefined && prev.key === key ? prev : { key, rules: Object.freeze(rules) };
      rulesOf.set(ep.key, kept);
      const policy: PodDnsPolicy = { pod: ep.key, domainRules: kept.rules, egressIsolated: ep.config.egressIsolated };
      const ips = ipsOf.get(ep.key) ?? [ep.config.podIp4, ep.config.podIp6].filter((x): x is string => x !== undefined);
      for (const ip of ips) byIp.set(ip, policy);
    }
    this.byIp = byIp;
    this.rulesOf = rulesOf;
  }
}
