// The cluster state indexed the way the datapath sees it: by IP. Built once per Evaluator.
import type { ClusterState, Container, EndpointSlice, Node, Pod, Protocol, Service } from '../api/types.js';
import { type IPAddress, formatIP, tryParseIP } from './ip.js';
import type { Labels } from './selector.js';

/** The label the API server puts on every Namespace (immutable); present even without the object. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface NamedPort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
}

export interface PodEntry {
  /** "namespace/name". */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
  readonly namespaceLabels: Labels;
  readonly ips: readonly IPAddress[];
  readonly hostNetwork: boolean;
  readonly nodeName: string | null;
  readonly namedPorts: readonly NamedPort[];
  readonly pod: Pod;
}

export interface NodeEntry {
  readonly name: string;
  readonly labels: Labels;
  readonly addresses: readonly IPAddress[];
}

export interface ServicePortEntry {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/**
 * The ready backends of one Service port, at their target ports. The evaluator and the compiler
 * both call this: a ClusterIP must match the same backends in both, so there is one statement of it.
 */
export function serviceBackends(
  ports: readonly ServicePortEntry[],
  slices: readonly EndpointSlice[],
  protocol: Protocol,
  port: number,
  podAt: (ip: IPAddress) => PodEntry | undefined,
): ServiceBackend[] {
  const sp = ports.find((p) => p.protocol === protocol && p.port === port);
  if (!sp) return [];
  const out: ServiceBackend[] = [];
  for (const slice of slices) {
    // EndpointSlice ports carry the resolved target port under the Service port's name.
    const ep = (slice.ports ?? []).find((p) => (p.name ?? '') === sp.name && (p.protocol ?? 'TCP') === protocol);
    if (!ep || ep.port === undefined) continue;
    for (const endpoint of slice.endpoints) {
      if (endpoint.conditions?.ready === false) continue;
      for (const addr of endpoint.addresses) {
        const ip = tryParseIP(addr);
        const pod = ip ? podAt(ip) : undefined;
        if (ip && pod) out.push({ pod, ip, targetPort: ep.port });
      }
    }
  }
  return out;
}

/** One way a Service port reaches a backend pod: the pod and the port number on it. */
export interface ServiceBackend {
  readonly pod: PodEntry;
  readonly ip: IPAddress;
  readonly targetPort: number;
}

export interface ServiceEntry {
  /** "namespace/name". */
  readonly key: string;
  readonly service: Service;
  readonly clusterIPs: readonly IPAddress[];
  /** Backends of (protocol, service port), from the Service's EndpointSlices. */
  backends(protocol: Protocol, port: number): ServiceBackend[];
}

function containerNamedPorts(containers: readonly Container[]): NamedPort[] {
  const out: NamedPort[] = [];
  for (const c of containers) {
    for (const p of c.ports ?? []) {
      if (p.name) out.push({ name: p.name, protocol: p.protocol ?? 'TCP', port: p.containerPort });
    }
  }
  return out;
}

/** A Node as policies see it: its labels and every parseable address, in status order. */
export function nodeEntry(n: Node): NodeEntry {
  const addresses: IPAddress[] = [];
  for (const a of n.status?.addresses ?? []) {
    const ip = tryParseIP(a.address);
    if (ip) addresses.push(ip);
  }
  return { name: n.metadata.name, labels: n.metadata.labels ?? {}, addresses };
}

function podIPs(pod: Pod): IPAddress[] {
  const texts = [...(pod.status?.podIPs ?? []).map((p) => p.ip), ...(pod.status?.podIP ? [pod.status.podIP] : [])];
  const seen = new Map<string, IPAddress>();
  for (const t of texts) {
    const ip = tryParseIP(t);
    if (ip) seen.set(formatIP(ip), ip);
  }
  return [...seen.values()];
}

/**
 * The pod's FIRST container port of that name (init containers first, then containers, in order).
 * Kubernetes only makes names unique per container, so a pod may have more: policy matching uses
 * findNamedPorts; this one stays for callers that want a single port.
 */
export function findNamedPort(pod: PodEntry, name: string): NamedPort | undefined {
  return pod.namedPorts.find((p) => p.name === name);
}

/** Every container port of the pod with that name: each of their (protocol, number) is that name. */
export function findNamedPorts(pod: PodEntry, name: string): NamedPort[] {
  return pod.namedPorts.filter((p) => p.name === name);
}

export class ClusterIndex {
  readonly pods: readonly PodEntry[];
  readonly nodes: readonly NodeEntry[];
  private readonly podByKey = new Map<string, PodEntry>();
  /** Only pods with their own network namespace: a host-network pod's IP is its node's. */
  private readonly podByIP = new Map<string, PodEntry>();
  private readonly nodesByIP = new Map<string, NodeEntry[]>();
  private readonly nodeByName = new Map<string, NodeEntry>();
  private readonly serviceByIP = new Map<string, ServiceEntry>();
  private readonly namespaceLabelMap = new Map<string, Labels>();

  constructor(state: ClusterState) {
    for (const ns of state.namespaces) {
      this.namespaceLabelMap.set(ns.metadata.name, { ...(ns.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns.metadata.name });
    }
    this.nodes = state.nodes.map((n) => {
      const entry = nodeEntry(n);
      this.nodeByName.set(entry.name, entry);
      for (const ip of entry.addresses) {
        const k = formatIP(ip);
        this.nodesByIP.set(k, [...(this.nodesByIP.get(k) ?? []), entry]);
      }
      return entry;
    });
    this.pods = state.pods.map((pod) => {
      const namespace = pod.metadata.namespace;
      const entry: PodEntry = {
        key: `${namespace}/${pod.metadata.name}`,
        namespace,
        name: pod.metadata.name,
        labels: pod.metadata.labels ?? {},
        namespaceLabels: this.namespaceLabels(namespace),
        ips: podIPs(pod),
        hostNetwork: pod.spec.hostNetwork === true,
        nodeName: pod.spec.nodeName ?? null,
        namedPorts: containerNamedPorts([...(pod.spec.initContainers ?? []), ...pod.spec.containers]),
        pod,
      };
      this.podByKey.set(entry.key, entry);
      if (!entry.hostNetwork) for (const ip of entry.ips) this.podByIP.set(formatIP(ip), entry);
      return entry;
    });
    for (const svc of state.services) this.indexService(svc, state);
  }

  private indexService(svc: Service, state: ClusterState): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const clusterIPs: IPAddress[] = [];
    for (const t of [...(svc.spec.clusterIPs ?? []), ...(svc.spec.clusterIP ? [svc.spec.clusterIP] : [])]) {
      const ip = tryParseIP(t);
      if (ip && !clusterIPs.some((c) => c.family === ip.family && c.value === ip.value)) clusterIPs.push(ip);
    }
    if (clusterIPs.length === 0) return;
    const slices = state.endpointSlices.filter(
      (s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name,
    );
    const ports: ServicePortEntry[] = (svc.spec.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port }));
    const entry: ServiceEntry = {
      key,
      service: svc,
      clusterIPs,
      backends: (protocol, port) => serviceBackends(ports, slices, protocol, port, (ip) => this.podAt(ip)),
    };
    for (const ip of clusterIPs) this.serviceByIP.set(formatIP(ip), entry);
  }

  namespaceLabels(namespace: string): Labels {
    return this.namespaceLabelMap.get(namespace) ?? { [NAMESPACE_NAME_LABEL]: namespace };
  }

  pod(key: string): PodEntry | undefined {
    return this.podByKey.get(key);
  }

  /** The pod (not host-network) that owns this IP. */
  podAt(ip: IPAddress): PodEntry | undefined {
    return this.podByIP.get(formatIP(ip));
  }

  nodesAt(ip: IPAddress): readonly NodeEntry[] {
    return this.nodesByIP.get(formatIP(ip)) ?? [];
  }

  node(name: string): NodeEntry | undefined {
    return this.nodeByName.get(name);
  }

  serviceAt(ip: IPAddress): ServiceEntry | undefined {
    return this.serviceByIP.get(formatIP(ip));
  }
}
