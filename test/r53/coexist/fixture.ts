// One small cluster, firewall and zone set that exercise every outcome kind; tests vary pieces.
import { analyzeCoexistence, userNames } from '../../../src/r53/coexist/index.js';
import type { CoexistInput, CoexistReport, Row } from '../../../src/r53/coexist/index.js';
import type { ZoneSet } from '../../../src/r53/zone-model.js';
import { anp, firewall, pods, state, zones } from './helpers.js';

export const ZONES = `
zones:
  - origin: example.com
    records:
      - { name: ok, type: A, value: 192.0.2.1 }
      - { name: ok, type: AAAA, value: "2001:db8::1" }
      - { name: alert, type: A, value: 192.0.2.2 }
      - { name: nx, type: A, value: 192.0.2.3 }
      - { name: nodata, type: A, value: 192.0.2.4 }
      - { name: chain, type: CNAME, value: bad.example.net, ttl: 100 }
      - { name: legacy, type: A, value: 192.0.2.6 }
      - { name: v6less, type: A, value: 192.0.2.8 }
      - { name: denied, type: A, value: 203.0.113.9 }
      - { name: mail, type: A, value: 192.0.2.10 }
      - { name: mail, type: AAAA, value: "2001:db8::10" }
      - { name: "*.wild", type: A, value: 192.0.2.11 }
      - { name: trusted, type: CNAME, value: hidden.example.net }
      - { name: inspected, type: CNAME, value: bad.example.net }
  - origin: example.net
    records:
      - { name: bad, type: A, value: 192.0.2.5 }
      - { name: hidden, type: A, value: 192.0.2.12 }
      - { name: target, type: A, value: 198.51.100.7, ttl: 300 }
`;

export interface FirewallOptions {
  readonly settings?: Record<string, unknown>;
  /** Extra domain lists and rules (rules go first, in their own group at priority 100). */
  readonly lists?: readonly Record<string, unknown>[];
  readonly rules?: readonly Record<string, unknown>[];
}

export function testFirewall(o: FirewallOptions = {}) {
  const extraRules = o.rules ?? [];
  return firewall({
    settings: o.settings ?? {},
    domainLists: [
      { name: 'ok', domains: ['ok.example.com'] },
      { name: 'alert', domains: ['alert.example.com'] },
      { name: 'nx', domains: ['nx.example.com'] },
      { name: 'nodata', domains: ['nodata.example.com', 'bad.example.net'] },
      { name: 'legacy', domains: ['legacy.example.com'] },
      { name: 'mail', domains: ['mail.example.com'] },
      { name: 'trusted', domains: ['trusted.example.com'] },
      { name: 'inspected', domains: ['inspected.example.com'] },
      ...(o.lists ?? []),
    ],
    ruleGroups: [
      ...(extraRules.length > 0 ? [{ name: 'extra', rules: extraRules }] : []),
      {
        name: 'g',
        rules: [
          { name: 'allow-ok', priority: 10, domainList: 'ok', action: 'ALLOW' },
          { name: 'alert', priority: 20, domainList: 'alert', action: 'ALERT' },
          { name: 'block-nx', priority: 30, domainList: 'nx', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
          { name: 'block-nodata', priority: 40, domainList: 'nodata', action: 'BLOCK', blockResponse: 'NODATA' },
          {
            name: 'rewrite',
            priority: 50,
            domainList: 'legacy',
            action: 'BLOCK',
            blockResponse: 'OVERRIDE',
            blockOverrideDomain: 'target.example.net',
            blockOverrideTtl: 30,
            blockOverrideDnsType: 'CNAME',
          },
          { name: 'mail-v4', priority: 60, domainList: 'mail', action: 'BLOCK', blockResponse: 'NODATA', qtype: 'AAAA' },
          { name: 'trust', priority: 70, domainList: 'trusted', action: 'ALLOW', firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN' },
          { name: 'inspect', priority: 80, domainList: 'inspected', action: 'ALLOW' },
        ],
      },
    ],
    associations: [...(extraRules.length > 0 ? [{ ruleGroup: 'extra', priority: 100 }] : []), { ruleGroup: 'g', priority: 200 }],
  });
}

const WEB_PATTERNS = [
  'ok.example.com',
  'alert.example.com',
  'nx.example.com',
  'nodata.example.com',
  'chain.example.com',
  'legacy.example.com',
  'gone.example.com',
  'v6less.example.com',
  'denied.example.com',
  'mail.example.com',
  '*.wild.example.com',
  'trusted.example.com',
  'inspected.example.com',
];

export const ADMIN_DENY = `apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata:
  name: deny-range
spec:
  tier: Admin
  priority: 5
  subject:
    namespaces: {}
  egress:
  - name: deny
    action: Deny
    to:
    - networks: [203.0.113.0/24]`;

export const CIDR_POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: cidr
  namespace: app
spec:
  podSelector:
    matchLabels: { app: cidr }
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: { cidr: 198.51.100.0/24 }
    ports:
    - { protocol: TCP, port: 443 }`;

export function testState(extra: readonly string[] = []) {
  return state(
    [
      pods([
        { name: 'web', labels: { app: 'web' }, ips: ['10.1.0.1', 'fd00::1'] },
        { name: 'v4', labels: { app: 'v4' }, ips: ['10.1.0.2'] },
        { name: 'cidr', labels: { app: 'cidr' }, ips: ['10.1.0.3'] },
        { name: 'open', labels: { app: 'open' }, ips: ['10.1.0.4'] },
      ]),
      ADMIN_DENY,
      anp('web', 'web', WEB_PATTERNS),
      anp('v4', 'v4', ['*.example.net', 'ok.example.com', 'nx.example.com']),
      CIDR_POLICY,
      ...extra,
    ].join('\n---\n'),
  );
}

export const ALL_NAMES = [...WEB_PATTERNS, 'target.example.net'];

export function testZones(): ZoneSet {
  return zones(ZONES);
}

export type AnalyzeOptions = Omit<Partial<CoexistInput>, 'names'> & { fw?: FirewallOptions; names?: readonly string[] };

export function analyze(over: AnalyzeOptions = {}): CoexistReport {
  const { fw, names, ...rest } = over;
  return analyzeCoexistence({
    state: testState(),
    firewall: testFirewall(fw),
    zones: testZones(),
    ...rest,
    names: userNames(names ?? ALL_NAMES, 'test'),
  });
}

export function row(report: CoexistReport, subject: string, name: string): Row {
  const r = report.rows.find((x) => x.subject === subject && x.name === name);
  if (!r) throw new Error(`no row for ${subject} ${name}`);
  return r;
}
