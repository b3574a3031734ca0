// Which pods of the cluster state are this node's: spec.nodeName equal to the configured node
// name; in standalone mode with no node name, every pod (the manifests describe one node).
// Host-network pods share the node's interfaces and are never attached.
import { isIPv4, isIPv6 } from 'node:net';
import type { ClusterState } from '../../api/types.js';

export interface LocalPodSelection {
  mode: 'standalone' | 'cluster';
  nodeName?: string;
}

export interface LocalPodCandidate {
  /** "namespace/name" */
  ref: string;
  namespace: string;
  name: string;
  uid?: string;
  /** Pod IPs, IPv4 first, canonical text form. */
  ips: string[];
}

export class LocalPodSelectionError extends Error {
  constructor(readonly selection: LocalPodSelection) {
    super('cluster mode needs the node name (spec.nodeName of the pods on this node)');
    this.name = 'LocalPodSelectionError';
  }
}

/** Canonical text of an IP address (compressed lowercase IPv6), so route answers compare equal. */
export function canonicalIp(ip: string): string {
  if (isIPv6(ip)) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return ip;
}

export function selectLocalPods(state: ClusterState, sel: LocalPodSelection): LocalPodCandidate[] {
  if (sel.mode === 'cluster' && !sel.nodeName) throw new LocalPodSelectionError(sel);
  const out: LocalPodCandidate[] = [];
  for (const pod of state.pods) {
    if (pod.spec.hostNetwork) continue;
    if (sel.nodeName !== undefined && pod.spec.nodeName !== sel.nodeName) continue;
    const raw = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)].filter((x): x is string => !!x && (isIPv4(x) || isIPv6(x)));
    const ips = [...new Set(raw.map(canonicalIp))].sort((a, b) => Number(isIPv6(a)) - Number(isIPv6(b)));
    out.push({ ref: `${pod.metadata.namespace}/${pod.metadata.name}`, namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, ips });
  }
  return out;
}
