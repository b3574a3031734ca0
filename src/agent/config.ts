// The agent's configuration: a YAML file (every field optional, see config-fields.ts) with flag
// overrides on top, validated up front so nothing later trips over a bad value. Errors name the
// field by its dotted path (and the file or flag it came from).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CONFIG_FIELDS, type FieldSpec } from './config-fields.js';
import { AgentConfigError } from './errors.js';
import { canonicalIp, isConcreteAddress, parseHostPort, type HostPort } from './host-port.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface AgentConfig {
  readonly nodeName: string | undefined;
  readonly kubeconfig: string | undefined;
  readonly manifests: readonly string[];
  readonly mode: 'standard' | 'strict';
  readonly datapath: 'ebpf' | 'memory';
  readonly dns: {
    readonly listen: readonly HostPort[];
    readonly upstreams: readonly string[];
    readonly clusterDnsIPs: readonly string[];
    readonly minTTL: number;
    readonly maxTTL: number;
    readonly maxIPsPerName: number;
    readonly maxLearnedPerPod: number;
    readonly queryFilter: 'off' | 'refuse' | 'nxdomain';
    readonly allowedSuffixes: readonly string[];
    readonly programTimeoutMs: number;
    readonly upstreamTimeoutMs: number;
    readonly tcpFrameTimeoutMs: number;
    readonly tcpMaxConnectionLifetimeMs: number;
    readonly tcpWriteBufferSoftBytes: number;
    readonly tcpWriteBufferHardBytes: number;
  };
  readonly paths: { readonly bpffs: string; readonly state: string };
  readonly http: { readonly listen: HostPort };
  readonly log: { readonly level: LogLevel; readonly allowSample: number };
  readonly reconcile: { readonly debounceMs: number };
  /** Kubernetes source only: the Lease electing the policy status writer. */
  readonly kubernetes: { readonly leaseNamespace: string; readonly leaseName: string };
}

/** Where the Lease lives when `kubernetes.leaseNamespace` is unset and POD_NAMESPACE is too. */
export const DEFAULT_LEASE_NAMESPACE = 'dnsgate-system';

/** Flag overrides by dotted field path (`dns.minTTL` -> 5). */
export type ConfigOverrides = Readonly<Record<string, unknown>>;

export interface ResolveOptions {
  /** The parsed config file (any YAML value; validated here), and its path for messages. */
  file?: { value: unknown; path: string };
  overrides?: ConfigOverrides;
  /** Reads the resolv.conf nameservers when `dns.upstreams` is empty (tests pass their own). */
  resolvConf?: () => string;
  /** Environment for defaults taken from it (POD_NAMESPACE); process.env when absent. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Reads and parses a YAML config file; errors name the file. */
export function readConfigFile(path: string): { value: unknown; path: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentConfigError('--config', `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return { value: parseYaml(text) ?? {}, path };
  } catch (err) {
    throw new AgentConfigError('--config', `${path} is not valid YAML: ${(err as Error).message}`);
  }
}

/** Flattens the file to `path -> value`, rejecting unknown keys (typos must not pass silently). */
function flatten(value: unknown, origin: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!isPlainObject(value)) throw new AgentConfigError('(top level)', 'must be a mapping of config fields', origin);
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix === '' ? k : `${prefix}.${k}`;
      if (CONFIG_FIELDS.some((f) => f.path === path)) {
        out.set(path, v);
      } else if (CONFIG_FIELDS.some((f) => f.path.startsWith(`${path}.`))) {
        if (!isPlainObject(v)) throw new AgentConfigError(path, 'must be a mapping', origin);
        walk(v, path);
      } else {
        throw new AgentConfigError(path, `unknown field (known: ${knownUnder(prefix)})`, origin);
      }
    }
  };
  walk(value, '');
  return out;
}

function knownUnder(prefix: string): string {
  const names = CONFIG_FIELDS.filter((f) => prefix === '' || f.path.startsWith(`${prefix}.`)).map((f) => (prefix === '' ? f.path : f.path.slice(prefix.length + 1)).split('.')[0]!);
  return [...new Set(names)].join(', ');
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkField(spec: FieldSpec, raw: unknown, origin: string): unknown {
  const fail = (reason: string): never => {
    throw new AgentConfigError(spec.path, reason, origin);
  };
  const t = spec.type;
  switch (t.kind) {
    case 'string':
      if (typeof raw !== 'string' || raw === '') fail(`must be a non-empty string, got ${JSON.stringify(raw)}`);
      return raw;
    case 'int':
    case 'number': {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n)) return fail(`must be a number, got ${JSON.stringify(raw)}`);
      if (t.kind === 'int' && !Number.isInteger(n)) fail(`must be an integer, got ${n}`);
      if (n < t.min || n > t.max) fail(`must be between ${t.min} and ${t.max}, got ${n}`);
      return n;
    }
    case 'enum':
      if (typeof raw !== 'string' || !t.values.includes(raw)) fail(`must be one of ${t.values.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    case 'strings': {
      const list = typeof raw === 'string' ? [raw] : raw;
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x === '')) return fail('must be a list of non-empty strings');
      return [...(list as string[])];
    }
    case 'bool':
      if (typeof raw !== 'boolean') fail(`must be true or false, got ${JSON.stringify(raw)}`);
      return raw;
  }
}

/** The `nameserver` lines of a resolv.conf text. */
export function resolvConfNameservers(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined && canonicalIp(x.replace(/%.*$/, '')) !== undefined)
    .map((x) => x.replace(/%.*$/, ''));
}

/** Defaults, then the file, then the flags; every field checked; cross-field rules last. */
export function resolveAgentConfig(opts: ResolveOptions = {}): AgentConfig {
  const values = new Map<string, unknown>();
  const originOf = new Map<string, string>();
  for (const f of CONFIG_FIELDS) if (f.default !== undefined) values.set(f.path, f.default);
  if (opts.file) {
    for (const [k, v] of flatten(opts.file.value, opts.file.path)) {
      values.set(k, v);
      originOf.set(k, opts.file.path);
    }
  }
  for (const [k, v] of Object.entries(opts.overrides ?? {})) {
    if (v === undefined) continue;
    if (!CONFIG_FIELDS.some((f) => f.path === k)) throw new AgentConfigError(k, 'unknown field', 'flag');
    values.set(k, v);
    originOf.set(k, 'flag');
  }
  const checked = new Map<string, unknown>();
  for (const f of CONFIG_FIELDS) {
    const raw = values.get(f.path);
    if (raw === undefined || raw === null) {
      if (f.type.kind === 'string' && f.type.optional) continue;
      if (raw === null) throw new AgentConfigError(f.path, 'must not be null', originOf.get(f.path));
      continue;
    }
    checked.set(f.path, checkField(f, raw, originOf.get(f.path) ?? 'default'));
  }
  const get = <T>(path: string): T => checked.get(path) as T;
  const origin = (path: string): string | undefined => originOf.get(path);

  const listen = get<string[]>('dns.listen').map((text) => {
    const hp = parseHostPort(text);
    if (typeof hp === 'string') throw new AgentConfigError('dns.listen', hp, origin('dns.listen'));
    return hp;
  });
  if (listen.length === 0) throw new AgentConfigError('dns.listen', 'needs at least one address', origin('dns.listen'));
  let upstreams = get<string[]>('dns.upstreams');
  if (upstreams.length === 0) {
    const text = (opts.resolvConf ?? (() => readFileSync('/etc/resolv.conf', 'utf8')))();
    upstreams = resolvConfNameservers(text);
    if (upstreams.length === 0) throw new AgentConfigError('dns.upstreams', 'empty, and /etc/resolv.conf names no nameserver to default to', 'default');
  }
  for (const u of upstreams) {
    const hp = parseHostPort(u, 53);
    if (typeof hp === 'string') throw new AgentConfigError('dns.upstreams', hp, origin('dns.upstreams'));
  }
  const clusterDnsIPs = get<string[]>('dns.clusterDnsIPs').map((ip) => {
    const c = canonicalIp(ip);
    if (c === undefined) throw new AgentConfigError('dns.clusterDnsIPs', `"${ip}" is not an IP address`, origin('dns.clusterDnsIPs'));
    return c;
  });
  for (const ip of clusterDnsIPs) {
    const family = ip.includes(':') ? 6 : 4;
    if (!listen.some((l) => l.family === family && isConcreteAddress(l.host) && l.port !== 0)) {
      throw new AgentConfigError(
        'dns.listen',
        `redirecting ${ip} needs an IPv${family} listen address of this node that is not loopback or unspecified and has a fixed port (the DNAT target; replies must come from it)`,
        origin('dns.listen') ?? origin('dns.clusterDnsIPs'),
      );
    }
  }
  if (get<number>('dns.maxTTL') < get<number>('dns.minTTL')) {
    throw new AgentConfigError('dns.maxTTL', `must be >= dns.minTTL (${get<number>('dns.minTTL')})`, origin('dns.maxTTL') ?? origin('dns.minTTL'));
  }
  const soft = get<number>('dns.tcpWriteBufferSoftBytes');
  if (get<number>('dns.tcpWriteBufferHardBytes') < soft + 65_537) {
    // Room for one more message of the largest size above the soft limit, where reading stops.
    throw new AgentConfigError('dns.tcpWriteBufferHardBytes', `must be >= dns.tcpWriteBufferSoftBytes + 65537 (${soft + 65_537})`, origin('dns.tcpWriteBufferHardBytes') ?? origin('dns.tcpWriteBufferSoftBytes'));
  }
  const http = parseHostPort(get<string>('http.listen'));
  if (typeof http === 'string') throw new AgentConfigError('http.listen', http, origin('http.listen'));
  const nodeName = checked.get('nodeName') as string | undefined;
  const kubeconfig = checked.get('kubeconfig') as string | undefined;

  return {
    nodeName,
    kubeconfig,
    manifests: get<string[]>('manifests'),
    mode: get('mode'),
    datapath: get('datapath'),
    dns: {
      listen,
      upstreams,
      clusterDnsIPs: [...new Set(clusterDnsIPs)],
      minTTL: get('dns.minTTL'),
      maxTTL: get('dns.maxTTL'),
      maxIPsPerName: get('dns.maxIPsPerName'),
      maxLearnedPerPod: get('dns.maxLearnedPerPod'),
      queryFilter: get('dns.queryFilter'),
      allowedSuffixes: get<string[]>('dns.allowedSuffixes').map((s) => s.toLowerCase().replace(/\.$/, '')),
      programTimeoutMs: get('dns.programTimeoutMs'),
      upstreamTimeoutMs: get('dns.upstreamTimeoutMs'),
      tcpFrameTimeoutMs: get('dns.tcpFrameTimeoutMs'),
      tcpMaxConnectionLifetimeMs: get('dns.tcpMaxConnectionLifetimeMs'),
      tcpWriteBufferSoftBytes: get('dns.tcpWriteBufferSoftBytes'),
      tcpWriteBufferHardBytes: get('dns.tcpWriteBufferHardBytes'),
    },
    paths: { bpffs: get('paths.bpffs'), state: get('paths.state') },
    http: { listen: http },
    log: { level: get('log.level'), allowSample: get('log.allowSample') },
    reconcile: { debounceMs: get('reconcile.debounceMs') },
    kubernetes: {
      // The downward API gives the agent's own namespace, where its RBAC allows Lease writes.
      leaseNamespace: (checked.get('kubernetes.leaseNamespace') as string | undefined) ?? nonEmpty((opts.env ?? process.env).POD_NAMESPACE) ?? DEFAULT_LEASE_NAMESPACE,
      leaseName: get('kubernetes.leaseName'),
    },
  };
}
