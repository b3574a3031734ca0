// The resources the Kubernetes source watches, and where the API server serves them.
import { findKind, type KnownKind } from '../../api/kinds.js';

export interface WatchedResource {
  known: KnownKind;
  /** The resource name in URLs ("pods", "clusternetworkpolicies"). */
  plural: string;
  /** Served by a CustomResourceDefinition: may be missing from a cluster, which is not fatal. */
  crd: boolean;
  /** "group/version/Kind" ("v1/Pod" for the core group): unique across both ClusterNetworkPolicy groups. */
  id: string;
}

function resource(apiVersion: string, kind: string, plural: string, crd: boolean): WatchedResource {
  const known = findKind(apiVersion, kind);
  if (!known) throw new Error(`dnsgate does not know ${apiVersion} ${kind}`);
  return { known, plural, crd, id: `${apiVersion}/${kind}` };
}

export const WATCHED_RESOURCES: readonly WatchedResource[] = [
  resource('v1', 'Namespace', 'namespaces', false),
  resource('v1', 'Pod', 'pods', false),
  resource('v1', 'Node', 'nodes', false),
  resource('v1', 'Service', 'services', false),
  resource('discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', false),
  resource('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', false),
  resource('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'applicationnetworkpolicies', true),
  resource('networking.k8s.aws/v1alpha1', 'ClusterNetworkPolicy', 'clusternetworkpolicies', true),
  resource('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', 'clusternetworkpolicies', true),
];

/** "/api/v1" or "/apis/group/version". */
export function apiVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The all-namespaces collection path (list and watch). */
export function collectionPath(r: WatchedResource): string {
  return `${apiVersionPath(r.known.apiVersion)}/${r.plural}`;
}

/** The path of one object (optionally a subresource such as "status"). */
export function objectPath(r: WatchedResource, name: string, namespace?: string, subresource?: string): string {
  const ns = r.known.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${apiVersionPath(r.known.apiVersion)}${ns}/${r.plural}/${encodeURIComponent(name)}${sub}`;
}

export function resourceFor(apiVersion: string, kind: string): WatchedResource | undefined {
  return WATCHED_RESOURCES.find((r) => r.known.apiVersion === apiVersion && r.known.kind === kind);
}
