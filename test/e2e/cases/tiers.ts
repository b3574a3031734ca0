// The tier scenarios of test/e2e/fixtures/tiers.yaml: each row is a real curl from a pod and the
// verdict expected from the client (body or timeout) and from the decision log (tier, policy, rule).
import { join } from 'node:path';
import type { ZoneRecord } from '../../../src/sandbox/index.js';
import { KUBE_DNS, REPO } from '../node.js';

export const TIERS_MANIFESTS = [join(REPO, 'test/e2e/fixtures/tiers.yaml'), KUBE_DNS];

export const TIERS_ZONE: ZoneRecord[] = [
  { name: 'api.example.com', type: 'A', data: '203.0.113.60' },
  { name: 'erp.corp.example.com', type: 'A', data: '198.51.100.80' },
  { name: 'corp.example.com', type: 'A', data: '198.51.100.81' },
  { name: 'www.example.org', type: 'A', data: '198.51.100.82' },
];

/** Outside servers the cases reach by address (the zone's are added by the harness). */
export const TIERS_OUTSIDE = ['169.254.169.254', '203.0.113.64', '198.51.100.65', '198.51.100.66'];

export type TierCase = [what: string, pod: string, url: string, dst: string, dport: number, verdict: 'allow' | 'deny', tier: string, policy: string | null, rule: string | number | null];

export const TIER_CASES: TierCase[] = [
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
