// Proxy configuration with its defaults. Every limit has a default so `{ upstreams }` suffices.
import { DEFAULT_LEARNED_LIMITS, DEFAULT_TTL_BOUNDS, LearnedConfigError, LearnedStore, learnedExpiry, type LearnedLimits, type TTLBounds } from '../fqdn/index.js';
import { DnsConfigError } from './errors.js';
import type { QueryFilterMode } from './query-filter.js';

export interface ListenAddress {
  readonly host: string;
  /** 0 picks a free port (tests); UDP and TCP then share the port chosen for UDP. */
  readonly port: number;
}

export interface DnsProxyConfig {
  /** UDP and TCP listeners on each address (IPv4 and IPv6 literals). */
  readonly listen: readonly ListenAddress[];
  /** `ip`, `ip:port`, `[ipv6]:port`; tried in this order (failover). */
  readonly upstreams: readonly string[];
  readonly upstreamTimeoutMs: number;
  /** Total attempts per query over all upstreams. */
  readonly upstreamAttempts: number;
  readonly upstreamFailuresBeforeCooldown: number;
  readonly upstreamCooldownMs: number;
  /** UDP sockets per family in the upstream pool, and queries each carries before replacement. */
  readonly udpSockets: number;
  readonly udpMaxUsesPerSocket: number;
  readonly udpMaxPendingPerSocket: number;
  readonly tcpUpstreamConnections: number;
  readonly tcpUpstreamMaxPending: number;
  readonly tcpUpstreamIdleMs: number;
  readonly tcpIdleMs: number;
  readonly tcpMaxConnections: number;
  readonly tcpMaxConnectionsPerClient: number;
  readonly tcpMaxInflightPerConnection: number;
  /** A TCP message whose first byte has arrived must be complete within this long (slowloris). */
  readonly tcpFrameTimeoutMs: number;
  /** A TCP connection stops being read after this long and closes once its answers are written. */
  readonly tcpMaxConnectionLifetimeMs: number;
  /**
   * Answers not yet taken by a TCP client, in bytes: above the soft limit the connection is not
   * read (no new queries) until the client catches up; above the hard limit it is closed.
   */
  readonly tcpWriteBufferSoftBytes: number;
  readonly tcpWriteBufferHardBytes: number;
  readonly maxInflight: number;
  readonly maxInflightPerClient: number;
  readonly programTimeoutMs: number;
  readonly ttlBounds: TTLBounds;
  readonly learnedLimits: Required<LearnedLimits>;
  readonly queryFilter: QueryFilterMode;
  /** Names under these suffixes are never filtered (normalized, e.g. `cluster.local`). */
  readonly allowedSuffixes: readonly string[];
  readonly sweepIntervalMs: number;
  readonly sweepMaxWork: number;
  /** Log lines per event kind per second. */
  readonly logLinesPerSecond: number;
}

export const DEFAULT_DNS_PROXY_CONFIG: Omit<DnsProxyConfig, 'upstreams'> = {
  listen: [{ host: '127.0.0.1', port: 5353 }],
  upstreamTimeoutMs: 2000,
  upstreamAttempts: 3,
  upstreamFailuresBeforeCooldown: 3,
  upstreamCooldownMs: 5000,
  udpSockets: 16,
  udpMaxUsesPerSocket: 2000,
  udpMaxPendingPerSocket: 256,
  tcpUpstreamConnections: 4,
  tcpUpstreamMaxPending: 1024,
  tcpUpstreamIdleMs: 30_000,
  tcpIdleMs: 10_000,
  tcpMaxConnections: 1000,
  tcpMaxConnectionsPerClient: 64,
  tcpMaxInflightPerConnection: 128,
  tcpFrameTimeoutMs: 5000,
  tcpMaxConnectionLifetimeMs: 300_000,
  tcpWriteBufferSoftBytes: 256 * 1024,
  tcpWriteBufferHardBytes: 1024 * 1024,
  maxInflight: 20_000,
  maxInflightPerClient: 2000,
  programTimeoutMs: 250,
  ttlBounds: DEFAULT_TTL_BOUNDS,
  learnedLimits: DEFAULT_LEARNED_LIMITS,
  queryFilter: 'off',
  allowedSuffixes: ['cluster.local'],
  sweepIntervalMs: 1000,
  sweepMaxWork: 2000,
  logLinesPerSecond: 10,
};

/** Smallest soft limit: Node's default writable high-water mark (16 KiB). */
const MIN_WRITE_BUFFER_SOFT_BYTES = 16 * 1024;
/** A largest DNS message with its two-byte prefix. */
const MAX_FRAME_BYTES = 65537;

/** Lower case, without the root's trailing dot. */
function normalizeSuffix(s: string): string {
  return s.toLowerCase().replace(/\.$/, '');
}

export type DnsProxyConfigInput = Partial<DnsProxyConfig> & Pick<DnsProxyConfig, 'upstreams'>;

/** Defaults filled in and every field checked, so nothing on the query path can trip over config. */
export function resolveConfig(input: DnsProxyConfigInput): DnsProxyConfig {
  const merged: DnsProxyConfig = { ...DEFAULT_DNS_PROXY_CONFIG, ...input };
  if (!Array.isArray(merged.allowedSuffixes) || merged.allowedSuffixes.some((x) => typeof x !== 'string')) {
    throw new DnsConfigError('allowedSuffixes', 'must be a list of domain names');
  }
  const cfg: DnsProxyConfig = {
    ...merged,
    // Names are compared in lower case without the root dot: `Cluster.Local.` means cluster.local.
    allowedSuffixes: merged.allowedSuffixes.map(normalizeSuffix),
    learnedLimits: { ...DEFAULT_LEARNED_LIMITS, ...merged.learnedLimits },
  };
  const positive: (keyof DnsProxyConfig)[] = [
    'upstreamTimeoutMs',
    'upstreamAttempts',
    'upstreamFailuresBeforeCooldown',
    'udpSockets',
    'udpMaxUsesPerSocket',
    'udpMaxPendingPerSocket',
    'tcpUpstreamConnections',
    'tcpUpstreamMaxPending',
    'tcpUpstreamIdleMs',
    'tcpIdleMs',
    'tcpMaxConnections',
    'tcpMaxConnectionsPerClient',
    'tcpMaxInflightPerConnection',
    'tcpFrameTimeoutMs',
    'tcpMaxConnectionLifetimeMs',
    'tcpWriteBufferSoftBytes',
    'tcpWriteBufferHardBytes',
    'maxInflight',
    'maxInflightPerClient',
    'programTimeoutMs',
    'sweepIntervalMs',
    'sweepMaxWork',
    'logLinesPerSecond',
  ];
  for (const k of positive) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new DnsConfigError(k, `must be an integer >= 1, got ${String(v)}`);
  }
  // The soft limit must reach the socket's high-water mark, or no 'drain' would ever resume reading.
  if (cfg.tcpWriteBufferSoftBytes < MIN_WRITE_BUFFER_SOFT_BYTES) {
    throw new DnsConfigError('tcpWriteBufferSoftBytes', `must be at least ${MIN_WRITE_BUFFER_SOFT_BYTES}, got ${cfg.tcpWriteBufferSoftBytes}`);
  }
  // Room for at least one largest message above the soft limit, so the hard limit only catches
  // clients that stopped reading, not one large answer.
  if (cfg.tcpWriteBufferHardBytes < cfg.tcpWriteBufferSoftBytes + MAX_FRAME_BYTES) {
    throw new DnsConfigError(
      'tcpWriteBufferHardBytes',
      `must be at least tcpWriteBufferSoftBytes + ${MAX_FRAME_BYTES} (${cfg.tcpWriteBufferSoftBytes + MAX_FRAME_BYTES}), got ${cfg.tcpWriteBufferHardBytes}`,
    );
  }
  for (const s of cfg.allowedSuffixes) {
    // '' (written `.`) is the root: it matches only the root name, as any suffix matches itself.
    if (s !== '' && (s.length > 253 || s.split('.').some((label) => label.length === 0 || label.length > 63))) {
      throw new DnsConfigError('allowedSuffixes', `not a domain name: ${JSON.stringify(s)}`);
    }
  }
  try {
    // The store checks its own limits; building an empty one costs nothing and keeps one rule.
    new LearnedStore(cfg.learnedLimits);
  } catch (err) {
    if (err instanceof LearnedConfigError) throw new DnsConfigError(`learnedLimits.${err.field}`, err.message);
    throw err;
  }
  if (cfg.udpSockets > 65536) throw new DnsConfigError('udpSockets', 'at most 65536');
  if (!['off', 'refuse', 'nxdomain'].includes(cfg.queryFilter)) throw new DnsConfigError('queryFilter', `must be off, refuse or nxdomain, got ${String(cfg.queryFilter)}`);
  try {
    learnedExpiry(0, 0, cfg.ttlBounds);
  } catch (err) {
    throw new DnsConfigError('ttlBounds', (err as Error).message);
  }
  for (const l of cfg.listen) {
    if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535) throw new DnsConfigError('listen', `bad port ${l.port}`);
  }
  return cfg;
}
