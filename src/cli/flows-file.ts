// Parsing of the `--flows FILE` input of `dnsgate explain`: a YAML or JSON list of
// `{from, to, protocol, port, fqdn?}`. Every problem in the file is reported at once, each naming
// the flow's index and field, because a half-read flow list must never produce partial output.
import { isIP } from 'node:net';
import { parseAllDocuments } from 'yaml';
import type { Flow } from '../policy/index.js';
import { normalizeName, parseDomainPattern } from '../fqdn/pattern.js';
import { InputError } from './errors.js';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP'] as const;
type FlowProtocol = (typeof PROTOCOLS)[number];
const FIELDS = new Set(['from', 'to', 'protocol', 'port', 'fqdn']);
// "namespace/pod": both parts DNS-1123 names as the API server enforces for namespaces and pods.
const POD_REF = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

export function parseFlows(text: string, source: string): Flow[] {
  const docs = parseAllDocuments(text);
  const problems: string[] = [];
  if (!Array.isArray(docs) || docs.length !== 1 || docs[0] === undefined) {
    throw new InputError(`${source}: expected one YAML or JSON document holding a list of flows`);
  }
  const doc = docs[0];
  for (const err of doc.errors) problems.push(`${source}: ${err.message}`);
  if (problems.length > 0) throw new InputError(`${source}: not valid YAML/JSON`, problems);
  const value: unknown = doc.toJS();
  if (!Array.isArray(value)) {
    throw new InputError(`${source}: expected a list of flows, got ${describe(value)}`);
  }
  const flows: Flow[] = [];
  value.forEach((item: unknown, index) => {
    const flow = parseFlow(item, `${source}[${index}]`, problems);
    if (flow) flows.push(flow);
  });
  if (problems.length > 0) {
    throw new InputError(`${source}: ${problems.length} malformed flow field(s)`, problems);
  }
  return flows;
}

function parseFlow(item: unknown, at: string, problems: string[]): Flow | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    problems.push(`${at}: expected an object {from, to, protocol, port, fqdn?}, got ${describe(item)}`);
    return undefined;
  }
  const rec = item as Record<string, unknown>;
  const before = problems.length;
  for (const key of Object.keys(rec)) {
    if (!FIELDS.has(key)) problems.push(`${at}.${key}: unknown field (allowed: ${[...FIELDS].join(', ')})`);
  }
  const from = endpoint(rec.from, `${at}.from`, problems);
  const to = endpoint(rec.to, `${at}.to`, problems);
  const protocol = protocolOf(rec.protocol, `${at}.protocol`, problems);
  const port = portOf(rec.port, protocol, `${at}.port`, problems);
  let fqdn: string | undefined;
  if (rec.fqdn !== undefined) {
    fqdn = fqdnOf(rec.fqdn, `${at}.fqdn`, problems);
    if (to !== undefined && isIP(to) === 0) {
      problems.push(`${at}.fqdn: needs "to" to be an IP literal (the address the name resolved to), got "${to}"`);
    }
    if (from !== undefined && isIP(from) !== 0) {
      problems.push(`${at}.fqdn: needs "from" to be a pod (namespace/pod): only pods learn names through dnsgate`);
    }
  }
  if (problems.length > before || from === undefined || to === undefined || protocol === undefined) {
    return undefined;
  }
  const flow: Flow = { from, to, protocol };
  if (port !== undefined) flow.port = port;
  if (fqdn !== undefined) flow.fqdn = fqdn;
  return flow;
}

function endpoint(v: unknown, at: string, problems: string[]): string | undefined {
  if (typeof v !== 'string' || v === '') {
    problems.push(`${at}: required: "namespace/pod" or an IP literal, got ${describe(v)}`);
    return undefined;
  }
  if (isIP(v) !== 0 || POD_REF.test(v)) return v;
  problems.push(`${at}: "${v}" is neither "namespace/pod" nor an IP literal`);
  return undefined;
}

function protocolOf(v: unknown, at: string, problems: string[]): FlowProtocol | undefined {
  const up = typeof v === 'string' ? v.toUpperCase() : undefined;
  const found = PROTOCOLS.find((p) => p === up);
  if (found) return found;
  problems.push(`${at}: required, one of ${PROTOCOLS.join(', ')}, got ${describe(v)}`);
  return undefined;
}

function portOf(v: unknown, protocol: FlowProtocol | undefined, at: string, problems: string[]): number | undefined {
  if (protocol === 'ICMP') {
    if (v !== undefined) problems.push(`${at}: ICMP flows have no port`);
    return undefined;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
  problems.push(`${at}: required for ${protocol ?? 'TCP/UDP/SCTP'}, an integer 1..65535, got ${describe(v)}`);
  return undefined;
}

function fqdnOf(v: unknown, at: string, problems: string[]): string | undefined {
  if (typeof v !== 'string') {
    problems.push(`${at}: expected a domain name, got ${describe(v)}`);
    return undefined;
  }
  // A resolved name is a plain name: validate it with the pattern grammar minus the wildcard.
  const parsed = parseDomainPattern(v);
  if (!parsed.ok || parsed.wildcard) {
    problems.push(`${at}: "${v}" is not a valid domain name${parsed.ok ? ' (wildcards are for policies, not lookups)' : `: ${parsed.reason}`}`);
    return undefined;
  }
  return normalizeName(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
