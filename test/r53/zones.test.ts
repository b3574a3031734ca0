import { describe, expect, it } from 'vitest';
import { ZoneError } from '../../src/r53/errors.js';
import { resolveName } from '../../src/r53/resolve.js';
import { parseZones } from '../../src/r53/zone-load.js';
import { ZoneSet } from '../../src/r53/zone-model.js';
import { stringify } from 'yaml';

const opts = { unknownNameRcode: 'NXDOMAIN' } as const;

function zonesOf(doc: unknown): ZoneSet {
  return new ZoneSet(parseZones(stringify(doc), 'z.yaml'));
}

describe('zone file validation', () => {
  it.each([
    { what: 'no zones key', doc: { records: [] }, where: 'zones', reason: 'must hold a "zones" list' },
    { what: 'bad origin', doc: { zones: [{ origin: 'bad_origin!', records: [] }] }, where: 'zones[0]', reason: 'origin' },
    { what: 'bad A', doc: { zones: [{ origin: 'e.com', records: [{ name: 'www', type: 'A', value: '300.1.1.1' }] }] }, where: 'zones[0].records[0] (www A)', reason: 'IPv4' },
    { what: 'bad AAAA', doc: { zones: [{ origin: 'e.com', records: [{ name: 'www', type: 'AAAA', value: '192.0.2.1' }] }] }, where: 'zones[0].records[0] (www AAAA)', reason: 'IPv6' },
    { what: 'unknown type', doc: { zones: [{ origin: 'e.com', records: [{ name: 'x', type: 'SRV', value: 'x' }] }] }, where: 'zones[0].records[0] (x SRV)', reason: 'type must be one of' },
    { what: 'negative ttl', doc: { zones: [{ origin: 'e.com', records: [{ name: 'x', type: 'A', value: '192.0.2.1', ttl: -1 }] }] }, where: '(x A)', reason: 'ttl' },
    { what: 'CNAME and A together', doc: { zones: [{ origin: 'e.com', records: [{ name: 'x', type: 'A', value: '192.0.2.1' }, { name: 'x', type: 'CNAME', value: 'y.e.com' }] }] }, where: 'zones[0].records[1] (x CNAME)', reason: 'RFC 1034' },
    { what: 'CNAME at the apex', doc: { zones: [{ origin: 'e.com', records: [{ name: '@', type: 'CNAME', value: 'y.e.com' }] }] }, where: 'records[0]', reason: 'RFC 1034' },
    { what: 'owner outside the zone', doc: { zones: [{ origin: 'e.com', records: [{ name: 'www.other.com.', type: 'A', value: '192.0.2.1' }] }] }, where: 'records[0]', reason: 'outside the zone' },
    { what: 'bad MX', doc: { zones: [{ origin: 'e.com', records: [{ name: '@', type: 'MX', value: 'mail.e.com' }] }] }, where: 'records[0] (@ MX)', reason: 'PREFERENCE EXCHANGE' },
    { what: 'star in the middle', doc: { zones: [{ origin: 'e.com', records: [{ name: 'a.*', type: 'A', value: '192.0.2.1' }] }] }, where: 'records[0]', reason: 'leftmost' },
    { what: 'duplicate origin', doc: { zones: [{ origin: 'e.com' }, { origin: 'E.com.' }] }, where: 'zones[1]', reason: 'defined twice' },
    { what: 'value and values', doc: { zones: [{ origin: 'e.com', records: [{ name: 'x', type: 'A', value: '192.0.2.1', values: ['192.0.2.2'] }] }] }, where: 'records[0]', reason: 'not both' },
  ])('$what', ({ doc, where, reason }) => {
    let caught: unknown;
    try {
      zonesOf(doc);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ZoneError);
    const e = caught as ZoneError;
    expect(e.file).toBe('z.yaml');
    expect(e.record).toContain(where);
    expect(e.message).toContain(reason);
  });

  it('reports invalid YAML with the file name', () => {
    expect(() => parseZones('zones: [', 'broken.yaml')).toThrow(/broken\.yaml/);
  });
});

describe('resolveName', () => {
  const zones = zonesOf({
    zones: [
      {
        origin: 'a.test',
        records: [
          { name: 'one', type: 'CNAME', value: 'two.b.test' },
          { name: 'loop1', type: 'CNAME', value: 'loop2.a.test' },
          { name: 'loop2', type: 'CNAME', value: 'loop1.a.test' },
          { name: 'out', type: 'CNAME', value: 'elsewhere.invalid' },
          { name: 'dangling', type: 'CNAME', value: 'missing.b.test' },
          { name: '*', type: 'CNAME', value: 'three.b.test' },
          { name: 'sub', type: 'TXT', value: 'x'.repeat(300) },
        ],
      },
      { origin: 'b.test', records: [{ name: 'two', type: 'CNAME', value: 'three.b.test' }, { name: 'three', type: 'A', value: '192.0.2.3' }] },
      { origin: 'deep.a.test', records: [{ name: 'x', type: 'A', value: '192.0.2.9' }] },
    ],
  });

  it.each([
    { what: 'chain across zones', name: 'one.a.test', rcode: 'NOERROR', names: ['one.a.test', 'two.b.test', 'three.b.test'], count: 3 },
    { what: 'loop is SERVFAIL', name: 'loop1.a.test', rcode: 'SERVFAIL', names: ['loop1.a.test', 'loop2.a.test'], count: 0 },
    { what: 'chain leaving the zones', name: 'out.a.test', rcode: 'NXDOMAIN', names: ['out.a.test', 'elsewhere.invalid'], count: 1 },
    { what: 'dangling CNAME is NXDOMAIN with the CNAME', name: 'dangling.a.test', rcode: 'NXDOMAIN', names: ['dangling.a.test', 'missing.b.test'], count: 1 },
    { what: 'wildcard CNAME continues the chain', name: 'anything.a.test', rcode: 'NOERROR', names: ['anything.a.test', 'three.b.test'], count: 2 },
    { what: 'nested zone wins over its parent', name: 'x.deep.a.test', rcode: 'NOERROR', names: ['x.deep.a.test'], count: 1 },
  ])('$what', ({ name, rcode, names, count }) => {
    const r = resolveName(zones, name, 1, opts);
    expect(r.rcode).toBe(rcode);
    expect(r.names).toEqual(names);
    expect(r.answers).toHaveLength(count);
  });

  it('splits long TXT values into 255-byte strings', () => {
    const r = resolveName(zones, 'sub.a.test', 16, opts);
    const txt = r.answers[0];
    expect(txt?.type).toBe('TXT');
    expect((txt?.data as string[]).map((s) => s.length)).toEqual([255, 45]);
  });
});
