import { describe, expect, it } from 'vitest';
import { validateObject, admitObject } from '../../src/api/validate.js';
import { ValidationError } from '../../src/api/errors.js';
import { egress, eksCnp, ingress, times, upstreamCnp } from './fixtures.js';

const found = (obj: unknown) => validateObject(obj).map((e) => ({ field: e.field, reason: e.reason }));

const tcp = (n: number) => ({ tcp: { destinationPort: { number: n } } });
const nsPeer = { namespaces: {} };

describe.each([
  ['upstream', upstreamCnp, 25],
  ['EKS', eksCnp, 100],
] as const)('%s ClusterNetworkPolicy, shared limits', (_shape, cnp, maxRules) => {
  it.each([
    ['priority too high', { priority: 1001 }, 'spec.priority', 'Invalid value: 1001: must be less than or equal to 1000'],
    ['priority negative', { priority: -1 }, 'spec.priority', 'Invalid value: -1: must be greater than or equal to 0'],
    ['priority not an integer', { priority: 'high' }, 'spec.priority', 'Invalid value: "string": must be of type integer'],
    ['tier not in enum', { tier: 'Developer' }, 'spec.tier', 'Unsupported value: "Developer": supported values: "Admin", "Baseline"'],
    ['subject with two fields', { subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } } }, 'spec.subject', 'Too many: 2: must have at most 1 items'],
    ['empty subject', { subject: {} }, 'spec.subject', 'Invalid value: 0: must have at least 1 properties'],
    ['unknown spec field', { colour: 'red' }, 'spec.colour', 'Unknown field: field not declared in schema'],
    ['action not in enum', egress({ action: 'Allow', to: [nsPeer] }), 'spec.egress[0].action', 'Unsupported value: "Allow": supported values: "Accept", "Deny", "Pass"'],
    ['rule without peers', egress({ action: 'Deny', to: [] }), 'spec.egress[0].to', 'Invalid value: 0: must have at least 1 items'],
    ['rule without to', egress({ action: 'Deny' }), 'spec.egress[0].to', 'Required value'],
    ['rule without action', ingress({ from: [nsPeer] }), 'spec.ingress[0].action', 'Required value'],
    ['rule name too long', egress({ name: 'x'.repeat(101), action: 'Deny', to: [nsPeer] }), 'spec.egress[0].name', 'Too long: may not be more than 100 bytes'],
    ['peer with two fields', egress({ action: 'Deny', to: [{ namespaces: {}, networks: ['10.0.0.0/8'] }] }), 'spec.egress[0].to[0]', 'Too many: 2: must have at most 1 items'],
    ['empty peer', ingress({ action: 'Deny', from: [{}] }), 'spec.ingress[0].from[0]', 'Invalid value: 0: must have at least 1 properties'],
    ['too many egress rules', { egress: times(maxRules + 1, () => ({ action: 'Deny', to: [nsPeer] })) }, 'spec.egress', `Too many: ${maxRules + 1}: must have at most ${maxRules} items`],
    ['too many ingress peers', ingress({ action: 'Deny', from: times(maxRules + 1, () => nsPeer) }), 'spec.ingress[0].from', `Too many: ${maxRules + 1}: must have at most ${maxRules} items`],
    ['networks empty', egress({ action: 'Deny', to: [{ networks: [] }] }), 'spec.egress[0].to[0].networks', 'Invalid value: 0: must have at least 1 items'],
    ['networks > 25', egress({ action: 'Deny', to: [{ networks: times(26, (i) => `10.0.${i}.0/24`) }] }), 'spec.egress[0].to[0].networks', 'Too many: 26: must have at most 25 items'],
    ['network not a CIDR', egress({ action: 'Deny', to: [{ networks: ['10.0.0.1'] }] }), 'spec.egress[0].to[0].networks[0]', 'Invalid value: "string": Invalid CIDR format provided'],
    ['network too long', egress({ action: 'Deny', to: [{ networks: ['1'.repeat(44)] }] }), 'spec.egress[0].to[0].networks[0]', 'Too long: may not be more than 43 bytes'],
    ['duplicate network', egress({ action: 'Deny', to: [{ networks: ['10.0.0.0/8', '10.0.0.0/8'] }] }), 'spec.egress[0].to[0].networks[1]', 'Duplicate value: "10.0.0.0/8"'],
    ['domainNames empty', egress({ action: 'Accept', to: [{ domainNames: [] }] }), 'spec.egress[0].to[0].domainNames', 'Invalid value: 0: must have at least 1 items'],
    ['domainNames > 25', egress({ action: 'Accept', to: [{ domainNames: times(26, (i) => `h${i}.example.com`) }] }), 'spec.egress[0].to[0].domainNames', 'Too many: 26: must have at most 25 items'],
    ['domainNames with Deny', egress({ action: 'Deny', to: [{ domainNames: ['a.example.com'] }] }), 'spec.egress[0]', 'Invalid value: "object": domainNames peers are only allowed in rules with action Accept'],
    ['domainNames with Pass', egress({ action: 'Pass', to: [nsPeer, { domainNames: ['a.example.com'] }] }), 'spec.egress[0]', 'Invalid value: "object": domainNames peers are only allowed in rules with action Accept'],
    ['domainNames in ingress', ingress({ action: 'Accept', from: [{ domainNames: ['a.example.com'] }] }), 'spec.ingress[0].from[0].domainNames', 'Unknown field: field not declared in schema'],
    ['single-label wildcard', egress({ action: 'Accept', to: [{ domainNames: ['*.com'] }] }), 'spec.egress[0].to[0].domainNames[0]', expect.stringMatching(/^Invalid value: "\*\.com": should match /)],
    ['A-z typo character', egress({ action: 'Accept', to: [{ domainNames: ['[x].example.com'] }] }), 'spec.egress[0].to[0].domainNames[0]', expect.stringMatching(/should match/)],
    ['label over 63', egress({ action: 'Accept', to: [{ domainNames: [`${'a'.repeat(64)}.example.com`] }] }), 'spec.egress[0].to[0].domainNames[0]', 'Invalid value: "string": each label of a domain name must be at most 63 characters'],
    ['name over 254', egress({ action: 'Accept', to: [{ domainNames: [times(64, () => 'abc').join('.')] }] }), 'spec.egress[0].to[0].domainNames[0]', 'Too long: may not be more than 254 bytes'],
    ['bad selector operator', { subject: { namespaces: { matchExpressions: [{ key: 'a', operator: 'Is' }] } } }, 'spec.subject.namespaces.matchExpressions[0].operator', 'Invalid value: "Is": not a valid selector operator'],
    ['In without values', egress({ action: 'Deny', to: [{ nodes: { matchExpressions: [{ key: 'a', operator: 'In' }] } }] }), 'spec.egress[0].to[0].nodes.matchExpressions[0].values', "Required value: must be specified when `operator` is 'In' or 'NotIn'"],
  ])('rejects %s', (_name, spec, field, reason) => {
    expect(found(cnp(spec))).toContainEqual({ field, reason });
  });

  it.each([
    ['minimal', {}],
    ['priority bounds', { priority: 0 }],
    ['priority 1000 Baseline', { priority: 1000, tier: 'Baseline' }],
    ['domain names accepted', egress({ action: 'Accept', to: [{ domainNames: ['api.example.com', '*.example.com', 'Example.COM.', 'a_b.example.com'] }] })],
    ['networks v4 and v6', egress({ action: 'Deny', to: [{ networks: ['0.0.0.0/0', '::/0', '10.1.2.3/8'] }] })],
    [`${maxRules} rules`, { ingress: times(maxRules, () => ({ action: 'Pass', from: [nsPeer] })) }],
    ['nodes peer', egress({ action: 'Accept', to: [{ nodes: { matchLabels: { 'kubernetes.io/os': 'linux' } } }] })],
  ])('accepts %s', (_name, spec) => {
    expect(validateObject(cnp(spec))).toEqual([]);
  });
});

describe('upstream v1alpha2 ClusterNetworkPolicy', () => {
  it.each([
    ['range start = end', egress({ action: 'Deny', to: [nsPeer], protocols: [{ udp: { destinationPort: { range: { start: 80, end: 80 } } } }] }), 'spec.egress[0].protocols[0].udp.destinationPort.range', 'Invalid value: "object": Start port must be less than End port'],
    ['port 0', egress({ action: 'Deny', to: [nsPeer], protocols: [tcp(0)] }), 'spec.egress[0].protocols[0].tcp.destinationPort.number', 'Invalid value: 0: must be greater than or equal to 1'],
    ['port 65536', ingress({ action: 'Deny', from: [nsPeer], protocols: [tcp(65536)] }), 'spec.ingress[0].protocols[0].tcp.destinationPort.number', 'Invalid value: 65536: must be less than or equal to 65535'],
    ['number and range', egress({ action: 'Deny', to: [nsPeer], protocols: [{ sctp: { destinationPort: { number: 1, range: { start: 1, end: 2 } } } }] }), 'spec.egress[0].protocols[0].sctp.destinationPort', 'Too many: 2: must have at most 1 items'],
    ['protocol with two fields', egress({ action: 'Deny', to: [nsPeer], protocols: [{ ...tcp(1), destinationNamedPort: 'web' }] }), 'spec.egress[0].protocols[0]', 'Too many: 2: must have at most 1 items'],
    ['empty tcp', egress({ action: 'Deny', to: [nsPeer], protocols: [{ tcp: {} }] }), 'spec.egress[0].protocols[0].tcp', 'Invalid value: 0: must have at least 1 properties'],
    ['empty protocols', egress({ action: 'Deny', to: [nsPeer], protocols: [] }), 'spec.egress[0].protocols', 'Invalid value: 0: must have at least 1 items'],
    ['too many protocols', egress({ action: 'Deny', to: [nsPeer], protocols: times(26, (i) => tcp(i + 1)) }), 'spec.egress[0].protocols', 'Too many: 26: must have at most 25 items'],
    ['named port with networks', egress({ action: 'Deny', to: [{ networks: ['10.0.0.0/8'] }], protocols: [{ destinationNamedPort: 'web' }] }), 'spec.egress[0]', 'Invalid value: "object": networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames'],
    ['named port with nodes', egress({ action: 'Deny', to: [{ nodes: {} }], protocols: [{ destinationNamedPort: 'web' }] }), 'spec.egress[0]', expect.stringContaining('cannot be set with namedPorts')],
    ['named port with domainNames', egress({ action: 'Accept', to: [{ domainNames: ['a.example.com'] }], protocols: [{ destinationNamedPort: 'web' }] }), 'spec.egress[0]', expect.stringContaining('cannot be set with namedPorts')],
    ['pods without podSelector', { subject: { pods: { namespaceSelector: {} } } }, 'spec.subject.pods.podSelector', 'Required value'],
    ['EKS ports field', egress({ action: 'Deny', to: [nsPeer], ports: [{ portNumber: { port: 80 } }] }), 'spec.egress[0].ports', 'Unknown field: field not declared in schema'],
  ])('rejects %s', (_name, spec, field, reason) => {
    expect(found(upstreamCnp(spec))).toContainEqual({ field, reason });
  });

  it('defaults an absent pods.namespaceSelector to the empty selector', () => {
    const { object } = admitObject(upstreamCnp({ subject: { pods: { podSelector: { matchLabels: { a: 'b' } } } } }));
    expect(object?.kind === 'ClusterNetworkPolicy' && object.spec.subject.pods?.namespaceSelector).toEqual({});
  });

  it('accepts named ports towards pods and every protocol shape', () => {
    const spec = egress({
      action: 'Accept',
      to: [{ pods: { podSelector: {} } }],
      protocols: [{ destinationNamedPort: 'web' }, tcp(80), { udp: { destinationPort: { range: { start: 1, end: 2 } } } }, { sctp: { destinationPort: { number: 9 } } }],
    });
    expect(validateObject(upstreamCnp(spec))).toEqual([]);
  });

  it('formats errors like the API server and carries the object', () => {
    const [err] = validateObject(upstreamCnp({ priority: 1001 }));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err?.ref).toBe('ClusterNetworkPolicy/cnp');
    expect(err?.value).toBe(1001);
    expect(String(err)).toBe('ClusterNetworkPolicy.policy.networking.k8s.io "cnp" is invalid: spec.priority: Invalid value: 1001: must be less than or equal to 1000');
  });
});

describe('EKS networking.k8s.aws ClusterNetworkPolicy', () => {
  const port = (p: Record<string, unknown>) => egress({ action: 'Deny', to: [nsPeer], ports: [p] });
  it.each([
    ['range start > end', port({ portRange: { start: 90, end: 80 } }), 'spec.egress[0].ports[0].portRange', 'Invalid value: "object": Start port must be less than End port'],
    ['port 70000', port({ portNumber: { port: 70000 } }), 'spec.egress[0].ports[0].portNumber.port', 'Invalid value: 70000: must be less than or equal to 65535'],
    ['port missing', port({ portNumber: { protocol: 'UDP' } }), 'spec.egress[0].ports[0].portNumber.port', 'Required value'],
    ['protocol ICMP', port({ portNumber: { port: 1, protocol: 'ICMP' } }), 'spec.egress[0].ports[0].portNumber.protocol', 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"'],
    ['two port fields', port({ namedPort: 'web', portNumber: { port: 1 } }), 'spec.egress[0].ports[0]', 'Too many: 2: must have at most 1 items'],
    ['too many ports', egress({ action: 'Deny', to: [nsPeer], ports: times(101, (i) => ({ portNumber: { port: i + 1 } })) }), 'spec.egress[0].ports', 'Too many: 101: must have at most 100 items'],
    ['named port with networks', egress({ action: 'Deny', to: [{ networks: ['10.0.0.0/8'] }], ports: [{ namedPort: 'web' }] }), 'spec.egress[0]', expect.stringContaining('cannot be set with namedPort')],
    ['pods peer without namespaceSelector', ingress({ action: 'Deny', from: [{ pods: { podSelector: {} } }] }), 'spec.ingress[0].from[0].pods.namespaceSelector', 'Required value'],
    ['upstream protocols field', egress({ action: 'Deny', to: [nsPeer], protocols: [tcp(1)] }), 'spec.egress[0].protocols', 'Unknown field: field not declared in schema'],
  ])('rejects %s', (_name, spec, field, reason) => {
    expect(found(eksCnp(spec))).toContainEqual({ field, reason });
  });

  it('defaults the port protocol to TCP', () => {
    const { object, errors } = admitObject(eksCnp(egress({ action: 'Accept', to: [nsPeer], ports: [{ portNumber: { port: 53 } }, { portRange: { start: 1, end: 9 } }] })));
    expect(errors).toEqual([]);
    expect(object).toMatchObject({ spec: { egress: [{ ports: [{ portNumber: { protocol: 'TCP' } }, { portRange: { protocol: 'TCP' } }] }] } });
  });
});
