// The cluster state as the compiler needs it, kept up to date one pod at a time: pods by key and
// by IP, nodes by address, Services with their EndpointSlice backends, pods by named port. It
// builds the same PodEntry/NodeEntry values as src/policy's ClusterIndex (the differential tests
// hold the two to the same answers); ClusterIndex itself is immutable, hence this mutable twin.
import type { ClusterState, EndpointSlice, Pod, Protocol, Service } from '../api/types.js';
import { NAMESPACE_NAME_LABEL, type NodeEntry, type PodEntry, type ServiceBackend } from '../policy/cluster-index.js';
import { type IPAddress, formatIP, tryParseIP } from '../policy/ip.js';
import type { Labels } from '../policy/selector.js';

export interface ServiceView {
  readonly key: string;
  readonly clusterIPs: readonly IPAddress[];
  readonly ports: readonly { name: string; protocol: Protocol; port: number }[];
  readonly slices: readonly EndpointSlice[];
}

// Formatting an address is the hottest operation of a compile: every address object is formatted once.
const ipTexts = new WeakMap<IPAddress, string>();

/** The canonical text of an address (cached per address object). */
export function ipKey(ip: IPAddress): string {
  let t = ipTexts.get(ip);
  if (t === undefined) ipTexts.set(ip, (t = formatIP(ip)));
  return t;
}

function podIPs(pod: Pod): IPAddress[] {
  const texts = [...(pod.status?.podIPs ?? []).map((p) => p.ip), ...(pod.status?.podIP ? [pod.status.podIP] : [])];
  const seen = new Map<string, IPAddress>();
  for (const t of texts) {
    const ip = tryParseIP(t);
    if (ip) seen.set(ipKey(ip), ip);
  }
  return [...seen.values()];
}

export class ClusterView {
  readonly pods = new Map<string, PodEntry>();
  private readonly podByIP = new Map<string, PodEntry>();
  /**
   * Non-host-network pods per address in update order. Two pods can hold one address for a while
   * (a replacement scheduled before the old pod's deletion arrives): the last updated owns it, as
   * the last one listed does in ClusterIndex, and when the owner goes the previous holder takes over.
   */
  private readonly holders = new Map<string, PodEntry[]>();
  readonly nodes = new Map<string, NodeEntry>();
  private readonly nodesByIP = new Map<string, NodeEntry[]>();
  private readonly namespaceLabelMap = new Map<string, Labels>();
  readonly services = new Map<string, ServiceView>();
  private readonly serviceByIP = new Map<string, ServiceView>();
  /** Services whose EndpointSlices list an address: a pod there changes their backends. */
  private readonly servicesBySliceIP = new Map<string, Set<ServiceView>>();
  private readonly byNamedPort = new Map<string, Set<PodEntry>>();
  /** Pods by namespace: selections scoped to one namespace scan only it. */
  private readonly byNamespace = new Map<string, Map<string, PodEntry>>();
  /** Ready backends per Service port, dropped when a pod at one of the Service's slice addresses changes. */
  private readonly backendCache = new Map<ServiceView, Map<string, ServiceBackend[]>>();

  constructor(state: ClusterState) {
    for (const ns of state.namespaces) {
      this.namespaceLabelMap.set(ns.metadata.name, { ...(ns.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns.metadata.name });
    }
    for (const n of state.nodes) {
      const addresses: IPAddress[] = [];
      for (const a of n.status?.addresses ?? []) {
        const ip = tryParseIP(a.address);
        if (ip) addresses.push(ip);
      }
      const entry: NodeEntry = { name: n.metadata.name, labels: n.metadata.labels ?? {}, addresses };
      this.nodes.set(entry.name, entry);
      for (const ip of addresses) {
        const k = formatIP(ip);
        this.nodesByIP.set(k, [...(this.nodesByIP.get(k) ?? []), entry]);
      }
    }
    for (const pod of state.pods) this.upsertPod(pod);
    for (const svc of state.services) this.indexService(svc, state.endpointSlices);
  }

  /** Namespaces that hold at least one pod now or did before. */
  podNamespaces(): Iterable<string> {
    return this.byNamespace.keys();
  }

  podsIn(namespace: string): Iterable<PodEntry> {
    return this.byNamespace.get(namespace)?.values() ?? [];
  }

  namespaceLabels(namespace: string): Labels {
    return this.namespaceLabelMap.get(namespace) ?? { [NAMESPACE_NAME_LABEL]: namespace };
  }

  podEntry(pod: Pod): PodEntry {
    const namespace = pod.metadata.namespace;
    const namedPorts = [];
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      for (const p of c.ports ?? []) if (p.name) namedPorts.push({ name: p.name, protocol: p.protocol ?? 'TCP', port: p.containerPort });
    }
    return {
      key: `${namespace}/${pod.metadata.name}`,
      namespace,
      name: pod.metadata.name,
      labels: pod.metadata.labels ?? {},
      namespaceLabels: this.namespaceLabels(namespace),
      ips: podIPs(pod),
      hostNetwork: pod.spec.hostNetwork === true,
      nodeName: pod.spec.nodeName ?? null,
      namedPorts,
      pod,
    };
  }

  /** Adds or replaces a pod; returns the entries removed and added. */
  upsertPod(pod: Pod): { removed: PodEntry | undefined; added: PodEntry } {
    const added = this.podEntry(pod);
    const removed = this.removePod(added.key);
    this.pods.set(added.key, added);
    let ns = this.byNamespace.get(added.namespace);
    if (!ns) this.byNamespace.set(added.namespace, (ns = new Map()));
    ns.set(added.key, added);
    this.dropBackends(added);
    if (!added.hostNetwork) {
      for (const ip of added.ips) {
        const k = ipKey(ip);
        this.podByIP.set(k, added);
        const list = this.holders.get(k);
        if (list) list.push(added);
        else this.holders.set(k, [added]);
      }
    }
    for (const np of added.namedPorts) {
      let set = this.byNamedPort.get(np.name);
      if (!set) this.byNamedPort.set(np.name, (set = new Set()));
      set.add(added);
    }
    return { removed, added };
  }

  removePod(key: string): PodEntry | undefined {
    const old = this.pods.get(key);
    if (!old) return undefined;
    this.pods.delete(key);
    this.byNamespace.get(old.namespace)?.delete(key);
    this.dropBackends(old);
    for (const ip of old.ips) {
      const k = ipKey(ip);
      const list = this.holders.get(k)?.filter((p) => p !== old) ?? [];
      if (list.length > 0) this.holders.set(k, list);
      else this.holders.delete(k);
      if (this.podByIP.get(k) !== old) continue;
      const next = list[list.length - 1];
      if (next) this.podByIP.set(k, next);
      else this.podByIP.delete(k);
    }
    for (const np of old.namedPorts) this.byNamedPort.get(np.name)?.delete(old);
    return old;
  }

  private dropBackends(pod: PodEntry): void {
    for (const ip of pod.ips) for (const svc of this.servicesListing(ip)) this.backendCache.delete(svc);
  }

  podAt(ip: IPAddress): PodEntry | undefined {
    return this.podByIP.get(ipKey(ip));
  }

  podAtKey(ip: string): PodEntry | undefined {
    return this.podByIP.get(ip);
  }

  serviceAtKey(ip: string): ServiceView | undefined {
    return this.serviceByIP.get(ip);
  }

  /** The IPs a pod owns as a peer (host-network pods own none: their IP is the node's). */
  ownedIPs(pod: PodEntry): IPAddress[] {
    if (pod.hostNetwork) return [];
    return pod.ips.filter((ip) => this.podByIP.get(ipKey(ip)) === pod);
  }

  nodesAt(ip: IPAddress): readonly NodeEntry[] {
    return this.nodesByIP.get(ipKey(ip)) ?? [];
  }

  podsWithNamedPort(name: string): Iterable<PodEntry> {
    return this.byNamedPort.get(name) ?? [];
  }

  servicesListing(ip: IPAddress): Iterable<ServiceView> {
    return this.servicesBySliceIP.get(ipKey(ip)) ?? [];
  }

  /** ClusterIPs the datapath may see before translation: those no pod owns (as the evaluator). */
  serviceClusterIPs(svc: ServiceView): IPAddress[] {
    return svc.clusterIPs.filter((ip) => this.serviceByIP.get(ipKey(ip)) === svc && !this.podAt(ip));
  }

  private indexService(svc: Service, slicesAll: readonly EndpointSlice[]): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const clusterIPs: IPAddress[] = [];
    for (const t of [...(svc.spec.clusterIPs ?? []), ...(svc.spec.clusterIP ? [svc.spec.clusterIP] : [])]) {
      const ip = tryParseIP(t);
      if (ip && !clusterIPs.some((c) => c.family === ip.family && c.value === ip.value)) clusterIPs.push(ip);
    }
    if (clusterIPs.length === 0) return;
    const slices = slicesAll.filter(
      (s) => s.metadata.namespace === svc.metadata.namespace && s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name,
    );
    const view: ServiceView = {
      key,
      clusterIPs,
      ports: (svc.spec.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port })),
      slices,
    };
    this.services.set(key, view);
    for (const ip of clusterIPs) this.serviceByIP.set(formatIP(ip), view);
    for (const s of slices) {
      for (const e of s.endpoints) {
        for (const a of e.addresses) {
          const ip = tryParseIP(a);
          if (!ip) continue;
          const k = formatIP(ip);
          let set = this.servicesBySliceIP.get(k);
          if (!set) this.servicesBySliceIP.set(k, (set = new Set()));
          set.add(view);
        }
      }
    }
  }

  /** Backends of (protocol, service port), exactly as ClusterIndex computes them. */
  backends(svc: ServiceView, protocol: Protocol, port: number): ServiceBackend[] {
    let perSvc = this.backendCache.get(svc);
    if (!perSvc) this.backendCache.set(svc, (perSvc = new Map()));
    const k = `${protocol}/${port}`;
    let out = perSvc.get(k);
    if (!out) perSvc.set(k, (out = this.computeBackends(svc, protocol, port)));
    return out;
  }

  private computeBackends(svc: ServiceView, protocol: Protocol, port: number): ServiceBackend[] {
    const sp = svc.ports.find((p) => p.protocol === protocol && p.port === port);
    if (!sp) return [];
    const out: ServiceBackend[] = [];
    for (const slice of svc.slices) {
      const ep = (slice.ports ?? []).find((p) => (p.name ?? '') === sp.name && (p.protocol ?? 'TCP') === protocol);
      if (!ep || ep.port === undefined) continue;
      for (const endpoint of slice.endpoints) {
        if (endpoint.conditions?.ready === false) continue;
        for (const addr of endpoint.addresses) {
          const ip = tryParseIP(addr);
          const pod = ip ? this.podAt(ip) : undefined;
          if (ip && pod) out.push({ pod, ip, targetPort: ep.port });
        }
      }
    }
    return out;
  }
}
