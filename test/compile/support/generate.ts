// fast-check generators of cluster states exercising everything the compiler handles: all four
// policy shapes, ipBlock except, IPv4 and IPv6, named ports, endPort and port ranges, SCTP, node
// peers, host-network pods, Services with EndpointSlices, domainNames with learned IPs, and
// several cluster policies at one priority. Flows cover TCP/UDP/SCTP/ICMP to pods, Services,
// nodes and external addresses.
import fc from 'fast-check';
import type {
  ApplicationNetworkPolicy,
  ClusterState,
  EksClusterNetworkPolicy,
  EksEgressPeer,
  EksPort,
  EndpointSlice,
  LabelSelector,
  NetworkPolicy,
  Node,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Pod,
  PolicyType,
  Protocol,
  RuleAction,
  Service,
  UpstreamClusterNetworkPolicy,
  UpstreamEgressPeer,
  UpstreamProtocol,
} from '../../../src/api/types.js';
import { emptyClusterState } from '../../../src/api/types.js';
import type { Flow, LearnedIP } from '../../../src/policy/index.js';

const NAMESPACES = ['ns0', 'ns1', 'ns2'];
export const NODE_V4 = ['192.168.0.1', '192.168.0.2'];
const NODE_V4_EXTRA = '192.168.1.1';
const NODE_V6 = ['fd01::1', 'fd01::2'];
export const EXTERNAL = ['203.0.113.7', '8.8.8.8', '10.1.0.200', '2001:db8::7', '2001:db8:1::9'];
export const NAMES = ['api.example.com', 'a.b.example.com', 'db.corp.internal', 'example.com'];
const PATTERNS = ['api.example.com', '*.example.com', 'db.corp.internal', '*.corp.internal'];
const PORTS = [53, 80, 443, 8080, 9000];

const apps = fc.constantFrom('x', 'y', 'z');
const selectorArb: fc.Arbitrary<LabelSelector> = fc.oneof(
  fc.constant({}),
  apps.map((app) => ({ matchLabels: { app } })),
  apps.map((app) => ({ matchExpressions: [{ key: 'app', operator: 'NotIn' as const, values: [app] }] })),
  fc.constantFrom('a', 'b').map((team) => ({ matchLabels: { team } })),
);
const protoArb = fc.constantFrom<Protocol>('TCP', 'TCP', 'UDP', 'SCTP');
const portArb = fc.constantFrom(...PORTS);
const v4Cidr = fc.constantFrom('10.1.0.0/16', '10.1.0.0/25', '203.0.113.0/24', '0.0.0.0/0', '10.0.0.0/8', '10.96.0.0/16', '192.168.0.0/24');
const v6Cidr = fc.constantFrom('::/0', 'fd00::/64', '2001:db8::/32', 'fd00::/120', 'fd96::/64');
const exceptFor: Record<string, string[]> = {
  '10.1.0.0/16': ['10.1.0.0/28', '10.1.0.128/25'],
  '0.0.0.0/0': ['10.0.0.0/8', '203.0.113.0/25'],
  '10.0.0.0/8': ['10.1.0.0/24', '10.96.0.0/16'],
  '::/0': ['fd00::/64'],
  '2001:db8::/32': ['2001:db8::/48'],
  'fd00::/64': ['fd00::/124'],
};

const npPortArb: fc.Arbitrary<NetworkPolicyPort> = fc.oneof(
  fc.record({ protocol: protoArb, port: portArb }),
  portArb.map((port) => ({ port })),
  fc.record({ protocol: protoArb, port: portArb, endPort: fc.constantFrom(443, 9000) }).map((p) => ({ ...p, endPort: Math.max(p.port, p.endPort) })),
  protoArb.map((protocol) => ({ protocol })),
  fc.record({ protocol: fc.constantFrom<Protocol | undefined>('TCP', 'UDP', undefined), port: fc.constantFrom('web', 'dns', 'metrics') }).map((p) => (p.protocol ? p : { port: p.port })),
);

const ipBlockArb = fc.oneof(v4Cidr, v6Cidr).chain((cidr) =>
  fc.subarray(exceptFor[cidr] ?? []).map((except) => ({ ipBlock: except.length > 0 ? { cidr, except } : { cidr } })),
);

const npPeerArb: fc.Arbitrary<NetworkPolicyPeer> = fc.oneof(
  selectorArb.map((podSelector) => ({ podSelector })),
  selectorArb.map((namespaceSelector) => ({ namespaceSelector })),
  fc.record({ podSelector: selectorArb, namespaceSelector: selectorArb }),
  ipBlockArb,
);

const npRuleArb = fc.record({
  peers: fc.option(fc.array(npPeerArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
  ports: fc.option(fc.array(npPortArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
});

const typesArb = fc.constantFrom<PolicyType[] | undefined>(undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']);

const networkPolicyArb = (i: number): fc.Arbitrary<NetworkPolicy> =>
  fc
    .record({ ns: fc.constantFrom(...NAMESPACES), podSelector: selectorArb, types: typesArb, ingress: fc.array(npRuleArb, { maxLength: 2 }), egress: fc.array(npRuleArb, { maxLength: 2 }) })
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

const anpArb = (i: number): fc.Arbitrary<ApplicationNetworkPolicy> =>
  fc
    .record({
      ns: fc.constantFrom(...NAMESPACES),
      podSelector: selectorArb,
      domains: fc.subarray(PATTERNS, { minLength: 1, maxLength: 2 }),
      ports: fc.option(fc.array(npPortArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
      other: fc.array(npRuleArb, { maxLength: 1 }),
    })
    .map(({ ns, podSelector, domains, ports, other }) => ({
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ApplicationNetworkPolicy',
      metadata: { name: `anp${i}`, namespace: ns },
      spec: {
        podSelector,
        policyTypes: ['Egress'],
        egress: [
          { to: [{ domainNames: domains }], ...(ports ? { ports } : {}) },
          ...other.map((r) => ({ ...(r.peers ? { to: r.peers } : {}), ...(r.ports ? { ports: r.ports } : {}) })),
        ],
      },
    }));

const cnpPeerArb = (egress: boolean, action: RuleAction): fc.Arbitrary<UpstreamEgressPeer> => {
  const base: fc.Arbitrary<UpstreamEgressPeer>[] = [
    selectorArb.map((namespaces) => ({ namespaces })),
    fc.record({ namespaceSelector: selectorArb, podSelector: selectorArb }).map((pods) => ({ pods })),
  ];
  if (egress) {
    base.push(fc.array(fc.oneof(v4Cidr, v6Cidr), { minLength: 1, maxLength: 2 }).map((networks) => ({ networks: [...new Set(networks)] })));
    base.push(fc.constantFrom<LabelSelector>({}, { matchLabels: { role: 'worker' } }, { matchLabels: { zone: 'b' } }).map((nodes) => ({ nodes })));
    if (action === 'Accept') base.push(fc.subarray(PATTERNS, { minLength: 1, maxLength: 2 }).map((domainNames) => ({ domainNames })));
  }
  return fc.oneof(...base);
};

const upstreamProtocolArb: fc.Arbitrary<UpstreamProtocol> = fc.oneof(
  fc.record({ p: fc.constantFrom('tcp', 'udp', 'sctp'), port: portArb }).map(({ p, port }) => ({ [p]: { destinationPort: { number: port } } })),
  fc.record({ p: fc.constantFrom('tcp', 'udp'), start: fc.constantFrom(53, 80), end: fc.constantFrom(443, 9000) }).map(({ p, start, end }) => ({ [p]: { destinationPort: { range: { start, end } } } })),
  fc.constantFrom('tcp', 'udp', 'sctp').map((p) => ({ [p]: {} })),
  fc.constantFrom('web', 'dns').map((destinationNamedPort) => ({ destinationNamedPort })),
);

const eksPortArb: fc.Arbitrary<EksPort> = fc.oneof(
  fc.record({ protocol: protoArb, port: portArb }).map((portNumber) => ({ portNumber })),
  fc.record({ protocol: protoArb, start: fc.constantFrom(53, 80), end: fc.constantFrom(443, 9000) }).map((portRange) => ({ portRange })),
  fc.constantFrom('web', 'dns').map((namedPort) => ({ namedPort })),
);

interface CnpRule {
  action: RuleAction;
  peers: UpstreamEgressPeer[];
  upstream: UpstreamProtocol[] | undefined;
  eks: EksPort[] | undefined;
  name: string | undefined;
}

const cnpRuleArb = (egress: boolean): fc.Arbitrary<CnpRule> =>
  fc.constantFrom<RuleAction>('Accept', 'Deny', 'Pass').chain((action) =>
    fc.record({
      action: fc.constant(action),
      peers: fc.array(cnpPeerArb(egress, action), { minLength: 1, maxLength: 2 }),
      upstream: fc.option(fc.array(upstreamProtocolArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
      eks: fc.option(fc.array(eksPortArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
      name: fc.option(fc.constantFrom('r-a', 'r-b'), { nil: undefined }),
    }),
  );

/** Named ports may not be combined with networks/nodes/domainNames (validation rule). */
function namedOk(r: CnpRule, eks: boolean): boolean {
  const named = eks ? (r.eks ?? []).some((p) => p.namedPort !== undefined) : (r.upstream ?? []).some((p) => p.destinationNamedPort !== undefined);
  return !named || r.peers.every((p) => !p.networks && !p.nodes && !p.domainNames);
}

const clusterPolicyArb = (i: number): fc.Arbitrary<UpstreamClusterNetworkPolicy | EksClusterNetworkPolicy> =>
  fc
    .record({
      eks: fc.boolean(),
      tier: fc.constantFrom('Admin' as const, 'Baseline' as const),
      priority: fc.integer({ min: 0, max: 1 }),
      subject: fc.oneof(selectorArb.map((namespaces) => ({ namespaces })), fc.record({ namespaceSelector: selectorArb, podSelector: selectorArb }).map((pods) => ({ pods }))),
      ingress: fc.array(cnpRuleArb(false), { maxLength: 3 }),
      egress: fc.array(cnpRuleArb(true), { maxLength: 3 }),
    })
    .map(({ eks, tier, priority, subject, ingress, egress }): UpstreamClusterNetworkPolicy | EksClusterNetworkPolicy => {
      const named = (rules: CnpRule[]): CnpRule[] => {
        const seen = new Set<string>();
        return rules.filter((r) => namedOk(r, eks)).map((r) => {
          if (r.name === undefined || seen.has(r.name)) return { ...r, name: undefined };
          seen.add(r.name);
          return r;
        });
      };
      const metadata = { name: `cnp${i}` };
      if (eks) {
        const port = (r: CnpRule): { ports?: EksPort[] } => (r.eks ? { ports: r.eks } : {});
        return {
          apiVersion: 'networking.k8s.aws/v1alpha1',
          kind: 'ClusterNetworkPolicy',
          metadata,
          spec: {
            tier,
            priority,
            subject,
            ingress: named(ingress).map((r) => ({ ...(r.name ? { name: r.name } : {}), action: r.action, from: r.peers, ...port(r) })),
            egress: named(egress).map((r) => ({ ...(r.name ? { name: r.name } : {}), action: r.action, to: r.peers as EksEgressPeer[], ...port(r) })),
          },
        };
      }
      const protocols = (r: CnpRule): { protocols?: UpstreamProtocol[] } => (r.upstream ? { protocols: r.upstream } : {});
      return {
        apiVersion: 'policy.networking.k8s.io/v1alpha2',
        kind: 'ClusterNetworkPolicy',
        metadata,
        spec: {
          tier,
          priority,
          subject,
          ingress: named(ingress).map((r) => ({ ...(r.name ? { name: r.name } : {}), action: r.action, from: r.peers, ...protocols(r) })),
          egress: named(egress).map((r) => ({ ...(r.name ? { name: r.name } : {}), action: r.action, to: r.peers, ...protocols(r) })),
        },
      };
    });

const containerPortsArb = fc.subarray([
  { name: 'web', containerPort: 80 },
  { name: 'web', containerPort: 8080 },
  { name: 'dns', containerPort: 53, protocol: 'UDP' as const },
  { name: 'metrics', containerPort: 9000 },
], { maxLength: 2 }).map((ps) => ps.filter((p, i) => ps.findIndex((q) => q.name === p.name) === i));

const podArb = (i: number): fc.Arbitrary<Pod> =>
  fc
    .record({
      ns: fc.constantFrom(...NAMESPACES),
      app: apps,
      node: fc.integer({ min: 0, max: 1 }),
      hostNetwork: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))).chain((b) => (b ? fc.boolean() : fc.constant(false))),
      dual: fc.boolean(),
      ports: containerPortsArb,
      // A second container may reuse a port name (names are unique per container only).
      sidecar: fc.subarray([{ name: 'web', containerPort: 9000 }, { name: 'dns', containerPort: 53, protocol: 'TCP' as const }], { maxLength: 1 }),
    })
    .map(({ ns, app, node, hostNetwork, dual, ports, sidecar }) => {
      const v4 = hostNetwork ? (NODE_V4[node] as string) : `10.1.0.${i + 1}`;
      const v6 = hostNetwork ? (NODE_V6[node] as string) : `fd00::${(i + 1).toString(16)}`;
      const ips = dual ? [v4, v6] : [v4];
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `p${i}`, namespace: ns, labels: { app } },
        spec: {
          nodeName: `n${node}`,
          ...(hostNetwork ? { hostNetwork: true } : {}),
          containers: [{ name: 'c', ports }, ...(sidecar.length > 0 ? [{ name: 'side', ports: sidecar }] : [])],
        },
        status: { podIP: v4, podIPs: ips.map((ip) => ({ ip })) },
      };
    });

function indexed<T>(count: fc.Arbitrary<number>, make: (i: number) => fc.Arbitrary<T>): fc.Arbitrary<T[]> {
  return count.chain((n) => (n === 0 ? fc.constant([]) : fc.tuple(...Array.from({ length: n }, (_, i) => make(i)))));
}

const serviceArb = (i: number, podCount: number): fc.Arbitrary<{ svc: Service; slice: EndpointSlice }> =>
  fc
    .record({
      ns: fc.constantFrom(...NAMESPACES),
      port: fc.constantFrom(80, 53, 8080),
      target: fc.constantFrom(80, 8080, 53, 9000),
      protocol: fc.constantFrom<Protocol>('TCP', 'UDP'),
      backends: fc.subarray(Array.from({ length: podCount }, (_, k) => k), { maxLength: Math.min(3, podCount) }),
      dual: fc.boolean(),
    })
    .map(({ ns, port, target, protocol, backends, dual }) => {
      const name = `svc${i}`;
      const clusterIPs = dual ? [`10.96.0.${i + 1}`, `fd96::${i + 1}`] : [`10.96.0.${i + 1}`];
      return {
        svc: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name, namespace: ns },
          spec: { clusterIP: clusterIPs[0], clusterIPs, ports: [{ name: 'p', port, protocol, targetPort: target }] },
        },
        slice: {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
          addressType: 'IPv4',
          endpoints: backends.map((k) => ({ addresses: [`10.1.0.${k + 1}`] })),
          ports: [{ name: 'p', port: target, protocol }],
        },
      };
    });

export function stateArb(): fc.Arbitrary<ClusterState> {
  return fc
    .record({
      teams: fc.tuple(...NAMESPACES.map(() => fc.constantFrom('a', 'b'))),
      extraNodeIP: fc.boolean(),
      pods: indexed(fc.integer({ min: 2, max: 8 }), podArb),
      nps: indexed(fc.integer({ min: 0, max: 3 }), networkPolicyArb),
      anps: indexed(fc.integer({ min: 0, max: 1 }), anpArb),
      cnps: indexed(fc.integer({ min: 0, max: 4 }), clusterPolicyArb),
    })
    .chain((r) => indexed(fc.integer({ min: 0, max: 2 }), (i) => serviceArb(i, r.pods.length)).map((svcs) => ({ ...r, svcs })))
    .map(({ teams, extraNodeIP, pods, nps, anps, cnps, svcs }) => {
      const state = emptyClusterState();
      state.namespaces = NAMESPACES.map((name, i) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: teams[i] ?? 'a' } } }));
      state.nodes = ['n0', 'n1'].map((name, i) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name, labels: { role: 'worker', zone: i === 0 ? 'a' : 'b' } },
        status: {
          addresses: [
            { type: 'InternalIP' as const, address: NODE_V4[i] as string },
            { type: 'InternalIP' as const, address: NODE_V6[i] as string },
            ...(extraNodeIP && i === 0 ? [{ type: 'ExternalIP' as const, address: NODE_V4_EXTRA }] : []),
          ],
        },
      }));
      state.pods = pods;
      state.networkPolicies = nps;
      state.applicationNetworkPolicies = anps;
      state.clusterNetworkPolicies = cnps;
      state.services = svcs.map((s) => s.svc);
      state.endpointSlices = svcs.map((s) => s.slice);
      return state;
    });
}

/**
 * Node lists a cluster moves between: n0, n1 and sometimes n2, each maybe gone, relabelled
 * (role, zone: what `nodes` peers select), with addresses added, dropped, reordered or moved to
 * another node, or only its resourceVersion bumped (a status heartbeat).
 */
export function nodesArb(): fc.Arbitrary<Node[]> {
  const one = (name: string, i: number): fc.Arbitrary<Node | null> =>
    fc
      .record({
        present: fc.constantFrom(true, true, true, false),
        role: fc.constantFrom<string | undefined>('worker', 'worker', undefined),
        zone: fc.constantFrom('a', 'b'),
        v4: fc.constantFrom(NODE_V4[i] ?? NODE_V4_EXTRA, NODE_V4[i] ?? NODE_V4_EXTRA, NODE_V4_EXTRA, '192.168.0.9'),
        v6: fc.option(fc.constantFrom(NODE_V6[i] ?? 'fd01::9', 'fd01::9'), { nil: undefined }),
        extra: fc.subarray([NODE_V4_EXTRA, '10.1.0.3', '192.168.0.1']),
        v6First: fc.boolean(),
        rv: fc.integer({ min: 1, max: 3 }),
      })
      .map(({ present, role, zone, v4, v6, extra, v6First, rv }) => {
        if (!present) return null;
        const main = [{ type: 'InternalIP', address: v4 }, ...(v6 ? [{ type: 'InternalIP', address: v6 }] : [])];
        const addresses = [...(v6First ? main.reverse() : main), ...extra.filter((a) => a !== v4).map((address) => ({ type: 'ExternalIP', address }))];
        return {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name, resourceVersion: String(rv), labels: { ...(role ? { role } : {}), zone } },
          status: { addresses },
        };
      });
  return fc.tuple(one('n0', 0), one('n1', 1), fc.oneof(fc.constant(null), one('n2', 2))).map((ns) => ns.filter((n): n is Node => n !== null));
}

/** How a flow end is written: a pod by name, except host-network pods (the datapath sees only the node IP). */
function endName(p: Pod): string {
  return p.spec.hostNetwork ? (p.status?.podIP as string) : `${p.metadata.namespace}/${p.metadata.name}`;
}

export function flowArb(state: ClusterState): fc.Arbitrary<Flow> {
  const pods = state.pods.map(endName);
  const v4Pods = state.pods.filter((p) => !p.spec.hostNetwork).map(endName);
  const services = state.services.flatMap((s) => s.spec.clusterIPs ?? []);
  const remote = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...pods) },
    { weight: 2, arbitrary: fc.constantFrom(...EXTERNAL, NODE_V4_EXTRA, ...NODE_V4, ...NODE_V6) },
    { weight: services.length > 0 ? 2 : 0, arbitrary: fc.constantFrom(...(services.length > 0 ? services : ['10.96.0.1'])) },
  );
  return fc
    .record({
      from: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...pods) }, { weight: 1, arbitrary: fc.constantFrom(...EXTERNAL, ...NODE_V4) }),
      to: remote,
      protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const, 'ICMP' as const),
      port: fc.constantFrom(...PORTS),
      v6: fc.boolean(),
    })
    .map(({ from, to, protocol, port, v6 }) => {
      void v4Pods;
      void v6;
      return protocol === 'ICMP' ? { from, to, protocol } : { from, to, protocol, port };
    });
}

/** Learnings of pods for names, to external, pod and Service addresses; some expired at `now`. */
export function learnedArb(state: ClusterState, now: number): fc.Arbitrary<LearnedIP[]> {
  const pods = state.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  const ips = [...EXTERNAL, ...state.pods.flatMap((p) => (p.status?.podIPs ?? []).map((x) => x.ip)), ...state.services.flatMap((s) => s.spec.clusterIPs ?? [])];
  return fc.array(
    fc.record({
      pod: fc.constantFrom(...pods),
      name: fc.constantFrom(...NAMES),
      ip: fc.constantFrom(...ips),
      expiresAt: fc.constantFrom(now - 1, now, now + 1, now + 60_000),
    }),
    { maxLength: 8 },
  );
}
