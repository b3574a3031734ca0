// Table-driven unit tests of the compiler's output shape: inheritance, except splitting, both
// families, named ports, Services, FQDN slots, equal-priority ordering, the overflow fallback,
// diff minimality, and incremental recompiles agreeing with the evaluator.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterState, NetworkPolicy, Pod } from '../../src/api/types.js';
import { Compiler, DEFAULT_MAX_RULES, LearnedSet, RESERVED_RULE_ID, RuleListOverflow, compile, diff, diffSize, interpret, slotsForLearned } from '../../src/compile/index.js';
import { MAX_RULES } from '../../src/datapath/ebpf/layout.js';
import { stateFromYaml } from '../policy/support/state.js';
import { runDifferential } from './support/differential.js';
import { flowArb, stateArb } from './support/generate.js';

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Node
metadata: {name: n0}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {nodeName: n0, containers: [{name: c}]}
status: {podIP: 10.1.0.1, podIPs: [{ip: 10.1.0.1}, {ip: "fd00::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server}}
spec: {nodeName: n0, containers: [{name: c, ports: [{name: web, containerPort: 8080}]}]}
status: {podIP: 10.1.0.2}
`;

function state(extra: string): ClusterState {
  return stateFromYaml(`${BASE}\n---\n${extra}`);
}

const ALL = { nodeName: 'n0' };
const client = 'a/client';

function egressNp(to: string, ports = ''): string {
  return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [${to}]${ports}}]`;
}

describe('compiled tables', () => {
  it('uses the datapath rule-list capacity', () => expect(DEFAULT_MAX_RULES).toBe(MAX_RULES));

  it.each([
    ['ipBlock except splits into the remaining prefixes', '{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/9]}}', ['10.128.0.0/9']],
    ['two excepts', '{ipBlock: {cidr: 10.0.0.0/30, except: [10.0.0.0/32, 10.0.0.3/32]}}', ['10.0.0.1/32', '10.0.0.2/32']],
    ['IPv6 block', '{ipBlock: {cidr: "fd00::/16", except: ["fd00::/17"]}}', ['fd00:8000::/17']],
    ['pod selector: the pod IPs', '{podSelector: {matchLabels: {app: server}}}', ['10.1.0.2/32']],
  ])('%s', (_name, to, cidrs) => {
    const node = compile(state(egressNp(to)), ALL, { mode: 'standard' });
    const ep = node.endpoints.get(client);
    expect([...(ep?.egress.prefixes.keys() ?? [])].filter((c) => !c.startsWith('fd00::1/')).sort()).toEqual([...cidrs].sort());
    expect(ep?.config.egressIsolated).toBe(true);
  });

  it('narrower prefixes inherit the broader prefixes’ rules, in order', () => {
    const node = compile(state(egressNp('{ipBlock: {cidr: 10.0.0.0/8}}, {podSelector: {matchLabels: {app: server}}}', ', ports: [{port: 80}]')), ALL, { mode: 'standard' });
    const table = node.endpoints.get(client)?.egress.prefixes;
    expect(table?.get('10.0.0.0/8')?.rules).toHaveLength(1);
    // The pod's /32 repeats the /8 rule (the same rule id, merged into one entry).
    expect(table?.get('10.1.0.2/32')?.rules).toEqual(table?.get('10.0.0.0/8')?.rules);
  });

  it('the second IP of a dual-stack pod is its config address; a second node address is an implicit allow', () => {
    const node = compile(state(egressNp('{ipBlock: {cidr: 0.0.0.0/0}}')), ALL, { mode: 'strict' });
    const ep = node.endpoints.get(client);
    expect(ep?.config).toMatchObject({ podIp4: '10.1.0.1', podIp6: 'fd00::1', nodeIp4: '192.168.0.1' });
    const learned = new LearnedSet();
    expect(interpret(node, client, 'egress', { peer: 'fd00::1', protocol: 'TCP', port: 1 }, learned, 0)).toEqual({ verdict: 'allow', reason: 'self' });
    expect(interpret(node, client, 'ingress', { peer: '192.168.0.1', protocol: 'TCP', port: 1 }, learned, 0)).toEqual({ verdict: 'allow', reason: 'nodeIp' });
    expect(interpret(node, client, 'egress', { peer: 'fd00::9', protocol: 'TCP', port: 1 }, learned, 0)).toEqual({ verdict: 'deny', reason: 'npNoMatch' });
  });

  it('egress named ports resolve per destination pod; a protocol mismatch gives no rule', () => {
    const tcp = compile(state(egressNp('{podSelector: {}}', ', ports: [{port: web}]')), ALL, { mode: 'standard' });
    expect(tcp.endpoints.get(client)?.egress.prefixes.get('10.1.0.2/32')?.rules.map((r) => [r.proto, r.portLo, r.portHi])).toEqual([[6, 8080, 8080]]);
    const udp = compile(state(egressNp('{podSelector: {}}', ', ports: [{port: web, protocol: UDP}]')), ALL, { mode: 'standard' });
    expect(udp.endpoints.get(client)?.egress.prefixes.get('10.1.0.2/32')).toBeUndefined();
  });

  it('a pod-selecting rule also matches the ClusterIP at the Service port', () => {
    const svc = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: a, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.2]}]
ports: [{name: http, port: 8080}]`;
    const node = compile(state(`${egressNp('{podSelector: {matchLabels: {app: server}}}', ', ports: [{port: 8080}]')}\n---\n${svc}`), ALL, { mode: 'standard' });
    expect(node.endpoints.get(client)?.egress.prefixes.get('10.96.0.10/32')?.rules.map((r) => [r.proto, r.portLo])).toEqual([[6, 80]]);
  });

  it('domainNames: one slot per rule on both default prefixes; the proxy asks which slots a name satisfies', () => {
    const anp = `apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata: {name: dn, namespace: a}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress: [{to: [{domainNames: ["*.example.com", api.other.org]}], ports: [{port: 443}]}]`;
    const node = compile(state(anp), ALL, { mode: 'standard' });
    const ep = node.endpoints.get(client);
    expect(ep?.slots).toHaveLength(1);
    const slot = ep?.slots[0] as number;
    expect(node.slots.get(slot)).toMatchObject({ rule: 'ApplicationNetworkPolicy/a/dn/egress/0', patterns: ['*.example.com', 'api.other.org'] });
    for (const cidr of ['0.0.0.0/0', '::/0']) expect(ep?.egress.prefixes.get(cidr)?.rules).toEqual([expect.objectContaining({ fqdn: true, fqdnSlot: slot, portLo: 443 })]);
    expect(slotsForLearned(node, client, 'A.Example.COM.')).toEqual([slot]);
    expect(slotsForLearned(node, client, 'example.com')).toEqual([]);
    const learned = LearnedSet.fromLearned(node, [{ pod: client, name: 'x.example.com', ip: '198.51.100.1', expiresAt: 1000 }]);
    const pkt = { peer: '198.51.100.1', protocol: 'TCP' as const, port: 443 };
    expect(interpret(node, client, 'egress', pkt, learned, 999).verdict).toBe('allow');
    expect(interpret(node, client, 'egress', pkt, learned, 1000).verdict).toBe('deny');
  });

  it('equal priority: Deny of one policy beats an earlier-written Accept of another; a policy’s own earlier Accept shadows its Deny', () => {
    const cnp = (name: string, rules: string): string => `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: ${name}}
spec: {tier: Admin, priority: 5, subject: {namespaces: {}}, egress: [${rules}]}`;
    const s = state(
      `${cnp('a-first', '{action: Accept, to: [{networks: [10.0.0.0/8]}], protocols: [{tcp: {destinationPort: {number: 80}}}]}, {action: Deny, to: [{networks: [10.0.0.0/8]}]}')}\n---\n${cnp('b-second', '{action: Deny, to: [{networks: [10.2.0.0/16]}]}')}`,
    );
    const node = compile(s, ALL, { mode: 'standard' });
    const learned = new LearnedSet();
    const v = (peer: string, port: number): string => interpret(node, client, 'egress', { peer, protocol: 'TCP', port }, learned, 0).verdict;
    expect(v('10.3.0.1', 80)).toBe('allow'); // a-first's Accept is its first match; b-second does not match
    expect(v('10.3.0.1', 81)).toBe('deny'); // a-first's Deny
    expect(v('10.2.0.1', 80)).toBe('deny'); // b-second's Deny beats a-first's Accept at the same priority
  });

  it('a rule list longer than the capacity fails closed with a typed diagnostic naming the endpoint and policies', () => {
    const ports = Array.from({ length: 10 }, (_, i) => `{port: ${1000 + 2 * i}}`).join(', ');
    const node = compile(state(egressNp('{ipBlock: {cidr: 0.0.0.0/0}}', `, ports: [${ports}]`)), ALL, { mode: 'standard', maxRules: 4 });
    const diag = node.diagnostics.find((d) => d instanceof RuleListOverflow);
    expect(diag).toMatchObject({ endpoint: client, direction: 'egress', count: 10, max: 4, policies: ['NetworkPolicy/a/np'] });
    const ep = node.endpoints.get(client);
    expect(ep?.egress.fallback).toBe(true);
    expect(ep?.egress.prefixes.get('0.0.0.0/0')?.rules).toEqual([expect.objectContaining({ action: 'deny', ruleId: RESERVED_RULE_ID.fallbackDeny })]);
    expect(interpret(node, client, 'egress', { peer: '1.1.1.1', protocol: 'TCP', port: 1000 }, new LearnedSet(), 0).verdict).toBe('deny');
    expect(ep?.ingress.fallback).toBe(false);
  });
});

describe('diff and incremental recompiles', () => {
  it('recompiling the same state writes nothing; one policy change touches only its prefixes', () => {
    const s = state(egressNp('{ipBlock: {cidr: 10.0.0.0/8}}', ', ports: [{port: 80}]'));
    const c = new Compiler(s, ALL, { mode: 'standard' });
    const a = c.result();
    expect(diffSize(diff(a, c.result()))).toBe(0);
    expect(diffSize(diff(a, compile(s, ALL, { mode: 'standard', previous: a })))).toBe(0);
    const changed = (s.networkPolicies[0] as NetworkPolicy);
    c.upsertPolicy({ ...changed, spec: { ...changed.spec, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 81 }] }] } });
    const d = diff(a, c.result());
    expect(d.prefixesUpsert.map((p) => `${p.endpoint} ${p.cidr}`)).toEqual(['a/client 10.0.0.0/8']);
    expect(d.prefixesRemove).toEqual([]);
    expect(d.endpointsUpsert).toEqual([]);
    expect(diff(null, a).prefixesUpsert.length).toBeGreaterThan(0);
  });

  it('replicas with the same rules share one table until a policy tells them apart', () => {
    const replica = (name: string, tier: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: a, labels: {app: client, tier: ${tier}}}
spec: {nodeName: n0, containers: [{name: c}]}
status: {podIP: 10.1.0.${name === 'r1' ? 11 : 12}}`;
    const s = state(`${egressNp('{podSelector: {matchLabels: {app: server}}}', ', ports: [{port: 80}]')}\n---\n${replica('r1', 'front')}\n---\n${replica('r2', 'back')}`);
    const c = new Compiler(s, ALL, { mode: 'standard' });
    const a = c.result();
    expect(a.endpoints.get('a/r1')?.egress).toBe(a.endpoints.get('a/r2')?.egress);
    // A new server pod lands in the shared table of both.
    c.upsertPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 's2', namespace: 'a', labels: { app: 'server' } }, spec: { nodeName: 'n1', containers: [{ name: 'c' }] }, status: { podIP: '10.1.0.30' } });
    const b = c.result();
    for (const r of ['a/r1', 'a/r2']) expect(b.endpoints.get(r)?.egress.prefixes.get('10.1.0.30/32')?.rules.map((x) => x.portLo)).toEqual([80]);
    expect(diff(a, b).prefixesUpsert.map((p) => `${p.endpoint} ${p.cidr}`).sort()).toEqual(['a/client 10.1.0.30/32', 'a/r1 10.1.0.30/32', 'a/r2 10.1.0.30/32']);
    // A policy for tier front only: r1's table is its own now, r2 keeps the old one.
    const np = s.networkPolicies[0] as NetworkPolicy;
    c.upsertPolicy({ ...np, metadata: { name: 'only-x', namespace: 'a' }, spec: { ...np.spec, podSelector: { matchLabels: { tier: 'front' } }, egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] } });
    const d = c.result();
    expect(d.endpoints.get('a/r1')?.egress).not.toBe(d.endpoints.get('a/r2')?.egress);
    expect(d.endpoints.get('a/r2')?.egress).toBe(b.endpoints.get('a/r2')?.egress);
    expect(d.endpoints.get('a/r1')?.egress.prefixes.get('0.0.0.0/0')?.rules.map((x) => [x.proto, x.portLo])).toEqual([[17, 53]]);
  });

  it('a successor pod with the same rules takes over its predecessor’s table, with the changes made meanwhile', () => {
    const pod = (name: string, ip: string, app: string, nodeName = 'n0'): Pod => ({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'a', labels: { app } }, spec: { nodeName, containers: [{ name: 'c' }] }, status: { podIP: ip },
    });
    const s = state(egressNp('{podSelector: {matchLabels: {app: server}}}', ', ports: [{port: 80}]'));
    const c = new Compiler(s, ALL, { mode: 'standard' });
    const before = c.result().endpoints.get(client)?.egress;
    c.removePod(client);
    c.result();
    // While no pod has those rules, a new server appears; then the client comes back under a new name.
    c.upsertPod(pod('server2', '10.1.0.40', 'server', 'n1'));
    c.result();
    c.upsertPod(pod('client2', '10.1.0.41', 'client'));
    const node = c.result();
    const after = node.endpoints.get('a/client2')?.egress;
    expect(after?.prefixes.get('10.1.0.40/32')?.rules.map((r) => r.portLo)).toEqual([80]);
    expect(after?.prefixes.get('10.1.0.2/32')).toEqual(before?.prefixes.get('10.1.0.2/32'));
    const fresh = compile({ ...s, pods: [...s.pods.filter((p) => p.metadata.name !== 'client'), pod('server2', '10.1.0.40', 'server', 'n1'), pod('client2', '10.1.0.41', 'client')] }, ALL, { mode: 'standard' });
    const keys = (t: typeof after): string[] => [...(t?.prefixes ?? new Map())].map(([k, v]) => `${k} ${v.key}`).sort();
    expect(keys(after)).toEqual(keys(fresh.endpoints.get('a/client2')?.egress));
  });

  it('after pod and policy changes, the incremental result still equals the evaluator (generated)', () => {
    fc.assert(
      fc.property(
        stateArb().chain((s) => fc.record({ s: fc.constant(s), flows: fc.array(flowArb(s), { minLength: 10, maxLength: 20 }), drop: fc.nat(), mode: fc.constantFrom('standard' as const, 'strict' as const) })),
        ({ s, flows, drop, mode }) => {
          // Start from a state missing one pod and one policy, then add them (and touch another pod).
          const pod = s.pods[drop % s.pods.length];
          const policy = s.clusterNetworkPolicies[drop % Math.max(1, s.clusterNetworkPolicies.length)];
          const start: ClusterState = { ...s, pods: s.pods.filter((p) => p !== pod), clusterNetworkPolicies: s.clusterNetworkPolicies.filter((p) => p !== policy) };
          const c = new Compiler(start, { nodeName: 'n0' }, { mode });
          c.result();
          if (pod) c.upsertPod(pod);
          if (policy) c.upsertPolicy(policy);
          const other = s.pods[(drop + 1) % s.pods.length];
          if (other) {
            c.removePod(`${other.metadata.namespace}/${other.metadata.name}`);
            c.result();
            c.upsertPod(other);
          }
          const r = runDifferential(s, { nodeName: 'n0' }, flows, { mode, now: 0, learned: [] }, c.result());
          const fallbacks = [...r.node.endpoints.values()].some((e) => e.egress.fallback || e.ingress.fallback);
          if (!fallbacks) expect(r.disagreements).toEqual([]);
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });
});
