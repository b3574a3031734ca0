// What the API stand-in serves: the resources dnsgate watches plus the ones it writes (Events,
// Leases). CRD-backed ones can be uninstalled, which makes their URLs answer 404 like a real cluster.

export interface ServedResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  crd: boolean;
  /** Has a status subresource: writes to the main resource keep status, /status writes only status. */
  statusSubresource: boolean;
}

const r = (apiVersion: string, kind: string, plural: string, namespaced: boolean, crd = false, statusSubresource = false): ServedResource => {
  const slash = apiVersion.lastIndexOf('/');
  return {
    group: slash < 0 ? '' : apiVersion.slice(0, slash),
    version: slash < 0 ? apiVersion : apiVersion.slice(slash + 1),
    kind,
    plural,
    namespaced,
    crd,
    statusSubresource,
  };
};

export const SERVED: readonly ServedResource[] = [
  r('v1', 'Namespace', 'namespaces', false),
  r('v1', 'Pod', 'pods', true, false, true),
  r('v1', 'Node', 'nodes', false, false, true),
  r('v1', 'Service', 'services', true, false, true),
  r('v1', 'Event', 'events', true),
  r('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', true),
  r('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true),
  r('coordination.k8s.io/v1', 'Lease', 'leases', true),
  r('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'applicationnetworkpolicies', true, true, true),
  r('networking.k8s.aws/v1alpha1', 'ClusterNetworkPolicy', 'clusternetworkpolicies', false, true, true),
  r('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', 'clusternetworkpolicies', false, true, true),
];

export const apiVersionOf = (s: ServedResource): string => (s.group ? `${s.group}/${s.version}` : s.version);
export const idOf = (s: ServedResource): string => `${apiVersionOf(s)}/${s.kind}`;

export function servedFor(apiVersion: string, kind: string): ServedResource {
  const found = SERVED.find((s) => apiVersionOf(s) === apiVersion && s.kind === kind);
  if (!found) throw new Error(`the API stand-in does not serve ${apiVersion} ${kind}`);
  return found;
}
