// What the proxy needs to know about the client of each query. The agent implements this from the
// cluster state (pod IPs, the domain rules that select each pod, egress isolation); tests use
// StaticPolicyView.
import type { DomainRuleRef } from '../datapath/types.js';

export interface PodDnsPolicy {
  /** The pod's endpoint key (`namespace/name`), the `pod` of every entry learned for it. */
  readonly pod: string;
  /**
   * Every domain rule that applies to the pod's egress. The proxy compiles a matcher per array
   * and caches it by identity: return the SAME array object until the rules change.
   */
  readonly domainRules: readonly DomainRuleRef[];
  /** Some policy isolates the pod's egress (what `queryFilter` keys on). */
  readonly egressIsolated: boolean;
}

export interface PolicyView {
  /** The pod whose IP is `sourceIp`, or undefined for anything else (forwarded, never learns). */
  podBySource(sourceIp: string): PodDnsPolicy | undefined;
}

/** A PolicyView fed directly: by tests, benchmarks and the file-driven CLI. */
export class StaticPolicyView implements PolicyView {
  private readonly byIp = new Map<string, PodDnsPolicy>();

  /** Register (or replace) a pod under all its IPs. */
  setPod(ips: readonly string[], policy: PodDnsPolicy): void {
    this.removePod(policy.pod);
    for (const ip of ips) this.byIp.set(ip, policy);
  }

  removePod(pod: string): void {
    for (const [ip, p] of this.byIp) if (p.pod === pod) this.byIp.delete(ip);
  }

  podBySource(sourceIp: string): PodDnsPolicy | undefined {
    return this.byIp.get(sourceIp);
  }
}
