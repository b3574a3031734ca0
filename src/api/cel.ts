// The CEL rules (x-kubernetes-validations) of the CRDs in manifests/, re-stated in TypeScript. Each
// function is keyed by the exact rule text, so a CRD rule without an implementation is detected
// (a test checks every rule of every CRD) instead of being silently skipped.

import type { CrdSchema } from './crds.js';
import { child, index, issue, type FieldIssue } from './errors.js';
import { parseCIDR } from './ip.js';

type Obj = Record<string, unknown>;
type Rule = (self: unknown) => boolean;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
/** CEL has(): the field is present (after pruning nulls). */
const has = (o: unknown, f: string): boolean => isObj(o) && o[f] !== undefined;
const list = (o: unknown, f: string): unknown[] => (isObj(o) && Array.isArray(o[f]) ? (o[f] as unknown[]) : []);

const namedPortWithIPPeers =
  (portsField: string, namedField: string): Rule =>
  (self) =>
    !(
      list(self, 'to').some((peer) => has(peer, 'networks') || has(peer, 'nodes') || has(peer, 'domainNames')) &&
      has(self, portsField) &&
      list(self, portsField).some((p) => has(p, namedField))
    );

const exclusiveWithDomainNames =
  (field: string): Rule =>
  (self) =>
    !(has(self, field) && has(self, 'domainNames'));

export const CEL_RULES: Readonly<Record<string, Rule>> = {
  'self.start < self.end': (self) => isObj(self) && Number(self.start) < Number(self.end),

  'isCIDR(self)': (self) => typeof self === 'string' && parseCIDR(self) !== undefined,

  // maxLength 254 admits the trailing dot; without it a name is at most 253 (like parseDomainPattern).
  "size(self) <= 253 || (size(self) == 254 && self.endsWith('.'))": (self) =>
    typeof self === 'string' && ([...self].length <= 253 || ([...self].length === 254 && self.endsWith('.'))),

  "self.split('.').all(label, size(label) <= 63)": (self) =>
    typeof self === 'string' && self.split('.').every((label) => [...label].length <= 63),

  '!(self.to.exists(peer, has(peer.networks) || has(peer.nodes) || has(peer.domainNames)) && has(self.protocols) && self.protocols.exists(protocol, has(protocol.destinationNamedPort)))':
    namedPortWithIPPeers('protocols', 'destinationNamedPort'),

  '!(self.to.exists(peer, has(peer.networks) || has(peer.nodes) || has(peer.domainNames)) && has(self.ports) && self.ports.exists(port, has(port.namedPort)))':
    namedPortWithIPPeers('ports', 'namedPort'),

  "self.action == 'Accept' || !self.to.exists(peer, has(peer.domainNames))": (self) =>
    isObj(self) && (self.action === 'Accept' || !list(self, 'to').some((peer) => has(peer, 'domainNames'))),

  // ApplicationNetworkPolicy egress rule: `port` is int-or-string, a string is a container port name.
  '!(has(self.to) && self.to.exists(peer, has(peer.domainNames)) && has(self.ports) && self.ports.exists(port, has(port.port) && type(port.port) == string))': (self) =>
    !(
      list(self, 'to').some((peer) => has(peer, 'domainNames')) &&
      has(self, 'ports') &&
      list(self, 'ports').some((p) => isObj(p) && typeof p.port === 'string')
    ),

  '!(has(self.ipBlock) && has(self.domainNames))': exclusiveWithDomainNames('ipBlock'),
  '!(has(self.podSelector) && has(self.domainNames))': exclusiveWithDomainNames('podSelector'),
  '!(has(self.namespaceSelector) && has(self.domainNames))': exclusiveWithDomainNames('namespaceSelector'),
};

export class MissingCelRuleError extends Error {
  constructor(
    readonly rule: string,
    readonly field: string,
  ) {
    super(`CRD rule has no TypeScript implementation: ${rule} (at ${field})`);
    this.name = 'MissingCelRuleError';
  }
}

/** How the API server names a value's type in a CEL failure ("object", "string", ...). */
function celTypeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Runs every x-kubernetes-validations rule of `schema` that applies to `value`. */
export function validateCel(value: unknown, schema: CrdSchema, path = ''): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (value === undefined) return out;
  for (const v of schema['x-kubernetes-validations'] ?? []) {
    const fn = CEL_RULES[v.rule];
    if (!fn) throw new MissingCelRuleError(v.rule, path);
    if (!fn(value)) out.push(issue(path, 'Invalid value', v.message ?? `failed rule: ${v.rule}`, celTypeName(value)));
  }
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => out.push(...validateCel(item, schema.items as CrdSchema, index(path, i))));
  } else if (isObj(value)) {
    for (const [key, sub] of Object.entries(value)) {
      const s = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (s) out.push(...validateCel(sub, s, child(path, key)));
    }
  }
  return out;
}

/** Every rule text used anywhere in `schema`, with where it sits (for coverage checks). */
export function collectCelRules(schema: CrdSchema, path = ''): { rule: string; path: string }[] {
  const out = (schema['x-kubernetes-validations'] ?? []).map((v) => ({ rule: v.rule, path }));
  for (const [k, s] of Object.entries(schema.properties ?? {})) out.push(...collectCelRules(s, child(path, k)));
  if (typeof schema.additionalProperties === 'object') out.push(...collectCelRules(schema.additionalProperties, `${path}[*]`));
  if (schema.items) out.push(...collectCelRules(schema.items, `${path}[*]`));
  return out;
}
