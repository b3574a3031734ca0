// Minimal valid objects of every policy kind; tests derive invalid variants from them.

export const upstreamCnp = (spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha2',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'cnp' },
  spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ...spec },
});

export const eksCnp = (spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.aws/v1alpha1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'eks' },
  spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ...spec },
});

export const anp = (spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.aws/v1alpha1',
  kind: 'ApplicationNetworkPolicy',
  metadata: { name: 'anp', namespace: 'ns' },
  spec: { podSelector: {}, ...spec },
});

export const np = (spec: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'np', namespace: 'ns' },
  spec: { podSelector: {}, ...spec },
});

export const egress = (rule: Record<string, unknown>): Record<string, unknown> => ({ egress: [rule] });
export const ingress = (rule: Record<string, unknown>): Record<string, unknown> => ({ ingress: [rule] });
export const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
