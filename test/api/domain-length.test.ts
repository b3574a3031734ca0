// Domain-name length at the boundary: the CRDs (maxLength + CEL) and parseDomainPattern must agree
// that a name is at most 253 characters without its optional trailing dot (254 with it).
import { describe, expect, it } from 'vitest';
import { validateObject } from '../../src/api/validate.js';
import { parseDomainPattern } from '../../src/fqdn/pattern.js';
import { anp, egress, eksCnp, upstreamCnp } from './fixtures.js';

/** A valid name of exactly `length` characters: labels of at most 63, joined by dots. */
function nameOf(length: number, prefix = ''): string {
  let name = prefix;
  while (length - name.length > 63) name += `${'a'.repeat(Math.min(63, length - name.length - 2))}.`;
  return name + 'b'.repeat(length - name.length);
}

const shapes = [
  ['ApplicationNetworkPolicy', (d: string) => anp(egress({ to: [{ domainNames: [d] }] }))],
  ['EKS ClusterNetworkPolicy', (d: string) => eksCnp(egress({ action: 'Accept', to: [{ domainNames: [d] }] }))],
  ['upstream ClusterNetworkPolicy', (d: string) => upstreamCnp(egress({ action: 'Accept', to: [{ domainNames: [d] }] }))],
] as const;

const TOO_LONG = 'a domain name must be at most 253 characters, not counting one trailing dot';

const cases = [
  { what: '253 characters, no dot', name: nameOf(253), ok: true },
  { what: '253 characters + trailing dot (254)', name: `${nameOf(253)}.`, ok: true },
  { what: 'wildcard of 253 characters + dot', name: `${nameOf(253, '*.')}.`, ok: true },
  { what: '254 characters, no dot', name: nameOf(254), ok: false },
  { what: '254 characters + trailing dot (255)', name: `${nameOf(254)}.`, ok: false },
];

describe.each(shapes)('%s domainNames length', (_kind, make) => {
  it.each(cases)('$what', ({ name, ok }) => {
    const errors = validateObject(make(name));
    if (ok) expect(errors).toEqual([]);
    else expect(errors.map((e) => e.field)).toEqual(['spec.egress[0].to[0].domainNames[0]']);
    expect(parseDomainPattern(name).ok).toBe(ok);
  });

  it('names the limit without its trailing dot', () => {
    const errors = validateObject(make(nameOf(254)));
    expect(errors.map((e) => e.reason)).toEqual([`Invalid value: "string": ${TOO_LONG}`]);
  });
});

it('the generated names have the lengths the cases claim', () => {
  for (const c of cases) expect(c.name.replace(/\.$/, '').length).toBe(c.what.startsWith('254') ? 254 : 253);
});
