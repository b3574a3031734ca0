// Table-driven cases for SEMANTICS.md sections 2 and 3 (direction, verdict, tiers, ordering).
import { describe, expect, it } from 'vitest';
import { type DirectionVerdict, type EvalOptions, Evaluator, type Flow, type Verdict } from '../../src/policy/index.js';
import { STRICT, cnp, docs, eksCnp, evaluate, np } from './support/base.js';
import { stateFromYaml } from './support/state.js';

const C2S: Flow = { from: 'a/client', to: 'a/server', protocol: 'TCP', port: 8080 };
const CLIENT = `pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: client}}}`;
const SERVER = `pods: {namespaceSelector: {matchLabels: {team: a}}, podSelector: {matchLabels: {app: server}}}`;

/** An egress CNP from client with one rule to server. */
function egressTo(name: string, tier: string, priority: number, action: string, extra = ''): string {
  return cnp(
    name,
    `
    tier: ${tier}
    priority: ${priority}
    subject: {${CLIENT}}
    egress:
    - {name: r-${action.toLowerCase()}, action: ${action}, to: [{${SERVER}}]${extra}}`,
  );
}

const NP_ALLOW_EGRESS_ALL = np('a', 'client-out', `
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{}]`);
const NP_DENY_EGRESS = np('a', 'client-isolated', `
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]`);

interface Case {
  name: string;
  policies: string;
  flow?: Flow;
  opts?: Partial<EvalOptions>;
  verdict: Verdict;
  egress?: Partial<DirectionVerdict>;
  ingress?: Partial<DirectionVerdict>;
}

const section2: Case[] = [
  { name: 'no policy, standard: allow by default', policies: '', verdict: 'Allow', egress: { tier: 'Default', policy: null }, ingress: { tier: 'Default' } },
  { name: 'no policy, strict: deny by default', policies: '', opts: STRICT, verdict: 'Deny', egress: { tier: 'Default', verdict: 'Deny' }, ingress: { tier: 'Default', verdict: 'Deny' } },
  {
    name: 'source that is not a pod: egress not enforced',
    policies: '',
    flow: { from: '203.0.113.9', to: 'a/server', protocol: 'TCP', port: 8080 },
    opts: STRICT,
    verdict: 'Deny',
    egress: { verdict: 'Allow', tier: 'NotEnforced' },
    ingress: { verdict: 'Deny', tier: 'Default' },
  },
  {
    name: 'destination that is not a pod: ingress not enforced',
    policies: '',
    flow: { from: 'a/client', to: '203.0.113.9', protocol: 'TCP', port: 443 },
    opts: STRICT,
    verdict: 'Deny',
    egress: { verdict: 'Deny', tier: 'Default' },
    ingress: { verdict: 'Allow', tier: 'NotEnforced' },
  },
  {
    name: 'host-network pod as source: egress not enforced',
    policies: '',
    flow: { from: 'b/agent', to: 'b/web', protocol: 'TCP', port: 9090 },
    opts: STRICT,
    verdict: 'Deny',
    egress: { verdict: 'Allow', tier: 'NotEnforced' },
    ingress: { verdict: 'Deny', tier: 'Default' },
  },
  {
    name: 'host-network pod as destination: ingress not enforced',
    policies: '',
    flow: { from: 'a/client', to: 'b/agent', protocol: 'TCP', port: 9100 },
    opts: STRICT,
    verdict: 'Deny',
    ingress: { verdict: 'Allow', tier: 'NotEnforced' },
  },
  {
    name: 'a pod talking to its own IP: neither direction enforced',
    policies: NP_DENY_EGRESS,
    flow: { from: 'a/client', to: '10.0.0.1', protocol: 'TCP', port: 1 },
    opts: STRICT,
    verdict: 'Allow',
    egress: { tier: 'NotEnforced' },
    ingress: { tier: 'NotEnforced' },
  },
  {
    name: "ingress from the pod's own node IP is always allowed",
    policies: np('a', 'deny-in', 'podSelector: {}'),
    flow: { from: '192.168.0.2', to: 'a/server', protocol: 'TCP', port: 8080 },
    opts: STRICT,
    verdict: 'Allow',
    ingress: { tier: 'NotEnforced', verdict: 'Allow' },
  },
  {
    name: "ingress from another node's IP is enforced",
    policies: np('a', 'deny-in', 'podSelector: {}'),
    flow: { from: '192.168.0.1', to: 'a/server', protocol: 'TCP', port: 8080 },
    verdict: 'Deny',
    ingress: { tier: 'NetworkPolicy', verdict: 'Deny', policy: 'NetworkPolicy/a/deny-in', rule: null },
  },
  {
    name: 'both directions must allow: egress allowed, ingress denied',
    policies: docs(NP_ALLOW_EGRESS_ALL, np('a', 'deny-in', 'podSelector: {matchLabels: {app: server}}')),
    verdict: 'Deny',
    egress: { verdict: 'Allow', tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/client-out', rule: 0 },
    ingress: { verdict: 'Deny', tier: 'NetworkPolicy' },
  },
  {
    name: 'host-network pod sending to a pod on its own node is node-local traffic',
    policies: np('a', 'deny-in', 'podSelector: {}'),
    flow: { from: 'b/agent', to: 'a/server', protocol: 'TCP', port: 8080 },
    verdict: 'Allow',
    ingress: { tier: 'NotEnforced' },
  },
];

const section3: Case[] = [
  {
    name: 'Admin Deny beats a NetworkPolicy allow',
    policies: docs(egressTo('deny', 'Admin', 10, 'Deny'), NP_ALLOW_EGRESS_ALL),
    verdict: 'Deny',
    egress: { tier: 'Admin', policy: 'ClusterNetworkPolicy/deny', rule: 'r-deny' },
  },
  {
    name: 'Admin Accept beats a NetworkPolicy that isolates and a Baseline Deny',
    policies: docs(egressTo('acc', 'Admin', 10, 'Accept'), NP_DENY_EGRESS, egressTo('bdeny', 'Baseline', 1, 'Deny')),
    verdict: 'Allow',
    egress: { tier: 'Admin', policy: 'ClusterNetworkPolicy/acc' },
  },
  {
    name: 'Admin priorities ascend: priority 1 Accept before priority 2 Deny (names in the other order)',
    policies: docs(egressTo('z-accept', 'Admin', 1, 'Accept'), egressTo('a-deny', 'Admin', 2, 'Deny')),
    verdict: 'Allow',
    egress: { policy: 'ClusterNetworkPolicy/z-accept' },
  },
  {
    name: 'Admin Pass skips the rest of the Admin tier; no NP, no Baseline: default',
    policies: docs(egressTo('pass', 'Admin', 1, 'Pass'), egressTo('deny', 'Admin', 2, 'Deny')),
    verdict: 'Allow',
    egress: { tier: 'Default' },
  },
  {
    name: 'Admin Pass goes to the NetworkPolicy tier',
    policies: docs(egressTo('pass', 'Admin', 1, 'Pass'), egressTo('deny', 'Admin', 2, 'Deny'), NP_ALLOW_EGRESS_ALL),
    opts: STRICT,
    verdict: 'Deny',
    egress: { verdict: 'Allow', tier: 'NetworkPolicy' },
    ingress: { verdict: 'Deny', tier: 'Default' },
  },
  {
    name: 'Admin Pass goes to Baseline when no NetworkPolicy selects the pod',
    policies: docs(egressTo('pass', 'Admin', 1, 'Pass'), egressTo('bdeny', 'Baseline', 5, 'Deny')),
    verdict: 'Deny',
    egress: { tier: 'Baseline', policy: 'ClusterNetworkPolicy/bdeny' },
  },
  {
    name: 'a selecting NetworkPolicy is final: Baseline Accept not consulted',
    policies: docs(NP_DENY_EGRESS, egressTo('bacc', 'Baseline', 1, 'Accept')),
    verdict: 'Deny',
    egress: { tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/client-isolated' },
  },
  {
    name: 'a selecting NetworkPolicy is final: Baseline Deny not consulted',
    policies: docs(NP_ALLOW_EGRESS_ALL, egressTo('bdeny', 'Baseline', 1, 'Deny')),
    verdict: 'Allow',
    egress: { tier: 'NetworkPolicy' },
  },
  {
    name: 'Baseline Accept allows in strict mode',
    policies: egressTo('bacc', 'Baseline', 1, 'Accept'),
    opts: STRICT,
    verdict: 'Deny',
    egress: { verdict: 'Allow', tier: 'Baseline' },
    ingress: { verdict: 'Deny', tier: 'Default' },
  },
  {
    name: 'Baseline Pass falls through to the default',
    policies: docs(egressTo('bpass', 'Baseline', 1, 'Pass'), egressTo('bdeny', 'Baseline', 2, 'Deny')),
    verdict: 'Allow',
    egress: { tier: 'Default' },
  },
  {
    name: 'upstream group: written order, Accept written before Deny wins',
    policies: cnp('ord', `
      tier: Admin
      priority: 3
      subject: {${CLIENT}}
      egress:
      - {name: first, action: Accept, to: [{${SERVER}}]}
      - {name: second, action: Deny, to: [{${SERVER}}]}`),
    verdict: 'Allow',
    egress: { rule: 'first' },
  },
  {
    name: 'EKS group: Deny beats Accept whatever the written order',
    policies: eksCnp('ord', `
      tier: Admin
      priority: 3
      subject: {${CLIENT}}
      egress:
      - {name: first, action: Accept, to: [{${SERVER}}]}
      - {name: second, action: Deny, to: [{${SERVER}}]}`),
    verdict: 'Deny',
    egress: { rule: 'second' },
  },
  {
    name: 'EKS group: Accept beats Pass whatever the written order',
    policies: eksCnp('ord', `
      tier: Admin
      priority: 3
      subject: {${CLIENT}}
      egress:
      - {action: Pass, to: [{${SERVER}}]}
      - {action: Accept, to: [{${SERVER}}]}`),
    opts: STRICT,
    verdict: 'Deny',
    egress: { verdict: 'Allow', rule: 1 },
  },
  {
    name: 'same tier and priority, two policies: Deny beats Accept (tiebreak)',
    policies: docs(egressTo('a-accept', 'Admin', 5, 'Accept'), egressTo('b-deny', 'Admin', 5, 'Deny')),
    verdict: 'Deny',
    egress: { policy: 'ClusterNetworkPolicy/b-deny' },
  },
  {
    name: 'same tier and priority, two policies: Accept beats Pass (tiebreak)',
    policies: docs(egressTo('a-pass', 'Admin', 5, 'Pass'), egressTo('b-accept', 'Admin', 5, 'Accept'), NP_DENY_EGRESS),
    verdict: 'Allow',
    egress: { policy: 'ClusterNetworkPolicy/b-accept' },
  },
  {
    name: 'same tier, priority and action: name order',
    policies: docs(egressTo('zz', 'Admin', 5, 'Deny'), egressTo('aa', 'Admin', 5, 'Deny')),
    verdict: 'Deny',
    egress: { policy: 'ClusterNetworkPolicy/aa' },
  },
  {
    name: 'an ApplicationNetworkPolicy isolates like a NetworkPolicy',
    policies: np('a', 'anp', `
      podSelector: {matchLabels: {app: client}}
      egress: [{to: [{domainNames: [example.com]}]}]`, 'ApplicationNetworkPolicy'),
    verdict: 'Deny',
    egress: { tier: 'NetworkPolicy', policy: 'ApplicationNetworkPolicy/a/anp' },
  },
  {
    name: 'NP and ANP together: allowed if any of their rules matches',
    policies: docs(
      np('a', 'anp', `
        podSelector: {matchLabels: {app: client}}
        egress: [{to: [{domainNames: [example.com]}]}]`, 'ApplicationNetworkPolicy'),
      np('a', 'np', `
        podSelector: {}
        policyTypes: [Egress]
        egress: [{to: [{podSelector: {matchLabels: {app: server}}}]}]`),
    ),
    verdict: 'Allow',
    egress: { tier: 'NetworkPolicy', policy: 'NetworkPolicy/a/np', rule: 0 },
  },
  {
    name: 'policyTypes defaulting: egress rules present, no policyTypes -> egress-isolated',
    policies: np('a', 'np', `
      podSelector: {matchLabels: {app: client}}
      egress: [{to: [{podSelector: {matchLabels: {app: nothing}}}]}]`),
    verdict: 'Deny',
    egress: { tier: 'NetworkPolicy' },
  },
  {
    name: 'policyTypes defaulting: no egress rules -> only ingress-isolated',
    policies: np('a', 'np', `podSelector: {}`),
    flow: { from: 'a/client', to: 'b/db', protocol: 'TCP', port: 5432 },
    verdict: 'Allow',
    egress: { tier: 'Default' },
  },
  {
    name: 'policyTypes [Egress] only: ingress not isolated',
    policies: np('a', 'np', `
      podSelector: {}
      policyTypes: [Egress]
      ingress: [{from: [{podSelector: {matchLabels: {app: nothing}}}]}]`),
    flow: { from: 'b/db', to: 'a/server', protocol: 'TCP', port: 8080 },
    verdict: 'Allow',
    ingress: { tier: 'Default' },
  },
  {
    name: 'ingress tier evaluation: Admin ingress Deny on the destination',
    policies: cnp('in', `
      tier: Admin
      priority: 1
      subject: {${SERVER}}
      ingress: [{name: no-client, action: Deny, from: [{${CLIENT}}]}]`),
    verdict: 'Deny',
    egress: { tier: 'Default' },
    ingress: { tier: 'Admin', rule: 'no-client', policy: 'ClusterNetworkPolicy/in' },
  },
];

describe.each([
  ['section 2: direction and verdict', section2],
  ['section 3: order of evaluation', section3],
])('%s', (_title, cases) => {
  it.each(cases)('$name', (c) => {
    const v = evaluate(c.policies, c.flow ?? C2S, c.opts);
    expect({ verdict: v.verdict, egress: v.egress, ingress: v.ingress }).toMatchObject({
      verdict: c.verdict,
      ...(c.egress ? { egress: c.egress } : {}),
      ...(c.ingress ? { ingress: c.ingress } : {}),
    });
    // Every direction explains itself in one sentence.
    expect(v.egress.reason).toMatch(/\.$/);
    expect(v.ingress.reason).toMatch(/\.$/);
  });
});

describe('kubelet probes: the pod\'s own node is also known by status.hostIP(s)', () => {
  const state = (status: string, node = ''): string =>
    docs(
      ...(node ? [node] : []),
      `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a, labels: {app: p}}
spec: {nodeName: n9, containers: [{name: c}]}
status: ${status}`,
      np('a', 'deny-in', `
        podSelector: {}
        policyTypes: [Ingress]`),
    );
  const probe = (manifests: string, from: string): DirectionVerdict => {
    const ev = new Evaluator(stateFromYaml(manifests));
    return ev.evaluate({ from, to: 'a/p', protocol: 'TCP', port: 8080 }, { mode: 'standard', now: 0, learned: [] }).ingress;
  };
  const NODE = `apiVersion: v1
kind: Node
metadata: {name: n9}
status: {addresses: [{type: InternalIP, address: 192.168.9.9}]}`;
  it.each([
    { name: 'hostIP without a Node object', status: '{podIP: 10.9.0.1, hostIP: 192.168.9.1}', node: '', from: '192.168.9.1', tier: 'NotEnforced' },
    { name: 'hostIPs (IPv6) without a Node object', status: '{podIPs: [{ip: "fd09::1"}], hostIPs: [{ip: 192.168.9.1}, {ip: "fd00::9"}]}', node: '', from: 'fd00::9', tier: 'NotEnforced' },
    { name: 'hostIP and a Node object with other addresses', status: '{podIP: 10.9.0.1, hostIP: 192.168.9.1}', node: NODE, from: '192.168.9.1', tier: 'NotEnforced' },
    { name: 'Node address without hostIP', status: '{podIP: 10.9.0.1}', node: NODE, from: '192.168.9.9', tier: 'NotEnforced' },
    { name: 'neither: another IP is denied', status: '{podIP: 10.9.0.1, hostIP: 192.168.9.1}', node: NODE, from: '192.168.9.2', tier: 'NetworkPolicy' },
    { name: 'no Node and no hostIP: the node IP is unknown', status: '{podIP: 10.9.0.1}', node: '', from: '192.168.9.9', tier: 'NetworkPolicy' },
  ])('$name', ({ status, node, from, tier }) => {
    const v = probe(state(status, node), from);
    expect(v.tier).toBe(tier);
    expect(v.verdict).toBe(tier === 'NotEnforced' ? 'Allow' : 'Deny');
    if (tier === 'NotEnforced') expect(v.reason).toMatch(/kubelet/);
  });
});
