// Every tier on a real node (test/e2e/fixtures/tiers.yaml): the IMDS Admin Deny beats a namespace
// allow-all, an on-premises CNP opens *.corp.example.com on 443 only, an Admin Pass hands a
// namespace to its ApplicationNetworkPolicy, and a Baseline deny-by-default holds where no
// NetworkPolicy opens the namespace. Each connection is a real curl inside the pod's namespace,
// resolving through its resolv.conf; each verdict is checked against the client (200 or timeout)
// and against the agent's decision log (tier, policy, rule).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2eNode, KUBE_DNS, REPO, needRoot } from './node.js';
import { join } from 'node:path';

const ZONE = [
  { name: 'api.example.com', type: 'A' as const, data: '203.0.113.60' },
  { name: 'erp.corp.example.com', type: 'A' as const, data: '198.51.100.80' },
  { name: 'corp.example.com', type: 'A' as const, data: '198.51.100.81' },
  { name: 'www.example.org', type: 'A' as const, data: '198.51.100.82' },
];

type Case = [what: string, pod: string, url: string, dst: string, dport: number, verdict: 'allow' | 'deny', tier: string, policy: string | null, rule: string | number | null];

const CASES: Case[] = [
  ['IMDS: Admin Deny beats the namespace allow-all', 'legacy/app', 'http://169.254.169.254:80/', '169.254.169.254', 80, 'deny', 'Admin', 'ClusterNetworkPolicy/block-instance-metadata-service', 'deny-imds'],
  ['IMDS: the namespace allow-all opens the rest', 'legacy/app', 'http://198.51.100.65:80/', '198.51.100.65', 80, 'allow', 'NetworkPolicy', 'NetworkPolicy/legacy/allow-all-ipv4-egress', 0],
  ['IMDS: denied for every namespace', 'hybrid/ledger', 'http://169.254.169.254:80/', '169.254.169.254', 80, 'deny', 'Admin', 'ClusterNetworkPolicy/block-instance-metadata-service', 'deny-imds'],
  ['on-premises: a subdomain on 443', 'hybrid/ledger', 'http://erp.corp.example.com:443/', '198.51.100.80', 443, 'allow', 'Admin', 'ClusterNetworkPolicy/on-premises-access', 'corp-https'],
  ['on-premises: the subdomain on 80', 'hybrid/ledger', 'http://erp.corp.example.com:80/', '198.51.100.80', 80, 'deny', 'Baseline', 'ClusterNetworkPolicy/baseline-default-deny', 'default-deny'],
  ['on-premises: the apex', 'hybrid/ledger', 'http://corp.example.com:443/', '198.51.100.81', 443, 'deny', 'Baseline', 'ClusterNetworkPolicy/baseline-default-deny', 'default-deny'],
  ['on-premises: another name', 'hybrid/ledger', 'http://www.example.org:443/', '198.51.100.82', 443, 'deny', 'Baseline', 'ClusterNetworkPolicy/baseline-default-deny', 'default-deny'],
  ['Pass: the ApplicationNetworkPolicy allows its name', 'teams/app', 'http://api.example.com:443/', '203.0.113.60', 443, 'allow', 'NetworkPolicy', 'ApplicationNetworkPolicy/teams/teams-egress', 0],
  ['Pass: the lower Admin Accept does not apply', 'teams/app', 'http://203.0.113.64:443/', '203.0.113.64', 443, 'deny', 'NetworkPolicy', null, null],
  ['Pass: other namespaces get the Admin Accept', 'legacy/app', 'http://203.0.113.64:443/', '203.0.113.64', 443, 'allow', 'Admin', 'ClusterNetworkPolicy/accept-documentation-range', 'accept-range'],
  ['Baseline: denied by default', 'locked-a/app', 'http://198.51.100.66:80/', '198.51.100.66', 80, 'deny', 'Baseline', 'ClusterNetworkPolicy/baseline-default-deny', 'default-deny'],
  ['Baseline: a namespace NetworkPolicy opens its flow', 'locked-b/app', 'http://198.51.100.65:80/', '198.51.100.65', 80, 'allow', 'NetworkPolicy', 'NetworkPolicy/locked-b/allow-reports', 0],
  ['Baseline: not consulted once a NetworkPolicy selects the pod', 'locked-b/app', 'http://198.51.100.66:80/', '198.51.100.66', 80, 'deny', 'NetworkPolicy', null, null],
];

describe.skipIf(!needRoot)('e2e: tiers', () => {
  let node: E2eNode;
  beforeAll(async () => {
    node = await E2eNode.create({
      manifests: [join(REPO, 'test/e2e/fixtures/tiers.yaml'), KUBE_DNS],
      zone: ZONE,
      harness: { outside: { addresses: ['169.254.169.254', '203.0.113.64', '198.51.100.65', '198.51.100.66'] } },
    });
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  it.concurrent.each(CASES)('%s', async (_what, pod, url, dst, dport, verdict, tier, policy, rule) => {
    const r = await node.curl(pod, url);
    if (verdict === 'allow') {
      expect(r.stderr).toBe('');
      expect(r.body).toBe(`outside ${dst} port ${dport} from ${node.h.pod(pod).ipv4}`);
    } else {
      expect(r.code).toBe(28); // timed out: dropped, never refused
    }
    const d = await node.decision({ pod, dst, dport, decision: verdict });
    expect({ tier: d.tier, policy: d.policy, rule: d.rule }).toEqual({ tier, policy, rule });
  });
});
