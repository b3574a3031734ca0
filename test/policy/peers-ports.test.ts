// Table-driven cases for SEMANTICS.md section 4 (peers and ports), Services and domain names.
import { describe, expect, it } from 'vitest';
import { type DirectionVerdict, type EvalOptions, Evaluator, type Flow, type LearnedIP } from '../../src/policy/index.js';
import { ClusterIndex, LearnedIndex, type PodEntry, findNamedPort, findNamedPorts, parseIP } from '../../src/policy/index.js';
import { type MatchContext, SelectionCache, type Target, peerMatches } from '../../src/policy/match.js';
import { STANDARD, STRICT, baseState, cnp, docs, eksCnp, evaluate, np } from './support/base.js';

const CLIENT = `pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: client}}}`;

/** An NP making a/client egress-isolated with the given egress rules. */
function clientEgress(rules: string): string {
  return np('a', 'client-egress', `
    podSelector: {matchLabels: {app: client}}
    policyTypes: [Egress]
    egress:
${rules.replace(/^\n+/, '').split('\n').map((l) => `    ${l}`).join('\n')}`);
}

/** An Admin CNP from a/client whose only egress rule Accepts, in strict mode. */
function adminAccept(rule: string, shape: 'upstream' | 'eks' = 'upstream'): string {
  const make = shape === 'eks' ? eksCnp : cnp;
  return make('acc', `
    tier: Admin
    priority: 1
    subject: {${CLIENT}}
    egress:
    - ${rule}`);
}

interface Case {
  name: string;
  policies: string;
  flow: Flow;
  opts?: Partial<EvalOptions>;
  egress: DirectionVerdict['verdict'];
}

const f = (to: string, protocol: Flow['protocol'], port?: number, from = 'a/client'): Flow =>
  port === undefined ? { from, to, protocol } : { from, to, protocol, port };

const npPeers: Case[] = [
  { name: 'podSelector alone = same namespace', policies: clientEgress(`- to: [{podSelector: {matchLabels: {app: server}}}]`), flow: f('a/server', 'TCP', 8080), egress: 'Allow' },
  { name: 'podSelector alone does not reach other namespaces', policies: clientEgress(`- to: [{podSelector: {matchLabels: {app: server}}}]`), flow: f('b/web', 'TCP', 9090), egress: 'Deny' },
  { name: 'namespaceSelector alone = all pods of those namespaces', policies: clientEgress(`- to: [{namespaceSelector: {matchLabels: {team: b}}}]`), flow: f('b/db', 'TCP', 5432), egress: 'Allow' },
  { name: 'namespaceSelector alone excludes other namespaces', policies: clientEgress(`- to: [{namespaceSelector: {matchLabels: {team: b}}}]`), flow: f('a/server', 'TCP', 8080), egress: 'Deny' },
  {
    name: 'both selectors in one peer = AND (match)',
    policies: clientEgress(`- to: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: server}}}]`),
    flow: f('b/web', 'TCP', 9090),
    egress: 'Allow',
  },
  {
    name: 'both selectors in one peer = AND (pod label misses)',
    policies: clientEgress(`- to: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: server}}}]`),
    flow: f('b/db', 'TCP', 5432),
    egress: 'Deny',
  },
  {
    name: 'separate peers = OR',
    policies: clientEgress(`- to: [{namespaceSelector: {matchLabels: {team: b}}}, {podSelector: {matchLabels: {app: server}}}]`),
    flow: f('a/server', 'TCP', 8080),
    egress: 'Allow',
  },
  {
    name: 'NotIn matches a missing key',
    policies: clientEgress(`- to: [{namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}}]`),
    flow: f('a/server', 'TCP', 8080),
    egress: 'Allow',
  },
  {
    name: 'DoesNotExist matches a missing key',
    policies: clientEgress(`- to: [{podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}, namespaceSelector: {}}]`),
    flow: f('b/db', 'TCP', 5432),
    egress: 'Allow',
  },
  {
    name: 'kubernetes.io/metadata.name is implied on namespaces',
    policies: clientEgress(`- to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}}]`),
    flow: f('b/db', 'TCP', 5432),
    egress: 'Allow',
  },
  { name: 'ipBlock matches pod IPs', policies: clientEgress(`- to: [{ipBlock: {cidr: 10.0.1.0/24}}]`), flow: f('b/db', 'TCP', 5432), egress: 'Allow' },
  { name: 'ipBlock except excludes', policies: clientEgress(`- to: [{ipBlock: {cidr: 10.0.1.0/24, except: [10.0.1.0/31]}}]`), flow: f('b/db', 'TCP', 5432), egress: 'Deny' },
  { name: 'ipBlock except leaves the rest', policies: clientEgress(`- to: [{ipBlock: {cidr: 10.0.1.0/24, except: [10.0.1.0/31]}}]`), flow: f('10.0.1.7', 'TCP', 1), egress: 'Allow' },
  { name: 'ipBlock matches external IPs', policies: clientEgress(`- to: [{ipBlock: {cidr: 0.0.0.0/0}}]`), flow: f('8.8.8.8', 'UDP', 53), egress: 'Allow' },
  { name: 'ipBlock IPv6', policies: clientEgress(`- to: [{ipBlock: {cidr: "2001:db8::/32"}}]`), flow: f('2001:db8::5', 'TCP', 443), egress: 'Allow' },
  { name: 'ipBlock IPv4 never matches IPv6', policies: clientEgress(`- to: [{ipBlock: {cidr: 0.0.0.0/0}}]`), flow: f('2001:db8::5', 'TCP', 443), egress: 'Deny' },
  { name: 'rule with no peers = all destinations', policies: clientEgress(`- ports: [{port: 443}]`), flow: f('8.8.8.8', 'TCP', 443), egress: 'Allow' },
  { name: 'pod selectors never match host-network pods (NetworkPolicy)', policies: clientEgress(`- to: [{namespaceSelector: {}}]`), flow: f('b/agent', 'TCP', 9100), egress: 'Deny' },
];

const npPorts: Case[] = [
  { name: 'no ports = all ports and protocols', policies: clientEgress(`- to: [{ipBlock: {cidr: 0.0.0.0/0}}]`), flow: f('8.8.8.8', 'SCTP', 9), egress: 'Allow' },
  { name: 'no ports matches ICMP', policies: clientEgress(`- to: [{ipBlock: {cidr: 0.0.0.0/0}}]`), flow: f('8.8.8.8', 'ICMP'), egress: 'Allow' },
  { name: 'a rule with ports never matches ICMP', policies: clientEgress(`- ports: [{protocol: TCP}, {protocol: UDP}, {protocol: SCTP}]`), flow: f('8.8.8.8', 'ICMP'), egress: 'Deny' },
  { name: 'port without protocol = TCP', policies: clientEgress(`- ports: [{port: 53}]`), flow: f('8.8.8.8', 'TCP', 53), egress: 'Allow' },
  { name: 'port without protocol does not match UDP', policies: clientEgress(`- ports: [{port: 53}]`), flow: f('8.8.8.8', 'UDP', 53), egress: 'Deny' },
  { name: 'protocol without port = all its ports', policies: clientEgress(`- ports: [{protocol: UDP}]`), flow: f('8.8.8.8', 'UDP', 65535), egress: 'Allow' },
  { name: 'protocol without port excludes others', policies: clientEgress(`- ports: [{protocol: UDP}]`), flow: f('8.8.8.8', 'TCP', 53), egress: 'Deny' },
  { name: 'endPort range, inside', policies: clientEgress(`- ports: [{port: 1000, endPort: 2000}]`), flow: f('8.8.8.8', 'TCP', 2000), egress: 'Allow' },
  { name: 'endPort range, outside', policies: clientEgress(`- ports: [{port: 1000, endPort: 2000}]`), flow: f('8.8.8.8', 'TCP', 2001), egress: 'Deny' },
  { name: 'SCTP port', policies: clientEgress(`- ports: [{protocol: SCTP, port: 9}]`), flow: f('8.8.8.8', 'SCTP', 9), egress: 'Allow' },
  { name: 'named port resolves on the destination pod', policies: clientEgress(`- ports: [{port: http}]`), flow: f('a/server', 'TCP', 8080), egress: 'Allow' },
  { name: 'named port: another pod defines the name at another number', policies: clientEgress(`- ports: [{port: http}]`), flow: f('a/server', 'TCP', 9090), egress: 'Deny' },
  { name: 'named port resolves per destination (b/web http = 9090)', policies: clientEgress(`- ports: [{port: http}]`), flow: f('b/web', 'TCP', 9090), egress: 'Allow' },
  { name: 'named port with the wrong protocol matches nothing', policies: clientEgress(`- ports: [{port: dns}]`), flow: f('a/server', 'UDP', 53), egress: 'Deny' },
  { name: 'named port with its protocol', policies: clientEgress(`- ports: [{port: dns, protocol: UDP}]`), flow: f('a/server', 'UDP', 53), egress: 'Allow' },
  { name: 'an IP with no pod has no named ports', policies: clientEgress(`- ports: [{port: http}]`), flow: f('8.8.8.8', 'TCP', 8080), egress: 'Deny' },
  { name: 'an IP literal of a pod is that pod (named port resolves)', policies: clientEgress(`- ports: [{port: http}]`), flow: f('10.0.0.2', 'TCP', 8080), egress: 'Allow' },
  // A host-network pod's IP is its node's, which has no named ports, whichever way the flow names it.
  { name: 'host-network pod by name: no named ports', policies: clientEgress(`- ports: [{port: metrics}]`), flow: f('b/agent', 'TCP', 9100), egress: 'Deny' },
  { name: 'host-network pod by name, ipBlock peer: no named ports', policies: clientEgress(`- to: [{ipBlock: {cidr: 192.168.0.0/24}}]\n  ports: [{port: metrics}]`), flow: f('b/agent', 'TCP', 9100), egress: 'Deny' },
  { name: 'host-network pod by node IP: no named ports', policies: clientEgress(`- ports: [{port: metrics}]`), flow: f('192.168.0.2', 'TCP', 9100), egress: 'Deny' },
  { name: 'host-network pod by name: numeric port still matches', policies: clientEgress(`- ports: [{port: 9100}]`), flow: f('b/agent', 'TCP', 9100), egress: 'Allow' },
];

const cnpPeers: Case[] = [
  { name: 'CNP namespaces peer', policies: adminAccept(`{action: Accept, to: [{namespaces: {matchLabels: {team: b}}}]}`), flow: f('b/db', 'TCP', 5432), opts: STRICT, egress: 'Allow' },
  {
    name: 'CNP pods peer never matches a host-network pod',
    policies: adminAccept(`{action: Accept, to: [{namespaces: {}}, {pods: {namespaceSelector: {}, podSelector: {}}}]}`),
    flow: f('b/agent', 'TCP', 9100),
    opts: STRICT,
    egress: 'Deny',
  },
  // Upstream NamespacedPod.namespaceSelector is optional; absent is the empty selector (all namespaces).
  { name: 'upstream pods peer without namespaceSelector = every namespace', policies: adminAccept(`{action: Accept, to: [{pods: {podSelector: {matchLabels: {app: db}}}}]}`), flow: f('b/db', 'TCP', 5432), opts: STRICT, egress: 'Allow' },
  { name: 'upstream pods peer without namespaceSelector, label miss', policies: adminAccept(`{action: Accept, to: [{pods: {podSelector: {matchLabels: {app: db}}}}]}`), flow: f('a/server', 'TCP', 8080), opts: STRICT, egress: 'Deny' },
  {
    name: 'upstream pods subject without namespaceSelector = every namespace',
    policies: cnp('sub', `
      tier: Admin
      priority: 1
      subject: {pods: {podSelector: {matchLabels: {app: client}}}}
      egress: [{action: Accept, to: [{namespaces: {}}]}]`),
    flow: f('b/db', 'TCP', 5432),
    opts: STRICT,
    egress: 'Allow',
  },
  { name: 'CNP nodes peer matches a host-network pod (node IP)', policies: adminAccept(`{action: Accept, to: [{nodes: {matchLabels: {zone: z2}}}]}`), flow: f('b/agent', 'TCP', 9100), opts: STRICT, egress: 'Allow' },
  { name: 'CNP nodes peer matches a node address literal', policies: adminAccept(`{action: Accept, to: [{nodes: {matchLabels: {role: worker}}}]}`), flow: f('192.168.0.1', 'TCP', 10250), opts: STRICT, egress: 'Allow' },
  { name: 'CNP nodes peer: IPv6 node address', policies: adminAccept(`{action: Accept, to: [{nodes: {matchLabels: {zone: z1}}}]}`), flow: f('fd00::1', 'TCP', 10250), opts: STRICT, egress: 'Allow' },
  { name: 'CNP nodes peer: label mismatch', policies: adminAccept(`{action: Accept, to: [{nodes: {matchLabels: {zone: z1}}}]}`), flow: f('192.168.0.2', 'TCP', 10250), opts: STRICT, egress: 'Deny' },
  { name: 'CNP nodes peer never matches pods', policies: adminAccept(`{action: Accept, to: [{nodes: {}}]}`), flow: f('b/db', 'TCP', 5432), opts: STRICT, egress: 'Deny' },
  { name: 'CNP networks match pod IPs', policies: adminAccept(`{action: Accept, to: [{networks: [10.0.0.0/16]}]}`), flow: f('b/db', 'TCP', 5432), opts: STRICT, egress: 'Allow' },
  { name: 'CNP networks match node IPs', policies: adminAccept(`{action: Accept, to: [{networks: [192.168.0.0/24]}]}`), flow: f('b/agent', 'TCP', 9100), opts: STRICT, egress: 'Allow' },
  { name: 'CNP networks IPv4 /0 never matches IPv6', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}]}`), flow: f('2001:db8::1', 'TCP', 443), opts: STRICT, egress: 'Deny' },
  { name: 'CNP networks ::/0 matches IPv6', policies: adminAccept(`{action: Accept, to: [{networks: ["::/0"]}]}`), flow: f('2001:db8::1', 'TCP', 443), opts: STRICT, egress: 'Allow' },
  { name: 'dual-stack pod uses IPv6 toward an IPv6 literal', policies: adminAccept(`{action: Accept, to: [{networks: ["fd10::/64"]}]}`), flow: f('fd10::2', 'TCP', 8080), opts: STRICT, egress: 'Allow' },
  { name: 'upstream tcp destinationPort.number', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}`), flow: f('1.1.1.1', 'TCP', 443), opts: STRICT, egress: 'Allow' },
  { name: 'upstream tcp port does not match udp', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}`), flow: f('1.1.1.1', 'UDP', 443), opts: STRICT, egress: 'Deny' },
  { name: 'upstream range', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}], protocols: [{udp: {destinationPort: {range: {start: 100, end: 200}}}}]}`), flow: f('1.1.1.1', 'UDP', 150), opts: STRICT, egress: 'Allow' },
  { name: 'upstream named port takes the container protocol', policies: adminAccept(`{action: Accept, to: [{namespaces: {}}], protocols: [{destinationNamedPort: dns}]}`), flow: f('a/server', 'UDP', 53), opts: STRICT, egress: 'Allow' },
  { name: 'upstream named port: other protocol than the container port', policies: adminAccept(`{action: Accept, to: [{namespaces: {}}], protocols: [{destinationNamedPort: dns}]}`), flow: f('a/server', 'TCP', 53), opts: STRICT, egress: 'Deny' },
  { name: 'EKS portNumber', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}], ports: [{portNumber: {protocol: UDP, port: 53}}]}`, 'eks'), flow: f('1.1.1.1', 'UDP', 53), opts: STRICT, egress: 'Allow' },
  { name: 'EKS portRange', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}], ports: [{portRange: {protocol: TCP, start: 8000, end: 8100}}]}`, 'eks'), flow: f('1.1.1.1', 'TCP', 8100), opts: STRICT, egress: 'Allow' },
  { name: 'EKS namedPort', policies: adminAccept(`{action: Accept, to: [{namespaces: {}}], ports: [{namedPort: pg}]}`, 'eks'), flow: f('b/db', 'TCP', 5432), opts: STRICT, egress: 'Allow' },
  { name: 'CNP with ports never matches ICMP', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}], protocols: [{tcp: {destinationPort: {range: {start: 1, end: 65535}}}}]}`), flow: f('1.1.1.1', 'ICMP'), opts: STRICT, egress: 'Deny' },
  { name: 'CNP without ports matches ICMP', policies: adminAccept(`{action: Accept, to: [{networks: [0.0.0.0/0]}]}`), flow: f('1.1.1.1', 'ICMP'), opts: STRICT, egress: 'Allow' },
  { name: 'CNP ingress named port resolves on the local (destination) pod', policies: cnp('in', `
      tier: Admin
      priority: 1
      subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: server}}}}
      ingress: [{action: Deny, from: [{namespaces: {}}], protocols: [{destinationNamedPort: http}]}]`), flow: f('a/server', 'TCP', 8080), egress: 'Allow' },
];

describe.each([
  ['NetworkPolicy peers', npPeers],
  ['NetworkPolicy ports', npPorts],
  ['ClusterNetworkPolicy peers and ports', cnpPeers],
])('%s', (_t, cases) => {
  it.each(cases)('$name', (c) => {
    expect(evaluate(c.policies, c.flow, c.opts).egress.verdict).toBe(c.egress);
  });
});

describe('ingress named port on the destination pod', () => {
  it('denies a/client -> a/server:8080 via the ingress rule, and not :53/UDP', () => {
    const policies = cnp('in', `
      tier: Admin
      priority: 1
      subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: server}}}}
      ingress: [{name: no-http, action: Deny, from: [{namespaces: {}}], protocols: [{destinationNamedPort: http}]}]`);
    expect(evaluate(policies, f('a/server', 'TCP', 8080)).ingress).toMatchObject({ verdict: 'Deny', rule: 'no-http' });
    expect(evaluate(policies, f('a/server', 'UDP', 53)).ingress).toMatchObject({ verdict: 'Allow', tier: 'Default' });
  });
});

describe('Services: a ClusterIP matches pod-selecting egress rules through its EndpointSlices', () => {
  const toServer = (rule: string): string => clientEgress(rule);
  it.each([
    ['pod selector + target port (80 -> 8080)', `- to: [{podSelector: {matchLabels: {app: server}}}]\n  ports: [{port: 8080}]`, 80, 'Allow'],
    ['pod selector + named target port', `- to: [{podSelector: {matchLabels: {app: server}}}]\n  ports: [{port: http}]`, 80, 'Allow'],
    ['the service port itself is not the pod port', `- to: [{podSelector: {matchLabels: {app: server}}}]\n  ports: [{port: 80}]`, 80, 'Deny'],
    ['a port the Service does not expose', `- to: [{podSelector: {matchLabels: {app: server}}}]`, 81, 'Deny'],
    ['selector of pods that are not backends', `- to: [{podSelector: {matchLabels: {app: client}}}]`, 80, 'Deny'],
    ['ipBlock of the backend IP does not match the ClusterIP', `- to: [{ipBlock: {cidr: 10.0.0.2/32}}]`, 80, 'Deny'],
    ['ipBlock of the ClusterIP matches it', `- to: [{ipBlock: {cidr: 10.96.0.0/16}}]\n  ports: [{port: 80}]`, 80, 'Allow'],
    ['rule with no peers and the target port', `- ports: [{port: 8080}]`, 80, 'Allow'],
  ])('%s', (_n, rule, port, want) => {
    const v = evaluate(toServer(rule), f('10.96.0.10', 'TCP', port));
    expect(v.egress.verdict).toBe(want);
  });
});

describe("Services: a flow to a ClusterIP is subject to each backend pod's ingress at its target port", () => {
  // A second ready backend of a/server (10.0.0.3), so "any backend denies" can be told apart from "the first".
  const secondBackend = docs(
    `apiVersion: v1
kind: Pod
metadata: {name: server2, namespace: a, labels: {app: server, replica: two}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.0.0.3}`,
    `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: server-def, namespace: a, labels: {kubernetes.io/service-name: server}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.3], conditions: {ready: true}}]
ports: [{name: web, port: 8080, protocol: TCP}]`,
  );
  const ingressOn = (selector: string, rules: string): string =>
    np('a', 'server-in', `
      podSelector: {matchLabels: {${selector}}}
      policyTypes: [Ingress]
      ingress: ${rules}`);
  it.each([
    { name: 'no policy on the backend: the default decides', policies: '', port: 80, verdict: 'Allow', tier: 'Default', policy: null },
    { name: 'backend isolated for ingress, nothing allowed', policies: ingressOn('app: server', '[]'), port: 80, verdict: 'Deny', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/server-in' },
    { name: 'backend allows the target port', policies: ingressOn('app: server', '[{ports: [{port: 8080}]}]'), port: 80, verdict: 'Allow', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/server-in' },
    { name: 'the Service port is not what the backend sees', policies: ingressOn('app: server', '[{ports: [{port: 80}]}]'), port: 80, verdict: 'Deny', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/server-in' },
    { name: 'named target port resolves on the backend', policies: ingressOn('app: server', '[{ports: [{port: http}]}]'), port: 80, verdict: 'Allow', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/server-in' },
    { name: 'backend allows only another source', policies: ingressOn('app: server', '[{from: [{podSelector: {matchLabels: {app: server}}}]}]'), port: 80, verdict: 'Deny', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/server-in' },
    { name: 'no backend for the port: not enforced', policies: ingressOn('app: server', '[]'), port: 81, verdict: 'Allow', tier: 'NotEnforced', policy: null },
  ])('$name', ({ policies, port, verdict, tier, policy }) => {
    const v = evaluate(policies, f('10.96.0.10', 'TCP', port));
    expect(v.ingress).toMatchObject({ verdict, tier, policy });
    if (tier !== 'NotEnforced') expect(v.ingress.reason).toContain('a/server');
  });

  it('denies when any backend denies, naming that backend and its policy', () => {
    const v = evaluate(docs(secondBackend, ingressOn('replica: two', '[]')), f('10.96.0.10', 'TCP', 80));
    expect(v.ingress).toMatchObject({ verdict: 'Deny', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/server-in' });
    expect(v.ingress.reason).toContain('a/server2');
    expect(v.verdict).toBe('Deny');
  });

  it("allows when every backend allows, naming the first backend's decision", () => {
    const v = evaluate(secondBackend, f('10.96.0.10', 'TCP', 80));
    expect(v.ingress).toMatchObject({ verdict: 'Allow', tier: 'Default' });
    expect(v.ingress.reason).toContain('a/server ');
  });

  it('a Deny rule naming the backend port in an Admin CNP applies through the ClusterIP', () => {
    const policies = cnp('in', `
      tier: Admin
      priority: 1
      subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {replica: two}}}}
      ingress: [{name: no-http, action: Deny, from: [{namespaces: {}}], protocols: [{destinationNamedPort: http}]}]`);
    const v = evaluate(docs(secondBackend, policies), f('10.96.0.10', 'TCP', 80));
    expect(v.ingress).toMatchObject({ verdict: 'Deny', tier: 'Admin', policy: 'ClusterNetworkPolicy/in', rule: 'no-http' });
    expect(v.ingress.reason).toContain('a/server2');
  });
});

describe('domainNames: learned IPs as data', () => {
  const now = 5_000_000;
  const anp = np('a', 'anp', `
    podSelector: {matchLabels: {app: client}}
    egress:
    - to: [{domainNames: ["*.example.com", api.test.io]}]
      ports: [{port: 443}]`, 'ApplicationNetworkPolicy');
  const cnpDomains = cnp('dn', `
    tier: Admin
    priority: 1
    subject: {${CLIENT}}
    egress:
    - {name: web, action: Accept, to: [{domainNames: ["*.example.com"]}]}
    - {name: rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}`);
  const learn = (pod: string, name: string, ip: string, expiresAt = now + 1000): LearnedIP => ({ pod, name, ip, expiresAt });
  it.each([
    ['learned by the pod, wildcard', anp, [learn('a/client', 'www.example.com', '93.184.216.34')], 'Allow'],
    ['learned by the pod, deep wildcard', anp, [learn('a/client', 'a.b.example.com', '93.184.216.34')], 'Allow'],
    ['wildcard never matches the apex', anp, [learn('a/client', 'example.com', '93.184.216.34')], 'Deny'],
    ['exact name, case and trailing dot ignored', anp, [learn('a/client', 'API.Test.IO.', '93.184.216.34')], 'Allow'],
    ['expired learning', anp, [learn('a/client', 'www.example.com', '93.184.216.34', now)], 'Deny'],
    ["another pod's learning opens nothing", anp, [learn('a/server', 'www.example.com', '93.184.216.34')], 'Deny'],
    ['learning of another IP', anp, [learn('a/client', 'www.example.com', '93.184.216.35')], 'Deny'],
    ['CNP Accept by domain before a Deny', cnpDomains, [learn('a/client', 'x.example.com', '93.184.216.34')], 'Allow'],
    ['CNP without learning falls to the Deny', cnpDomains, [], 'Deny'],
  ])('%s', (_n, policies, learned, want) => {
    expect(evaluate(policies, f('93.184.216.34', 'TCP', 443), { now, learned }).egress.verdict).toBe(want);
  });

  it('a learned array mutated between calls is read afresh (only frozen arrays are cached)', () => {
    const ev = new Evaluator(baseState(anp));
    const flow = f('93.184.216.34', 'TCP', 443);
    const learned: LearnedIP[] = [];
    expect(ev.evaluate(flow, { ...STANDARD, now, learned }).egress.verdict).toBe('Deny');
    learned.push(learn('a/client', 'www.example.com', '93.184.216.34'));
    expect(ev.evaluate(flow, { ...STANDARD, now, learned }).egress.verdict).toBe('Allow');
    learned.pop();
    expect(ev.evaluate(flow, { ...STANDARD, now, learned }).egress.verdict).toBe('Deny');
    const frozen = Object.freeze([learn('a/client', 'www.example.com', '93.184.216.34')]);
    expect(ev.evaluate(flow, { ...STANDARD, now, learned: frozen }).egress.verdict).toBe('Allow');
    expect(ev.evaluate(flow, { ...STANDARD, now, learned: frozen }).egress.verdict).toBe('Allow');
  });

  it('IPv6 learned addresses compare canonically', () => {
    const learned = [learn('a/client', 'v6.example.com', '2001:DB8:0:0::1')];
    expect(evaluate(anp, f('2001:db8::1', 'TCP', 443), { now, learned }).egress.verdict).toBe('Allow');
  });

  it("a flow's fqdn counts as learned now with the 60 s minimum TTL", () => {
    const flow: Flow = { ...f('93.184.216.34', 'TCP', 443), fqdn: 'www.example.com' };
    expect(evaluate(anp, flow, { now }).egress).toMatchObject({ verdict: 'Allow', policy: 'ApplicationNetworkPolicy/a/anp', rule: 0 });
    expect(evaluate(anp, { ...flow, fqdn: 'example.org' }, { now }).egress.verdict).toBe('Deny');
  });

  // At the peer level, so the only difference between the two rows is the direction: the same
  // learning (by the local pod, of the remote IP) matches in egress and never in ingress.
  it.each([
    ['Egress', true],
    ['Ingress', false],
  ] as const)('a domainNames peer with a live learning, direction %s: matches = %s', (direction, want) => {
    const index = new ClusterIndex(baseState());
    const local = index.pod('a/server') as PodEntry;
    const remote = parseIP('10.0.0.1');
    const learned = [new LearnedIndex([learn('a/server', 'x.example.com', '10.0.0.1')])];
    const ctx: MatchContext = { direction, local, protocol: 'TCP', now, learned };
    const target: Target = { ip: remote, pod: index.podAt(remote) ?? null, nodes: [], port: 8080, portOwner: direction === 'Egress' ? null : local, viaService: null };
    expect(peerMatches({ kind: 'domainNames', patterns: ['*.example.com'] }, target, ctx, new SelectionCache())).toBe(want);
  });
});

describe('named ports defined by several containers: every number with that name and protocol is that name', () => {
  // Kubernetes requires port names to be unique per container only.
  const MULTI = `apiVersion: v1
kind: Pod
metadata: {name: multi, namespace: b, labels: {app: multi}}
spec:
  nodeName: n2
  containers:
  - {name: c, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}
  - {name: d, ports: [{name: http, containerPort: 9090}, {name: dns, containerPort: 5353, protocol: TCP}]}
status: {podIP: 10.0.1.9}`;
  const npIngress = (ports: string): string =>
    np('b', 'multi-in', `
      podSelector: {matchLabels: {app: multi}}
      ingress: [{ports: ${ports}}]`);
  const cnpIngress = (port: string): string =>
    cnp('multi-in', `
      tier: Admin
      priority: 1
      subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: multi}}}}
      ingress: [{name: named, action: Accept, from: [{namespaces: {}}], protocols: [{destinationNamedPort: ${port}}]}]`);
  it.each([
    ['NP http (TCP), first container', npIngress('[{port: http}]'), 'TCP', 8080, 'Allow'],
    ['NP http (TCP), second container', npIngress('[{port: http}]'), 'TCP', 9090, 'Allow'],
    ['NP http, a number no container names', npIngress('[{port: http}]'), 'TCP', 7070, 'Deny'],
    ['NP dns UDP: the UDP number', npIngress('[{port: dns, protocol: UDP}]'), 'UDP', 53, 'Allow'],
    ['NP dns UDP: the TCP number is not UDP dns', npIngress('[{port: dns, protocol: UDP}]'), 'UDP', 5353, 'Deny'],
    ['NP dns (TCP default): the TCP number', npIngress('[{port: dns}]'), 'TCP', 5353, 'Allow'],
    ['NP dns (TCP default): not the UDP one', npIngress('[{port: dns}]'), 'TCP', 53, 'Deny'],
    ['CNP dns: the UDP number', cnpIngress('dns'), 'UDP', 53, 'Allow'],
    ['CNP dns: the TCP number', cnpIngress('dns'), 'TCP', 5353, 'Allow'],
    ['CNP dns: the UDP number over TCP', cnpIngress('dns'), 'TCP', 53, 'Deny'],
  ] as const)('%s', (_n, policies, protocol, port, want) => {
    const v = evaluate(docs(MULTI, policies), f('b/multi', protocol, port), STRICT);
    expect(v.ingress.verdict).toBe(want);
  });

  it('egress to the pod resolves the name the same way', () => {
    const policies = docs(MULTI, clientEgress(`- ports: [{port: http}]`));
    expect(evaluate(policies, f('b/multi', 'TCP', 9090)).egress.verdict).toBe('Allow');
    expect(evaluate(policies, f('b/multi', 'TCP', 8080)).egress.verdict).toBe('Allow');
    expect(evaluate(policies, f('b/multi', 'TCP', 7070)).egress.verdict).toBe('Deny');
  });

  it('findNamedPorts lists every container port of the name; findNamedPort still the first', () => {
    const pod = new ClusterIndex(baseState(MULTI)).pod('b/multi') as PodEntry;
    expect(findNamedPorts(pod, 'http').map((p) => p.port)).toEqual([8080, 9090]);
    expect(findNamedPorts(pod, 'dns').map((p) => `${p.protocol}/${p.port}`)).toEqual(['UDP/53', 'TCP/5353']);
    expect(findNamedPorts(pod, 'nope')).toEqual([]);
    expect(findNamedPort(pod, 'http')?.port).toBe(8080);
  });
});
