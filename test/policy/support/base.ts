// A small cluster shared by the table-driven tests: two nodes, two namespaces, pods with named
// ports, a host-network pod, a dual-stack pod and a Service with an EndpointSlice.
import type { ClusterState } from '../../../src/api/types.js';
import { Evaluator, type EvalOptions, type Flow, type FlowVerdict } from '../../../src/policy/index.js';
import { stateFromYaml } from './state.js';

export const BASE = `
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {role: worker, zone: z1}}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}, {type: InternalIP, address: "fd00::1"}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {role: worker, zone: z2}}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: b, env: prod}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.1}, {ip: "fd10::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: a, labels: {app: server, tier: web}}
spec:
  nodeName: n2
  containers:
  - name: c
    ports:
    - {name: http, containerPort: 8080}
    - {name: dns, containerPort: 53, protocol: UDP}
status: {podIP: 10.0.0.2, podIPs: [{ip: 10.0.0.2}, {ip: "fd10::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec:
  nodeName: n2
  containers: [{name: c, ports: [{name: pg, containerPort: 5432, protocol: TCP}]}]
status: {podIP: 10.0.1.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: b, labels: {app: server}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}
status: {podIP: 10.0.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: b, labels: {app: agent}}
spec: {nodeName: n2, hostNetwork: true, containers: [{name: c, ports: [{name: metrics, containerPort: 9100}]}]}
status: {podIP: 192.168.0.2}
---
apiVersion: v1
kind: Service
metadata: {name: server, namespace: a}
spec:
  clusterIP: 10.96.0.10
  selector: {app: server}
  ports: [{name: web, port: 80, targetPort: http}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: server-abc, namespace: a, labels: {kubernetes.io/service-name: server}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.2], conditions: {ready: true}}]
ports: [{name: web, port: 8080, protocol: TCP}]
`;

export function baseState(policies = ''): ClusterState {
  return stateFromYaml(policies.trim() === '' ? BASE : `${BASE}\n---\n${policies}`);
}

export const STANDARD: EvalOptions = { mode: 'standard', now: 1_000_000, learned: [] };
export const STRICT: EvalOptions = { mode: 'strict', now: 1_000_000, learned: [] };

export function evaluate(policies: string, flow: Flow, opts: Partial<EvalOptions> = {}): FlowVerdict {
  return new Evaluator(baseState(policies)).evaluate(flow, { ...STANDARD, ...opts });
}

/** A CNP in the upstream shape, with the usual boilerplate filled in. */
export function cnp(name: string, body: string, apiVersion = 'policy.networking.k8s.io/v1alpha2'): string {
  return `apiVersion: ${apiVersion}\nkind: ClusterNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n${indent(body)}`;
}

export function eksCnp(name: string, body: string): string {
  return cnp(name, body, 'networking.k8s.aws/v1alpha1');
}

export function np(namespace: string, name: string, body: string, kind = 'NetworkPolicy'): string {
  const apiVersion = kind === 'NetworkPolicy' ? 'networking.k8s.io/v1' : 'networking.k8s.aws/v1alpha1';
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n${indent(body)}`;
}

export function docs(...parts: string[]): string {
  return parts.join('\n---\n');
}

function indent(body: string): string {
  const lines = body.replace(/^\n+|\s+$/g, '').split('\n');
  const min = Math.min(...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
  return lines.map((l) => `  ${l.slice(min)}`).join('\n');
}
