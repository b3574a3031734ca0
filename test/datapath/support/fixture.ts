// A small node for the datapath tests: a client and a server pod on n0 (strict mode), an Admin
// deny to 198.51.100.0/24, a Baseline FQDN rule (*.example.com, TCP 443) and a NetworkPolicy that
// isolates the server's ingress to the client on TCP 8080. Every expectation is the evaluator's.
import type { ClusterState } from '../../../src/api/types.js';
import { type CompiledNode, compile } from '../../../src/compile/index.js';
import { Evaluator, type Flow, type LearnedIP } from '../../../src/policy/index.js';
import { stateFromYaml } from '../../policy/support/state.js';

export const CLIENT = 'a/client';
export const SERVER = 'a/server';
export const CLIENT_IP = '10.1.0.1';
export const SERVER_IP = '10.1.0.2';
export const EXTERNAL = '203.0.113.7';
export const DENIED_NET_IP = '198.51.100.5';
export const MODE = 'strict' as const;

export const FIXTURE_YAML = `
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
status: {podIP: ${CLIENT_IP}, podIPs: [{ip: ${CLIENT_IP}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server}}
spec: {nodeName: n0, containers: [{name: c, ports: [{name: web, containerPort: 8080}]}]}
status: {podIP: ${SERVER_IP}, podIPs: [{ip: ${SERVER_IP}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: admin-deny}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: no-doc-net
    action: Deny
    to: [{networks: [198.51.100.0/24]}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: baseline}
spec:
  tier: Baseline
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: api
    action: Accept
    to: [{domainNames: ["*.example.com"]}]
    protocols: [{tcp: {destinationPort: {number: 443}}}]
  - name: pods
    action: Accept
    to: [{pods: {namespaceSelector: {}, podSelector: {}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{protocol: TCP, port: 8080}, {protocol: UDP, port: 5353}]
`;

export function fixtureState(extra = ''): ClusterState {
  return stateFromYaml(extra ? `${FIXTURE_YAML}\n---\n${extra}` : FIXTURE_YAML);
}

export function fixtureNode(state = fixtureState()): CompiledNode {
  return compile(state, { nodeName: 'n0' }, { mode: MODE });
}

/** The evaluator's verdict for one direction of a flow ('allow' | 'deny'). */
export function evaluatorSays(state: ClusterState, flow: Flow, direction: 'egress' | 'ingress', learned: LearnedIP[], now: number): 'allow' | 'deny' {
  const v = new Evaluator(state).evaluate(flow, { mode: MODE, now, learned });
  return v[direction].verdict === 'Allow' ? 'allow' : 'deny';
}
