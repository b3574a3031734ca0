// The object kinds dnsgate accepts, by apiVersion and kind (SEMANTICS.md section 1).

export type KindCategory = 'policy' | 'state';

export interface KnownKind {
  apiVersion: string;
  group: string;
  kind: string;
  namespaced: boolean;
  category: KindCategory;
}

const k = (apiVersion: string, kind: string, namespaced: boolean, category: KindCategory): KnownKind => ({
  apiVersion,
  group: apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '',
  kind,
  namespaced,
  category,
});

export const KNOWN_KINDS: readonly KnownKind[] = [
  k('v1', 'Namespace', false, 'state'),
  k('v1', 'Pod', true, 'state'),
  k('v1', 'Node', false, 'state'),
  k('v1', 'Service', true, 'state'),
  k('discovery.k8s.io/v1', 'EndpointSlice', true, 'state'),
  k('networking.k8s.io/v1', 'NetworkPolicy', true, 'policy'),
  k('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', true, 'policy'),
  k('networking.k8s.aws/v1alpha1', 'ClusterNetworkPolicy', false, 'policy'),
  k('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', false, 'policy'),
];

export function findKind(apiVersion: string, kind: string): KnownKind | undefined {
  return KNOWN_KINDS.find((x) => x.apiVersion === apiVersion && x.kind === kind);
}

/** Groups whose objects are network policy: an unsupported kind or version there is an error, not a warning. */
export const POLICY_GROUPS = ['networking.k8s.io', 'networking.k8s.aws', 'policy.networking.k8s.io'];

export function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '';
}
