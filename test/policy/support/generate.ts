// fast-check generators of small but varied cluster states and flows for property tests.
import fc from 'fast-check';
import type {
  ClusterState,
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  Pod,
  PolicyType,
  RuleAction,
  UpstreamClusterNetworkPolicy,
  UpstreamEgressPeer,
} from '../../../src/api/types.js';
import { emptyClusterState } from '../../../src/api/types.js';
import type { Flow } from '../../../src/policy/index.js';

export const NAMESPACES = ['ns0', 'ns1', 'ns2'];
const apps = fc.constantFrom('x', 'y', 'z');

export const selectorArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constant({}),
  apps.map((app) => ({ matchLabels: { app } })),
  apps.map((app) => ({ matchExpressions: [{ key: 'app', operator: 'NotIn' as const, values: [app] }] })),
  fc.constantFrom('a', 'b').map((team) => ({ matchLabels: { team } })),
);

const portsArb = fc.option(fc.array(fc.record({ protocol: fc.constantFrom('TCP' as const, 'UDP' as const), port: fc.constantFrom(80, 53, 443) }), { minLength: 1, maxLength: 2 }), { nil: undefined });

const npPeerArb: fc.Arbitrary<NetworkPolicyPeer> = fc.oneof(
  selectorArb.map((podSelector) => ({ podSelector })),
  selectorArb.map((namespaceSelector) => ({ namespaceSelector })),
  fc.record({ podSelector: selectorArb, namespaceSelector: selectorArb }),
  fc.constantFrom('10.1.0.0/16', '10.1.0.0/24', '203.0.113.0/24', '0.0.0.0/0').map((cidr) => ({ ipBlock: { cidr } })),
);

const npRuleArb = fc.record({ peers: fc.option(fc.array(npPeerArb, { minLength: 1, maxLength: 2 }), { nil: undefined }), ports: portsArb });

const networkPolicyArb = (i: number): fc.Arbitrary<NetworkPolicy> =>
  fc
    .record({
      ns: fc.constantFrom(...NAMESPACES),
      podSelector: selectorArb,
      types: fc.constantFrom<PolicyType[] | undefined>(undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']),
      ingress: fc.array(npRuleArb, { maxLength: 2 }),
      egress: fc.array(npRuleArb, { maxLength: 2 }),
    })
    .map(({ ns, podSelector, types, ingress, egress }) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `np${i}`, namespace: ns },
      spec: {
        podSelector,
        ...(types ? { policyTypes: types } : {}),
        ingress: ingress.map((r) => ({ ...(r.peers ? { from: r.peers } : {}), ...(r.ports ? { ports: r.ports } : {}) })),
        egress: egress.map((r) => ({ ...(r.peers ? { to: r.peers } : {}), ...(r.ports ? { ports: r.ports } : {}) })),
      },
    }));

const cnpPeerArb: fc.Arbitrary<UpstreamEgressPeer> = fc.oneof(
  selectorArb.map((namespaces) => ({ namespaces })),
  fc.record({ namespaceSelector: selectorArb, podSelector: selectorArb }).map((pods) => ({ pods })),
  fc.constantFrom('10.1.0.0/16', '203.0.113.0/24', '0.0.0.0/0').map((cidr) => ({ networks: [cidr] })),
);

const cnpRuleArb = fc.record({
  action: fc.constantFrom<RuleAction>('Accept', 'Deny', 'Pass'),
  peers: fc.array(cnpPeerArb, { minLength: 1, maxLength: 2 }),
  ports: fc.option(fc.constantFrom(80, 53, 443), { nil: undefined }),
});

const clusterPolicyArb = (i: number): fc.Arbitrary<UpstreamClusterNetworkPolicy> =>
  fc
    .record({
      tier: fc.constantFrom('Admin' as const, 'Baseline' as const),
      priority: fc.integer({ min: 0, max: 3 }),
      subject: fc.oneof(selectorArb.map((namespaces) => ({ namespaces })), fc.record({ namespaceSelector: selectorArb, podSelector: selectorArb }).map((pods) => ({ pods }))),
      ingress: fc.array(cnpRuleArb, { maxLength: 2 }),
      egress: fc.array(cnpRuleArb, { maxLength: 2 }),
    })
    .map(({ tier, priority, subject, ingress, egress }) => ({
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: `cnp${i}` },
      spec: {
        tier,
        priority,
        subject,
        ingress: ingress.map((r) => ({ action: r.action, from: r.peers.filter((p) => !p.networks), ...(r.ports ? { protocols: [{ tcp: { destinationPort: { number: r.ports } } }] } : {}) })).filter((r) => r.from.length > 0),
        egress: egress.map((r) => ({ action: r.action, to: r.peers, ...(r.ports ? { protocols: [{ tcp: { destinationPort: { number: r.ports } } }] } : {}) })),
      },
    }));

const podArb = (i: number): fc.Arbitrary<Pod> =>
  fc.record({ ns: fc.constantFrom(...NAMESPACES), app: apps, node: fc.constantFrom('n0', 'n1') }).map(({ ns, app, node }) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p${i}`, namespace: ns, labels: { app } },
    spec: { nodeName: node, containers: [{ name: 'c', ports: [{ name: 'web', containerPort: 80 }] }] },
    status: { podIP: `10.1.${i >> 8}.${i & 255}` },
  }));

function indexed<T>(count: fc.Arbitrary<number>, make: (i: number) => fc.Arbitrary<T>): fc.Arbitrary<T[]> {
  return count.chain((n) => (n === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: n }, (_, i) => make(i)))));
}

export interface GenOptions {
  pods?: [number, number];
  networkPolicies?: [number, number];
  clusterPolicies?: [number, number];
}

export function stateArb(opts: GenOptions = {}): fc.Arbitrary<ClusterState> {
  const [pMin, pMax] = opts.pods ?? [2, 8];
  const [nMin, nMax] = opts.networkPolicies ?? [0, 3];
  const [cMin, cMax] = opts.clusterPolicies ?? [0, 3];
  return fc
    .record({
      teams: fc.tuple(...NAMESPACES.map(() => fc.constantFrom('a', 'b'))),
      pods: indexed(fc.integer({ min: pMin, max: pMax }), podArb),
      nps: indexed(fc.integer({ min: nMin, max: nMax }), networkPolicyArb),
      cnps: indexed(fc.integer({ min: cMin, max: cMax }), clusterPolicyArb),
    })
    .map(({ teams, pods, nps, cnps }) => {
      const state = emptyClusterState();
      state.namespaces = NAMESPACES.map((name, i) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: teams[i] ?? 'a' } } }));
      state.nodes = ['n0', 'n1'].map((name, i) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { role: 'worker' } },
        status: { addresses: [{ type: 'InternalIP', address: `192.168.0.${i + 1}` }] },
      }));
      state.pods = pods;
      state.networkPolicies = nps;
      state.clusterNetworkPolicies = cnps;
      return state;
    });
}

/** A flow between two pods of the state, or from a pod to an external address. */
export function flowArb(state: ClusterState): fc.Arbitrary<Flow> {
  const names = state.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  const endpoint = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom('203.0.113.7', '8.8.8.8') });
  return fc.record({
    from: fc.constantFrom(...names),
    to: endpoint,
    protocol: fc.constantFrom('TCP' as const, 'UDP' as const),
    port: fc.constantFrom(80, 53, 443, 8080),
  });
}
