// The cluster state as the compiler needs it, kept up to date one pod at a time: pods by key and
// by IP, nodes by address, Services with their EndpointSlice backends, pods by named port. It
// builds the same PodEntry/NodeEntry values as src/policy's ClusterIndex (the differential tests
// hold the two to the same answers); ClusterIndex itself is immutable, hence this mutable twin.
import type { ClusterState, EndpointSlice, Namespace, Node, Pod, Protocol, Service } from '../api/types.js';
import { NAMESPACE_NAME_LABEL, type NodeEntry, type PodEntry, type ServiceBackend, nodeEntry, serviceBackends } from '../policy/cluster-index.js';
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

function namespaceLabelsOf(ns: Namespace): Labels {
  return { ...(ns.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns.metadata.name };
}

function clusterIPsOf(svc: Service): IPAddress[] {
  const out: IPAddress[] = [];
  for (const t of [...(svc.spec.clusterIPs ?? []), ...(svc.spec.clusterIP ? [svc.spec.clusterIP] : [])]) {
    const ip = tryParseIP(t);
    if (ip && !out.some((c) => c.family === ip.family && c.value === ip.value)) out.push(ip);
  }
  return out;
}

/** The canonical addresses an EndpointSlice list names. */
function sliceAddresses(slices: readonly EndpointSlice[]): Set<string> {
  const out = new Set<string>();
  for (const s of slices) {
    for (const e of s.endpoints) {
      for (const a of e.addresses) {
        const ip = tryParseIP(a);
        if (ip) out.add(ipKey(ip));
      }
    }
  }
  return out;
}

/** Same labels and the same addresses in the same order (the first of a family is the node IP). */
function sameNode(a: NodeEntry, b: NodeEntry): boolean {
  const la = Object.entries(a.labels);
  if (la.length !== Object.keys(b.labels).length || la.some(([k, v]) => b.labels[k] !== v)) return false;
  return a.addresses.length === b.addresses.length && a.addresses.every((ip, i) => ipKey(ip) === ipKey(b.addresses[i] as IPAddress));
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
  /** Service objects and their EndpointSlices (by "namespace/name"), to re-index one Service at a time. */
  private readonly serviceObjects = new Map<string, Service>();
  private readonly slicesByService = new Map<string, Map<string, EndpointSlice>>();
  private readonly sliceService = new Map<string, string>();
  /**
   * Services per ClusterIP in update order: two may claim one address for a while; the last
   * updated owns it (as the last listed does in ClusterIndex), a slice change does not reorder.
   */
  private readonly ipClaims = new Map<string, string[]>();
  /** Ready backends per Service port, dropped when a pod at one of the Service's slice addresses changes. */
  private readonly backendCache = new Map<ServiceView, Map<string, ServiceBackend[]>>();

  constructor(state: ClusterState) {
    for (const ns of state.namespaces) this.namespaceLabelMap.set(ns.metadata.name, namespaceLabelsOf(ns));
    for (const n of state.nodes) this.setNode(n.metadata.name, n);
    for (const pod of state.pods) this.upsertPod(pod);
    for (const svc of state.services) this.claim(`${svc.metadata.namespace}/${svc.metadata.name}`, svc);
    for (const slice of state.endpointSlices) this.addSlice(slice);
    for (const key of this.serviceObjects.keys()) this.indexService(key);
    for (const ip of this.ipClaims.keys()) this.resolveClusterIP(ip);
  }

  /** Records a Service object and its ClusterIP claims (latest last); undefined drops them. */
  private claim(key: string, svc: Service | undefined): string[] {
    const touched: string[] = [];
    const old = this.serviceObjects.get(key);
    for (const ip of old ? clusterIPsOf(old) : []) {
      const k = ipKey(ip);
      touched.push(k);
      const list = (this.ipClaims.get(k) ?? []).filter((c) => c !== key);
      if (list.length > 0) this.ipClaims.set(k, list);
      else this.ipClaims.delete(k);
    }
    if (svc) {
      this.serviceObjects.set(key, svc);
      for (const ip of clusterIPsOf(svc)) {
        const k = ipKey(ip);
        touched.push(k);
        const list = this.ipClaims.get(k);
        if (list) list.push(key);
        else this.ipClaims.set(k, [key]);
      }
    } else this.serviceObjects.delete(key);
    return touched;
  }

  /** The Service owning a ClusterIP: the latest claim whose Service is indexed. */
  private resolveClusterIP(ip: string): void {
    const list = this.ipClaims.get(ip) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const view = this.services.get(list[i] as string);
      if (view) {
        this.serviceByIP.set(ip, view);
        return;
      }
    }
    this.serviceByIP.delete(ip);
  }

  /**
   * Sets a Namespace's labels (undefined: the object is gone, only the name label stays); returns
   * the pods of that namespace, whose entries must be rebuilt (they carry the namespace labels).
   */
  setNamespace(name: string, ns: Namespace | undefined): { removed: PodEntry; added: PodEntry }[] {
    if (ns) this.namespaceLabelMap.set(name, namespaceLabelsOf(ns));
    else this.namespaceLabelMap.delete(name);
    return [...this.podsIn(name)].map((old) => ({ removed: old, added: this.rebuildEntry(old) }));
  }

  /**
   * Swaps a pod's entry for one rebuilt from the same object (new namespace labels), in place:
   * which pod owns a shared address must not change, as it would by an update.
   */
  private rebuildEntry(old: PodEntry): PodEntry {
    const added = this.podEntry(old.pod);
    this.pods.set(added.key, added);
    this.byNamespace.get(added.namespace)?.set(added.key, added);
    for (const ip of old.ips) {
      const k = ipKey(ip);
      if (this.podByIP.get(k) === old) this.podByIP.set(k, added);
      const list = this.holders.get(k);
      if (list) this.holders.set(k, list.map((p) => (p === old ? added : p)));
    }
    for (const np of old.namedPorts) {
      const set = this.byNamedPort.get(np.name);
      if (set?.delete(old)) set.add(added);
    }
    this.dropBackends(added);
    return added;
  }

  /**
   * Adds, replaces or (undefined) removes a Node; returns its entries before and after, or null
   * when nothing the compiler reads (labels, addresses) changed: status heartbeats cost nothing.
   */
  setNode(name: string, node: Node | undefined): { before: NodeEntry | undefined; after: NodeEntry | undefined } | null {
    const before = this.nodes.get(name);
    const after = node ? nodeEntry(node) : undefined;
    if (before && after && sameNode(before, after)) return null;
    if (!before && !after) return null;
    if (before) {
      this.nodes.delete(name);
      for (const ip of before.addresses) {
        const k = ipKey(ip);
        const list = (this.nodesByIP.get(k) ?? []).filter((n) => n !== before);
        if (list.length > 0) this.nodesByIP.set(k, list);
        else this.nodesByIP.delete(k);
      }
    }
    if (after) {
      this.nodes.set(name, after);
      for (const ip of after.addresses) {
        const k = ipKey(ip);
        const list = this.nodesByIP.get(k);
        if (list) list.push(after);
        else this.nodesByIP.set(k, [after]);
      }
    }
    return { before, after };
  }

  /** Adds, replaces or (undefined) removes a Service; returns its views before and after. */
  setService(key: string, svc: Service | undefined): (ServiceView | undefined)[] {
    const before = this.services.get(key);
    const touched = this.claim(key, svc);
    this.indexService(key);
    for (const ip of touched) this.resolveClusterIP(ip);
    return [before, this.services.get(key)];
  }

  /** Adds, replaces or (undefined) removes an EndpointSlice; returns the Services' views before and after. */
  setSlice(key: string, slice: EndpointSlice | undefined): (ServiceView | undefined)[] {
    const owners = new Set<string>();
    const had = this.sliceService.get(key);
    if (had !== undefined) {
      owners.add(had);
      this.slicesByService.get(had)?.delete(key);
      this.sliceService.delete(key);
    }
    if (slice) {
      const owner = this.addSlice(slice);
      if (owner !== undefined) owners.add(owner);
    }
    const out: (ServiceView | undefined)[] = [];
    for (const o of owners) {
      out.push(this.services.get(o));
      this.indexService(o);
      const view = this.services.get(o);
      out.push(view);
      for (const ip of view?.clusterIPs ?? []) this.resolveClusterIP(ipKey(ip));
    }
    return out;
  }

  private addSlice(slice: EndpointSlice): string | undefined {
    const name = slice.metadata.labels?.['kubernetes.io/service-name'];
    if (name === undefined) return undefined;
    const owner = `${slice.metadata.namespace}/${name}`;
    const key = `${slice.metadata.namespace}/${slice.metadata.name}`;
    let m = this.slicesByService.get(owner);
    if (!m) this.slicesByService.set(owner, (m = new Map()));
    m.set(key, slice);
    this.sliceService.set(key, owner);
    return owner;
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

  /** (Re)builds one Service's view from its object and slices (none without a ClusterIP). */
  private indexService(key: string): void {
    const old = this.services.get(key);
    if (old) {
      this.services.delete(key);
      this.backendCache.delete(old);
      for (const ip of old.clusterIPs) if (this.serviceByIP.get(ipKey(ip)) === old) this.serviceByIP.delete(ipKey(ip));
      // Callers re-resolve the addresses (another Service may hold them).
      for (const a of sliceAddresses(old.slices)) {
        const set = this.servicesBySliceIP.get(a);
        set?.delete(old);
        if (set?.size === 0) this.servicesBySliceIP.delete(a);
      }
    }
    const svc = this.serviceObjects.get(key);
    if (!svc) return;
    const clusterIPs = clusterIPsOf(svc);
    if (clusterIPs.length === 0) return;
    const view: ServiceView = {
      key,
      clusterIPs,
      ports: (svc.spec.ports ?? []).map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port })),
      slices: [...(this.slicesByService.get(key)?.values() ?? [])],
    };
    this.services.set(key, view);
    for (const ip of clusterIPs) this.resolveClusterIP(ipKey(ip));
    for (const a of sliceAddresses(view.slices)) {
      let set = this.servicesBySliceIP.get(a);
      if (!set) this.servicesBySliceIP.set(a, (set = new Set()));
      set.add(view);
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
    return serviceBackends(svc.ports, svc.slices, protocol, port, (ip) => this.podAt(ip));
  }
}
