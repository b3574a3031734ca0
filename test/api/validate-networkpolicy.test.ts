import { describe, expect, it } from 'vitest';
import { admitObject, validateObject } from '../../src/api/validate.js';
import { anp, egress, ingress, np } from './fixtures.js';

const found = (obj: unknown) => validateObject(obj).map((e) => ({ field: e.field, reason: e.reason }));
const ipb = (cidr: string, except?: string[]) => ({ ipBlock: except ? { cidr, except } : { cidr } });

describe.each([
  ['NetworkPolicy', np],
  ['ApplicationNetworkPolicy', anp],
] as const)('%s: NetworkPolicy API-server validation', (_kind, make) => {
  it.each([
    ['port 0', ingress({ ports: [{ port: 0 }] }), 'spec.ingress[0].ports[0].port', 'Invalid value: 0: must be between 1 and 65535, inclusive'],
    ['port 65536', egress({ ports: [{ port: 65536 }] }), 'spec.egress[0].ports[0].port', 'Invalid value: 65536: must be between 1 and 65535, inclusive'],
    ['protocol ICMP', ingress({ ports: [{ protocol: 'ICMP' }] }), 'spec.ingress[0].ports[0].protocol', 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'],
    ['endPort < port', ingress({ ports: [{ port: 80, endPort: 79 }] }), 'spec.ingress[0].ports[0].endPort', 'Invalid value: 80: must be greater than or equal to `port`'],
    ['endPort out of range', ingress({ ports: [{ port: 80, endPort: 70000 }] }), 'spec.ingress[0].ports[0].endPort', 'Invalid value: 70000: must be between 1 and 65535, inclusive'],
    ['endPort with named port', ingress({ ports: [{ port: 'web', endPort: 90 }] }), 'spec.ingress[0].ports[0].endPort', 'Invalid value: 90: may not be specified when `port` is non-numeric'],
    ['endPort without port', ingress({ ports: [{ endPort: 90 }] }), 'spec.ingress[0].ports[0].endPort', 'Invalid value: 90: may not be specified when `port` is not specified'],
    ['named port uppercase', ingress({ ports: [{ port: 'Web' }] }), 'spec.ingress[0].ports[0].port', 'Invalid value: "Web": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'],
    ['named port too long', ingress({ ports: [{ port: 'a'.repeat(16) }] }), 'spec.ingress[0].ports[0].port', `Invalid value: "${'a'.repeat(16)}": must be no more than 15 characters`],
    ['named port digits only', ingress({ ports: [{ port: '8080x'.slice(0, 4) }] }), 'spec.ingress[0].ports[0].port', 'Invalid value: "8080": must contain at least one letter (a-z)'],
    ['named port double hyphen', ingress({ ports: [{ port: 'a--b' }] }), 'spec.ingress[0].ports[0].port', 'Invalid value: "a--b": must not contain consecutive hyphens'],
    ['named port leading hyphen', ingress({ ports: [{ port: '-ab' }] }), 'spec.ingress[0].ports[0].port', 'Invalid value: "-ab": must not begin or end with a hyphen'],
    ['port of wrong type', ingress({ ports: [{ port: true }] }), 'spec.ingress[0].ports[0].port', 'Invalid value: "boolean": must be of type integer or string'],
    ['empty peer', ingress({ from: [{}] }), 'spec.ingress[0].from[0]', 'Required value: must specify a peer'],
    ['ipBlock with selector', egress({ to: [{ ...ipb('10.0.0.0/8'), namespaceSelector: {} }] }), 'spec.egress[0].to[0]', 'Forbidden: may not specify both ipBlock and another peer'],
    ['bad cidr', ingress({ from: [ipb('10.0.0.0/40')] }), 'spec.ingress[0].from[0].ipBlock.cidr', 'Invalid value: "10.0.0.0/40": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'],
    ['empty cidr', ingress({ from: [ipb('')] }), 'spec.ingress[0].from[0].ipBlock.cidr', 'Required value'],
    ['except outside cidr', ingress({ from: [ipb('10.0.0.0/8', ['11.0.0.0/16'])] }), 'spec.ingress[0].from[0].ipBlock.except[0]', 'Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`'],
    ['except equal to cidr', ingress({ from: [ipb('10.0.0.0/8', ['10.0.0.0/8'])] }), 'spec.ingress[0].from[0].ipBlock.except[0]', 'Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`'],
    ['except of other family', egress({ to: [ipb('10.0.0.0/8', ['fd00::/64'])] }), 'spec.egress[0].to[0].ipBlock.except[0]', 'Invalid value: "fd00::/64": must be a strict subset of `cidr`'],
    ['except not a cidr', egress({ to: [ipb('10.0.0.0/8', ['10.1.0.0'])] }), 'spec.egress[0].to[0].ipBlock.except[0]', 'Invalid value: "10.1.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'],
    ['policyTypes value', { policyTypes: ['Ingres'] }, 'spec.policyTypes[0]', 'Unsupported value: "Ingres": supported values: "Egress", "Ingress"'],
    ['three policyTypes', { policyTypes: ['Ingress', 'Egress', 'Ingress'] }, 'spec.policyTypes', 'Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes'],
    ['podSelector operator', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['b'] }] } }, 'spec.podSelector.matchExpressions[0].operator', 'Invalid value: "Equals": not a valid selector operator'],
    ['Exists with values', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['b'] }] } }, 'spec.podSelector.matchExpressions[0].values', "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"],
    ['NotIn without values', ingress({ from: [{ podSelector: { matchExpressions: [{ key: 'a', operator: 'NotIn' }] } }] }), 'spec.ingress[0].from[0].podSelector.matchExpressions[0].values', "Required value: must be specified when `operator` is 'In' or 'NotIn'"],
    ['label key with two slashes', { podSelector: { matchLabels: { 'a/b/c': 'x' } } }, 'spec.podSelector.matchLabels', expect.stringMatching(/^Invalid value: "a\/b\/c": a qualified name must consist of/)],
    ['label key name too long', { podSelector: { matchLabels: { ['k'.repeat(64)]: 'x' } } }, 'spec.podSelector.matchLabels', `Invalid value: "${'k'.repeat(64)}": name part must be no more than 63 characters`],
    ['label key bad prefix', { podSelector: { matchLabels: { 'Example.com/a': 'x' } } }, 'spec.podSelector.matchLabels', expect.stringMatching(/^Invalid value: "Example.com\/a": prefix part a lowercase RFC 1123 subdomain/)],
    ['label value with space', ingress({ from: [{ namespaceSelector: { matchLabels: { a: 'b c' } } }] }), 'spec.ingress[0].from[0].namespaceSelector.matchLabels', expect.stringMatching(/^Invalid value: "b c": a valid label must be an empty string or/)],
    ['expression value too long', { podSelector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['v'.repeat(64)] }] } }, 'spec.podSelector.matchExpressions[0].values[0]', `Invalid value: "${'v'.repeat(64)}": must be no more than 63 characters`],
    ['unknown peer field', ingress({ from: [{ serviceAccount: 'x' }] }), 'spec.ingress[0].from[0].serviceAccount', 'Unknown field: field not declared in schema'],
    ['namespace not a DNS label', { __meta: { name: 'np', namespace: 'Bad_NS' } }, 'metadata.namespace', expect.stringMatching(/^Invalid value: "Bad_NS": a lowercase RFC 1123 label/)],
    ['name not a DNS subdomain', { __meta: { name: 'Not/A/Name', namespace: 'ns' } }, 'metadata.name', expect.stringMatching(/^Invalid value: "Not\/A\/Name": a lowercase RFC 1123 subdomain/)],
  ])('rejects %s', (_name, spec, field, reason) => {
    const { __meta, ...rest } = spec as Record<string, unknown>;
    const obj = make(rest);
    if (__meta) obj.metadata = __meta;
    expect(found(obj)).toContainEqual({ field, reason });
  });

  it.each([
    ['minimal', {}],
    ['full', {
      policyTypes: ['Ingress', 'Egress'],
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'web', tier: '' }, matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] },
      ingress: [{ from: [{ podSelector: {} , namespaceSelector: { matchLabels: { a: 'b' } } }, ipb('fd00::/8', ['fd00:1::/32'])], ports: [{ port: 'http-alt' }, { port: 80, endPort: 80, protocol: 'SCTP' }] }],
      egress: [{ to: [ipb('10.0.0.1/8', ['10.1.0.0/16'])], ports: [{ protocol: 'UDP' }] }, {}],
    }],
  ])('accepts %s', (_name, spec) => {
    expect(validateObject(make(spec))).toEqual([]);
  });
});

describe('NetworkPolicy defaulting like the API server', () => {
  it.each([
    ['no rules', {}, ['Ingress']],
    ['egress rules', egress({ ports: [{ port: 53 }] }), ['Ingress', 'Egress']],
    ['explicit', { policyTypes: ['Egress'] }, ['Egress']],
  ])('policyTypes for %s', (_name, spec, want) => {
    const { object } = admitObject(np(spec));
    expect(object?.kind === 'NetworkPolicy' && object.spec.policyTypes).toEqual(want);
  });

  it('defaults port protocol to TCP and a null podSelector to {}', () => {
    const obj = np(ingress({ ports: [{ port: 80 }] }));
    (obj.spec as Record<string, unknown>).podSelector = null;
    const { object, errors } = admitObject(obj);
    expect(errors).toEqual([]);
    expect(object).toMatchObject({ spec: { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 80 }] }] } });
  });

  it('rejects domainNames in a NetworkPolicy', () => {
    expect(found(np(egress({ to: [{ domainNames: ['a.example.com'] }] })))).toContainEqual({ field: 'spec.egress[0].to[0].domainNames', reason: 'Unknown field: field not declared in schema' });
  });
});

describe('ApplicationNetworkPolicy domainNames', () => {
  const peer = (p: Record<string, unknown>) => anp(egress({ to: [p] }));
  it.each([
    ['with ipBlock', { domainNames: ['a.example.com'], ipBlock: { cidr: '10.0.0.0/8' } }, 'Invalid value: "object": ipBlock and domainNames are mutually exclusive'],
    ['with podSelector', { domainNames: ['a.example.com'], podSelector: {} }, 'Invalid value: "object": podSelector and domainNames are mutually exclusive'],
    ['with namespaceSelector', { domainNames: ['a.example.com'], namespaceSelector: {} }, 'Invalid value: "object": namespaceSelector and domainNames are mutually exclusive'],
  ])('rejects domainNames %s', (_name, p, reason) => {
    expect(found(peer(p))).toContainEqual({ field: 'spec.egress[0].to[0]', reason });
  });

  it.each([
    ['in ingress', anp(ingress({ from: [{ domainNames: ['a.example.com'] }] })), 'spec.ingress[0].from[0].domainNames', 'Unknown field: field not declared in schema'],
    ['more than 25', peer({ domainNames: Array.from({ length: 26 }, (_, i) => `h${i}.example.com`) }), 'spec.egress[0].to[0].domainNames', 'Too many: 26: must have at most 25 items'],
    ['empty', peer({ domainNames: [] }), 'spec.egress[0].to[0].domainNames', 'Invalid value: 0: must have at least 1 items'],
    ['bare wildcard', peer({ domainNames: ['*'] }), 'spec.egress[0].to[0].domainNames[0]', expect.stringMatching(/^Invalid value: "\*": should match/)],
    ['no podSelector', { ...anp(), spec: {} }, 'spec.podSelector', 'Required value'],
  ])('rejects %s', (_name, obj, field, reason) => {
    expect(found(obj)).toContainEqual({ field, reason });
  });

  const NAMED_WITH_DOMAINS = 'Invalid value: "object": a named port cannot be used with domainNames peers, which have no named ports';
  it.each([
    ['alone', [{ domainNames: ['a.example.com'] }], [{ port: 'web' }]],
    ['among other peers', [{ podSelector: {} }, { domainNames: ['a.example.com'] }], [{ port: 443 }, { port: 'web', protocol: 'UDP' }]],
  ])('rejects a named port in a rule with a domainNames peer (%s)', (_name, to, ports) => {
    expect(found(anp(egress({ to, ports })))).toContainEqual({ field: 'spec.egress[0]', reason: NAMED_WITH_DOMAINS });
  });

  it.each([
    ['a named port with selector peers only', { to: [{ podSelector: {} }], ports: [{ port: 'web' }] }],
    ['numeric ports with domainNames', { to: [{ domainNames: ['a.example.com'] }], ports: [{ port: 443 }, { protocol: 'UDP' }] }],
    ['a named port without peers', { ports: [{ port: 'web' }] }],
  ])('accepts %s', (_name, rule) => {
    expect(validateObject(anp(egress(rule)))).toEqual([]);
  });

  it('accepts a domainNames peer with ports', () => {
    expect(validateObject(anp(egress({ to: [{ domainNames: ['s3.us-east-1.amazonaws.com', '*.s3.amazonaws.com'] }], ports: [{ port: 443 }] })))).toEqual([]);
  });
});
