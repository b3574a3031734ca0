// Every field of the agent's config file: its path, type, default and one line of documentation.
// The validator, the CLI flags and the README table are all driven by this list (a test checks the
// README documents each field with its default), so a field cannot exist in one and not the others.
import { DEFAULT_DNS_PROXY_CONFIG } from '../dns/config.js';

export type FieldType =
  | { kind: 'string'; optional?: boolean }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'strings' }
  | { kind: 'bool' };

export interface FieldSpec {
  /** Dotted path in the YAML file. */
  readonly path: string;
  readonly type: FieldType;
  /** The default as a value; undefined for optional fields with no default. */
  readonly default: unknown;
  /** How the README shows the default when the value alone would not say it. */
  readonly defaultText?: string;
  /** The overriding flag (long form, with its value placeholder). */
  readonly flag?: string;
  readonly doc: string;
}

const int = (min: number, max: number): FieldType => ({ kind: 'int', min, max });

export const CONFIG_FIELDS: readonly FieldSpec[] = [
  { path: 'nodeName', type: { kind: 'string', optional: true }, default: undefined, defaultText: 'unset (standalone: every pod is local)', flag: '--node-name <name>', doc: "This node's name: pods whose spec.nodeName equals it are enforced here. Unset, every pod of the source is local (standalone, one node)." },
  { path: 'manifests', type: { kind: 'strings' }, default: [], flag: '-f, --file <paths...>', doc: 'Standalone source: manifest files and directories (cluster state and policies), re-read when they change. Empty: the cluster state comes from the Kubernetes API (informers).' },
  { path: 'kubeconfig', type: { kind: 'string', optional: true }, default: undefined, defaultText: 'unset (in a pod: its service account; elsewhere $KUBECONFIG or ~/.kube/config)', flag: '--kubeconfig <file>', doc: 'Kubernetes API credentials of the cluster source, used when `manifests` is empty.' },
  { path: 'kubernetes.leaseNamespace', type: { kind: 'string', optional: true }, default: undefined, defaultText: 'unset ($POD_NAMESPACE, else `dnsgate-system`)', flag: '--lease-namespace <ns>', doc: 'Namespace of the Lease electing the one agent that writes policy status conditions and Events (Kubernetes source only).' },
  { path: 'kubernetes.leaseName', type: { kind: 'string' }, default: 'dnsgate-status', flag: '--lease-name <name>', doc: 'Name of that Lease; agents sharing it elect one status writer among them (identity: `nodeName`).' },
  { path: 'mode', type: { kind: 'enum', values: ['standard', 'strict'] }, default: 'standard', flag: '--mode <mode>', doc: 'Default for pods no policy selects: `standard` allows (the Kubernetes default), `strict` denies.' },
  { path: 'datapath', type: { kind: 'enum', values: ['ebpf', 'memory'] }, default: 'ebpf', flag: '--datapath <kind>', doc: '`ebpf` enforces with tc programs on the pod veths; `memory` only models the verdicts (testing, dry runs: nothing is dropped).' },
  { path: 'dns.listen', type: { kind: 'strings' }, default: ['127.0.0.1:5353'], flag: '--dns-listen <addr...>', doc: "Proxy listen addresses (`ip:port`, `[ip6]:port`), UDP and TCP. Redirected queries are DNATed to the first one of the query's family, so with `dns.clusterDnsIPs` it must be an address of the node (not loopback, not 0.0.0.0)." },
  { path: 'dns.upstreams', type: { kind: 'strings' }, default: [], defaultText: 'the nameservers of /etc/resolv.conf', flag: '--upstream <addr...>', doc: 'Resolvers the proxy forwards to (`ip`, `ip:port`, `[ip6]:port`), in failover order.' },
  { path: 'dns.clusterDnsIPs', type: { kind: 'strings' }, default: [], flag: '--cluster-dns <ip...>', doc: "The cluster DNS Service IPs pods have in resolv.conf. Their UDP and TCP port-53 traffic from local pods is redirected to the proxy (nftables DNAT); empty, nothing is redirected." },
  { path: 'dns.minTTL', type: int(0, 86400 * 365), default: 60, flag: '--min-ttl <seconds>', doc: 'Lower bound of a learned IP\'s lifetime in seconds (SEMANTICS.md 5).' },
  { path: 'dns.maxTTL', type: int(0, 86400 * 365), default: 86400, flag: '--max-ttl <seconds>', doc: 'Upper bound of a learned IP\'s lifetime in seconds.' },
  { path: 'dns.maxIPsPerName', type: int(1, 1_000_000), default: 1000, flag: '--max-ips-per-name <n>', doc: 'Learned IPs kept per (pod, name). Older entries (earliest expiry first) make room, never an address of the answer being released; an answer with more addresses than this gets SERVFAIL.' },
  { path: 'dns.maxLearnedPerPod', type: int(1, 10_000_000), default: 10000, flag: '--max-learned-per-pod <n>', doc: 'Learned entries kept per pod, evicted the same way as `dns.maxIPsPerName`.' },
  { path: 'dns.queryFilter', type: { kind: 'enum', values: ['off', 'refuse', 'nxdomain'] }, default: 'off', flag: '--query-filter <mode>', doc: 'For egress-isolated pods, answer names matching none of their domain patterns with REFUSED/NXDOMAIN instead of forwarding them.' },
  { path: 'dns.allowedSuffixes', type: { kind: 'strings' }, default: ['cluster.local'], flag: '--allowed-suffix <names...>', doc: 'Names under these suffixes are never filtered by `dns.queryFilter`.' },
  { path: 'dns.programTimeoutMs', type: int(1, 60_000), default: 250, flag: '--program-timeout <ms>', doc: 'How long an answer may wait for its learned IPs to be programmed before the pod gets SERVFAIL.' },
  { path: 'dns.upstreamTimeoutMs', type: int(1, 60_000), default: 2000, flag: '--upstream-timeout <ms>', doc: 'Per-attempt upstream timeout.' },
  { path: 'dns.tcpFrameTimeoutMs', type: int(1, 600_000), default: DEFAULT_DNS_PROXY_CONFIG.tcpFrameTimeoutMs, flag: '--dns-tcp-frame-timeout <ms>', doc: 'A DNS-over-TCP message from a client must be complete this long after its first byte (slow senders are closed).' },
  { path: 'dns.tcpMaxConnectionLifetimeMs', type: int(1, 86_400_000), default: DEFAULT_DNS_PROXY_CONFIG.tcpMaxConnectionLifetimeMs, flag: '--dns-tcp-max-lifetime <ms>', doc: 'A client TCP connection is no longer read after this long and closes once its answers are written.' },
  { path: 'dns.tcpWriteBufferSoftBytes', type: int(16 * 1024, 64 * 1024 * 1024), default: DEFAULT_DNS_PROXY_CONFIG.tcpWriteBufferSoftBytes, flag: '--dns-tcp-write-soft <bytes>', doc: 'Unread answers buffered for a TCP client above which its queries are no longer read (until it reads).' },
  { path: 'dns.tcpWriteBufferHardBytes', type: int(16 * 1024 + 65_537, 256 * 1024 * 1024), default: DEFAULT_DNS_PROXY_CONFIG.tcpWriteBufferHardBytes, flag: '--dns-tcp-write-hard <bytes>', doc: 'Unread answers buffered for a TCP client above which the connection is closed (at least the soft limit + 65537).' },
  { path: 'paths.bpffs', type: { kind: 'string' }, default: '/sys/fs/bpf/dnsgate', flag: '--bpffs <dir>', doc: 'Where the eBPF maps are pinned (kept across restarts so enforcement continues).' },
  { path: 'paths.state', type: { kind: 'string' }, default: '/var/lib/dnsgate', flag: '--state-dir <dir>', doc: "The agent's state directory (the last compilation's ids, for restart adoption)." },
  { path: 'http.listen', type: { kind: 'string' }, default: '127.0.0.1:9808', flag: '--http-listen <addr>', doc: '`/healthz`, `/readyz` and `/metrics` (`ip:port`; port 0 picks one and logs it).' },
  { path: 'log.level', type: { kind: 'enum', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] }, default: 'info', flag: '--log-level <level>', doc: 'pino log level (JSON lines on stdout).' },
  { path: 'log.allowSample', type: { kind: 'number', min: 0, max: 1 }, default: 0.01, flag: '--allow-sample <ratio>', doc: 'Fraction of datapath allow decisions written to the decision log (every deny is written).' },
  { path: 'reconcile.debounceMs', type: int(0, 60_000), default: 100, flag: '--debounce <ms>', doc: 'Quiet time after a cluster change before compiling and programming.' },
];

export function fieldByPath(path: string): FieldSpec | undefined {
  return CONFIG_FIELDS.find((f) => f.path === path);
}
