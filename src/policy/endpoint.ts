// Turning a flow's `from`/`to` into what the datapath would see: one IP, plus the pod, nodes and
// Service that own it. A "namespace/pod" name becomes one of the pod's IPs; an IP literal that is a
// pod's IP is that pod, one that is a node address is that node (also for host-network pods, whose
// IP is their node's), one that is a ClusterIP is that Service.
import type { ClusterIndex, NodeEntry, PodEntry, ServiceEntry } from './cluster-index.js';
import { InvalidFlowError, UnknownEndpointError } from './errors.js';
import { type IPAddress, type IPFamily, tryParseIP } from './ip.js';

export interface Endpoint {
  /** As written in the flow. */
  readonly text: string;
  readonly ip: IPAddress;
  /** The pod behind the IP; for an IP literal only pods with their own network namespace. */
  readonly pod: PodEntry | null;
  /** Nodes having `ip` among their addresses. */
  readonly nodes: readonly NodeEntry[];
  /** The Service whose ClusterIP `ip` is (only when no pod owns the IP). */
  readonly service: ServiceEntry | null;
}

type Parsed = { kind: 'ip'; ip: IPAddress } | { kind: 'pod'; pod: PodEntry };

function parseEndpoint(index: ClusterIndex, field: 'from' | 'to', text: string): Parsed {
  if (typeof text !== 'string' || text.length === 0) {
    throw new UnknownEndpointError(field, String(text), 'must be "namespace/pod" or an IP literal');
  }
  const ip = tryParseIP(text);
  if (ip) return { kind: 'ip', ip };
  const parts = text.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new UnknownEndpointError(field, text, 'is neither an IP literal nor "namespace/pod"');
  }
  const pod = index.pod(text);
  if (!pod) throw new UnknownEndpointError(field, text, 'no such pod in the cluster state');
  if (pod.ips.length === 0) throw new UnknownEndpointError(field, text, 'the pod has no IP (status.podIP/podIPs)');
  return { kind: 'pod', pod };
}

function familiesOf(p: Parsed): IPFamily[] {
  return p.kind === 'ip' ? [p.ip.family] : [...new Set(p.pod.ips.map((ip) => ip.family))];
}

function pickFamily(from: Parsed, to: Parsed): IPFamily | null {
  const a = familiesOf(from);
  const b = familiesOf(to);
  // IPv4 first when both ends are dual-stack, as most clients would connect.
  for (const f of [4, 6] as const) if (a.includes(f) && b.includes(f)) return f;
  return null;
}

function endpointOf(index: ClusterIndex, text: string, p: Parsed, family: IPFamily): Endpoint {
  if (p.kind === 'pod') {
    const ip = p.pod.ips.find((i) => i.family === family) as IPAddress;
    return { text, ip, pod: p.pod, nodes: index.nodesAt(ip), service: null };
  }
  const pod = index.podAt(p.ip) ?? null;
  return { text, ip: p.ip, pod, nodes: index.nodesAt(p.ip), service: pod ? null : (index.serviceAt(p.ip) ?? null) };
}

/** Both ends of a flow, in one IP family. Throws UnknownEndpointError / InvalidFlowError. */
export function resolveEndpoints(index: ClusterIndex, from: string, to: string): { src: Endpoint; dst: Endpoint } {
  const f = parseEndpoint(index, 'from', from);
  const t = parseEndpoint(index, 'to', to);
  const family = pickFamily(f, t);
  if (family === null) {
    throw new InvalidFlowError('to', to, `no IP family in common with ${JSON.stringify(from)} (IPv4 and IPv6 do not mix)`);
  }
  return { src: endpointOf(index, from, f, family), dst: endpointOf(index, to, t, family) };
}
