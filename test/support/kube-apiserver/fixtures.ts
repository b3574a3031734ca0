// Small valid objects of every watched kind, as a client would create them in the stand-in.
type Obj = Record<string, unknown>;

export const namespace = (name: string, labels: Record<string, string> = {}): Obj => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
});

export const pod = (ns: string, name: string, ip: string, labels: Record<string, string> = {}, node = 'node-a'): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '192.168.0.10' },
});

export const node = (name: string, ip: string): Obj => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { addresses: [{ type: 'InternalIP', address: ip }] },
});

export const service = (ns: string, name: string, clusterIP: string): Obj => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: ns },
  spec: { type: 'ClusterIP', selector: { app: name }, clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
});

export const endpointSlice = (ns: string, service: string, ips: string[]): Obj => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${service}-abc`, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
});

export const networkPolicy = (ns: string, name: string, spec: Obj = { podSelector: {}, policyTypes: ['Ingress'] }): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec,
});

export const appNetworkPolicy = (ns: string, name: string, domains: string[] = ['api.example.com']): Obj => ({
  apiVersion: 'networking.k8s.aws/v1alpha1',
  kind: 'ApplicationNetworkPolicy',
  metadata: { name, namespace: ns },
  spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: domains }], ports: [{ protocol: 'TCP', port: 443 }] }] },
});

export const eksCnp = (name: string, priority = 10, nsLabels: Record<string, string> = {}): Obj => ({
  apiVersion: 'networking.k8s.aws/v1alpha1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name },
  spec: { tier: 'Admin', priority, subject: { namespaces: { matchLabels: nsLabels } }, egress: [{ name: 'deny-all', action: 'Deny', to: [{ networks: ['0.0.0.0/0'] }] }] },
});

export const upstreamCnp = (name: string, priority = 10, nsLabels: Record<string, string> = {}): Obj => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha2',
  kind: 'ClusterNetworkPolicy',
  metadata: { name },
  spec: { tier: 'Admin', priority, subject: { namespaces: { matchLabels: nsLabels } }, egress: [{ name: 'deny-all', action: 'Deny', to: [{ networks: ['0.0.0.0/0'] }] }] },
});
