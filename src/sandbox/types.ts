// The harness's options and the handles it gives back.
import type { ClusterState, Pod } from '../api/types.js';
import type { ZoneRecord } from './zone.js';

export interface HarnessOptions {
  /** Cluster state the pods come from (labels, namespaces, status.podIP(s)). */
  state: ClusterState;
  /** Name prefix of everything created (default: a fresh "dgs" + 5 random characters). */
  prefix?: string;
  /**
   * 'own' (default): the node is a network namespace of its own, so nothing of the machine's
   * network changes. 'root': the machine's network namespace is the node (an in-process agent
   * sees the pods' veths); routes and forwarding sysctls are added there and removed at the end.
   */
  node?: 'own' | 'root';
  /** Only pods with this spec.nodeName get a namespace (default: every non-host-network pod). */
  nodeName?: string;
  /** The node's own addresses in 'own' mode (source of ARP/NDP towards pods). */
  nodeAddress?: { ipv4?: string; ipv6?: string };
  /** What the pods' resolv.conf points at: an address bound nowhere (the agent intercepts it). */
  clusterDns?: { ipv4?: string; ipv6?: string; clusterDomain?: string; ndots?: number };
  upstream?: {
    ipv4?: string;
    ipv6?: string;
    /** Zone of the built-in authoritative server (default: empty zone, everything NXDOMAIN). */
    records?: ZoneRecord[];
    /** Serve with the Route 53 emulator instead (`dnsgate r53-emulator`; IPv4 address only). */
    r53?: { zoneFiles: string[]; firewallFile: string };
  };
  outside?: {
    /** Server addresses; default: every A/AAAA of `upstream.records` in a documentation range. */
    addresses?: string[];
    tcpPorts?: number[];
    udpPorts?: number[];
  };
  /** Default timeout of `exec` (default 10 s). */
  execTimeoutMs?: number;
}

export interface HarnessPod {
  /** "namespace/name" */
  ref: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  netns: string;
  /** Host-side veth (in the node namespace), and the pod's side inside `netns`. */
  hostIf: string;
  podIf: 'eth0';
  ipv4?: string;
  ipv6?: string;
  object: Pod;
}

export interface HarnessEndpoint {
  netns: string;
  hostIf: string;
  ipv4?: string;
  ipv6?: string;
}
