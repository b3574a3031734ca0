import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { admitObject, validateObject } from '../../src/api/validate.js';

// Generated policies mix valid and invalid values on purpose (priorities past 1000, empty lists,
// Deny rules with domainNames, named ports with networks...): the property is about what the
// validator accepts, whatever that is.
const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const selector = fc.record(
  { matchLabels: fc.dictionary(label, label, { maxKeys: 2 }), matchExpressions: fc.array(fc.record({ key: label, operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist'), values: fc.array(label, { maxLength: 2 }) }), { maxLength: 2 }) },
  { requiredKeys: [] },
);
const port = fc.integer({ min: 0, max: 70000 });
const domain = fc.oneof(fc.constantFrom('api.example.com', '*.example.com', '*.com', 'EXAMPLE.org.', 'bad..name'), fc.stringMatching(/^[a-z]{1,5}\.[a-z]{2,3}$/));
const cidr = fc.oneof(fc.constantFrom('10.0.0.0/8', '::/0', 'fd00::/64', '10.0.0.1', '300.0.0.0/8'), fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}.0.0.0/${p}`));
const egressPeer = fc.oneof(
  selector.map((s) => ({ namespaces: s })),
  fc.record({ namespaceSelector: selector, podSelector: selector }).map((p) => ({ pods: p })),
  selector.map((s) => ({ nodes: s })),
  fc.array(cidr, { minLength: 0, maxLength: 3 }).map((n) => ({ networks: n })),
  fc.array(domain, { minLength: 0, maxLength: 3 }).map((d) => ({ domainNames: d })),
);
const protocol = fc.oneof(
  fc.record({ tcp: fc.record({ destinationPort: fc.oneof(port.map((n) => ({ number: n })), fc.record({ start: port, end: port }).map((r) => ({ range: r }))) }) }),
  port.map((n) => ({ udp: { destinationPort: { number: n } } })),
  fc.constantFrom('web', 'dns', 'Bad').map((n) => ({ destinationNamedPort: n })),
);
const upstreamCnp = fc.record({
  apiVersion: fc.constant('policy.networking.k8s.io/v1alpha2'),
  kind: fc.constant('ClusterNetworkPolicy'),
  metadata: fc.record({ name: label }),
  spec: fc.record(
    {
      tier: fc.constantFrom('Admin', 'Baseline'),
      priority: fc.integer({ min: -5, max: 1005 }),
      subject: fc.oneof(selector.map((s) => ({ namespaces: s })), fc.record({ podSelector: selector }).map((p) => ({ pods: p }))),
      egress: fc.array(
        fc.record(
          { name: label, action: fc.constantFrom('Accept', 'Deny', 'Pass'), to: fc.array(egressPeer, { minLength: 1, maxLength: 3 }), protocols: fc.array(protocol, { minLength: 1, maxLength: 3 }) },
          { requiredKeys: ['action', 'to'] },
        ),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: ['tier', 'priority', 'subject'] },
  ),
});
const networkPolicy = fc.record({
  apiVersion: fc.constant('networking.k8s.io/v1'),
  kind: fc.constant('NetworkPolicy'),
  metadata: fc.record({ name: label, namespace: label }),
  spec: fc.record(
    {
      podSelector: selector,
      policyTypes: fc.subarray(['Ingress', 'Egress']),
      ingress: fc.array(
        fc.record(
          {
            from: fc.array(fc.oneof(fc.record({ podSelector: selector }, { requiredKeys: [] }), fc.record({ ipBlock: fc.record({ cidr, except: fc.array(cidr, { maxLength: 2 }) }) })), { maxLength: 2 }),
            ports: fc.array(fc.record({ protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMP'), port: fc.oneof(port, fc.constantFrom('web', 'x--y')), endPort: port }, { requiredKeys: [] }), { maxLength: 2 }),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: ['podSelector'] },
  ),
});

describe('validator round trip', () => {
  it.each([
    ['upstream ClusterNetworkPolicy', upstreamCnp],
    ['NetworkPolicy', networkPolicy],
  ] as const)('an accepted %s survives YAML and is accepted again, unchanged', (_name, arb) => {
    let accepted = 0;
    fc.assert(
      fc.property(arb, (obj) => {
        const first = admitObject(obj);
        if (!first.object) return;
        accepted++;
        const again = parse(stringify(first.object)) as unknown;
        expect(validateObject(again)).toEqual([]);
        expect(admitObject(again).object).toEqual(first.object);
      }),
      { numRuns: 300 },
    );
    // The generator must exercise the accepting path, not only rejections.
    expect(accepted).toBeGreaterThan(20);
  });
});
