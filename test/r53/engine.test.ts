import { describe, expect, it } from 'vitest';
import { answerQuestion } from '../../src/r53/engine.js';
import { rdataText } from '../../src/r53/query-log.js';
import type { ResourceRecord } from '../../src/r53/zone-model.js';
import { exampleFirewall, exampleZones, firewall } from './helpers.js';

const zones = exampleZones();
const fw = exampleFirewall();

function show(records: readonly ResourceRecord[]): string[] {
  return records.map((r) => `${r.name} ${r.ttl} ${r.type} ${rdataText(r)}`);
}

const A = 1;
const AAAA = 28;
const MX = 15;
const TXT = 16;
const CNAME = 5;
const DS = 43;
const DNSKEY = 48;

describe('answerQuestion (zones + firewall)', () => {
  it.each([
    {
      what: 'plain A, two records, record TTL',
      name: 'www.example.com', qtype: A, rcode: 'NOERROR',
      answers: ['www.example.com 60 A 192.0.2.10', 'www.example.com 60 A 192.0.2.11'], authority: [],
    },
    { what: 'AAAA', name: 'www.example.com', qtype: AAAA, rcode: 'NOERROR', answers: ['www.example.com 60 AAAA 2001:db8::10'], authority: [] },
    { what: 'MX at the apex', name: 'example.com', qtype: MX, rcode: 'NOERROR', answers: ['example.com 300 MX 10 mail.example.com.'], authority: [] },
    { what: 'TXT', name: 'example.com', qtype: TXT, rcode: 'NOERROR', answers: ['example.com 300 TXT "v=spf1 mx -all"'], authority: [] },
    {
      what: 'NXDOMAIN from the zone carries the SOA',
      name: 'nope.example.com', qtype: A, rcode: 'NXDOMAIN', answers: [],
      authority: ['example.com 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 60'],
    },
    {
      what: 'NODATA at an existing name',
      name: 'mail.example.com', qtype: TXT, rcode: 'NOERROR', answers: [],
      authority: ['example.com 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 60'],
    },
    {
      what: 'empty non-terminal is NODATA, not NXDOMAIN',
      name: 'empty.example.com', qtype: A, rcode: 'NOERROR', answers: [],
      authority: ['example.com 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 60'],
    },
    { what: 'wildcard synthesis', name: 'X.Apps.example.com', qtype: A, rcode: 'NOERROR', answers: ['x.apps.example.com 300 A 192.0.2.50'], authority: [] },
    { what: 'DNSSEC types get NODATA (never served)', name: 'example.com', qtype: DNSKEY, rcode: 'NOERROR', answers: [], authority: ['example.com 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 60'] },
    { what: 'DS likewise', name: 'www.example.com', qtype: DS, rcode: 'NOERROR', answers: [] },
    { what: 'names outside every zone: unknownNameRcode', name: 'www.unknown.test', qtype: A, rcode: 'NXDOMAIN', answers: [], authority: [] },
    // Firewall actions.
    { what: 'BLOCK NXDOMAIN (no SOA by default)', name: 'evil.example.org', qtype: A, rcode: 'NXDOMAIN', answers: [], authority: [] },
    {
      what: 'BLOCK NODATA on a CNAME target keeps the chain up to the blocked name (INSPECT)',
      name: 'api.example.com', qtype: A, rcode: 'NOERROR',
      answers: ['api.example.com 300 CNAME api.cdn.example.net.', 'api.cdn.example.net 300 CNAME edge.tracker.example.org.'], authority: [],
    },
    {
      what: 'BLOCK OVERRIDE: CNAME with the override TTL, then the target records',
      name: 'legacy.example.com', qtype: A, rcode: 'NOERROR',
      answers: ['legacy.example.com 30 CNAME portal.example.net.', 'portal.example.net 300 A 198.51.100.80'], authority: [],
    },
    {
      what: 'OVERRIDE for a type the target lacks: CNAME then NODATA',
      name: 'legacy.example.com', qtype: AAAA, rcode: 'NOERROR',
      answers: ['legacy.example.com 30 CNAME portal.example.net.'],
      authority: ['example.net 300 SOA ns1.example.net. hostmaster.example.net. 1 7200 900 1209600 60'],
    },
    { what: 'OVERRIDE for a CNAME question: only the CNAME', name: 'legacy.example.com', qtype: CNAME, rcode: 'NOERROR', answers: ['legacy.example.com 30 CNAME portal.example.net.'], authority: [] },
    { what: 'ALERT answers normally', name: 'ads.example.org', qtype: A, rcode: 'NOERROR', answers: ['ads.example.org 300 A 203.0.113.66'], authority: [] },
    { what: 'qtype-filtered BLOCK applies to AAAA', name: 'mail.example.com', qtype: AAAA, rcode: 'NOERROR', answers: [], authority: [] },
    { what: 'qtype-filtered BLOCK leaves A alone', name: 'mail.example.com', qtype: A, rcode: 'NOERROR', answers: ['mail.example.com 300 A 192.0.2.25'], authority: [] },
  ])('$what', ({ name, qtype, rcode, answers, authority }) => {
    const r = answerQuestion(zones, fw, name, qtype);
    expect(r.rcode).toBe(rcode);
    expect(show(r.answers)).toEqual(answers);
    if (authority) expect(show(r.authorities)).toEqual(authority);
  });

  it('settings: SOA in block responses, no SOA in negative answers, unknown names REFUSED', () => {
    const custom = exampleFirewall({ soaInBlockResponses: true, soaInNegativeAnswers: false, unknownNameRcode: 'REFUSED' });
    expect(show(answerQuestion(zones, custom, 'evil.example.org', A).authorities)).toEqual([
      'example.org 300 SOA ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 60',
    ]);
    expect(answerQuestion(zones, custom, 'nope.example.com', A).authorities).toEqual([]);
    expect(answerQuestion(zones, custom, 'x.unknown.test', A).rcode).toBe('REFUSED');
  });

  it('overrideResolvesTarget off: OVERRIDE answers only the CNAME', () => {
    const r = answerQuestion(zones, exampleFirewall({ overrideResolvesTarget: false }), 'legacy.example.com', A);
    expect(show(r.answers)).toEqual(['legacy.example.com 30 CNAME portal.example.net.']);
  });

  it('firewall down: fail closed SERVFAILs, fail open answers uninspected', () => {
    const closed = answerQuestion(zones, exampleFirewall({ firewallAvailable: false, failOpen: 'DISABLED' }), 'evil.example.org', A);
    expect(closed.rcode).toBe('SERVFAIL');
    expect(closed.answers).toEqual([]);
    const open = answerQuestion(zones, exampleFirewall({ firewallAvailable: false, failOpen: 'ENABLED' }), 'evil.example.org', A);
    expect(open.rcode).toBe('NOERROR');
    expect(show(open.answers)).toEqual(['evil.example.org 300 A 203.0.113.13']);
    expect(open.decision.bypassed).toBe(true);
  });
});

describe('keepChainBeforeBlock', () => {
  it.each([
    { keep: true, answers: ['api.example.com 300 CNAME api.cdn.example.net.', 'api.cdn.example.net 300 CNAME edge.tracker.example.org.'] },
    { keep: false, answers: [] },
  ])('keepChainBeforeBlock $keep: a NODATA block at chain step 2', ({ keep, answers }) => {
    const r = answerQuestion(zones, exampleFirewall({ keepChainBeforeBlock: keep }), 'api.example.com', A);
    expect(r.rcode).toBe('NOERROR');
    expect(show(r.answers)).toEqual(answers);
    expect(r.decision.blockedAt).toBe(2);
  });

  it('a block on the query name itself is the same either way', () => {
    for (const keep of [true, false]) {
      const r = answerQuestion(zones, exampleFirewall({ keepChainBeforeBlock: keep }), 'evil.example.org', A);
      expect([r.rcode, r.answers.length]).toEqual(['NXDOMAIN', 0]);
    }
  });
});

describe('inspectOverrideTarget', () => {
  // legacy.example.com is rewritten to a target that another rule blocks, or to one that is
  // rewritten back (a loop).
  function overrideTo(target: string, settings: Record<string, unknown>, extra: { domains: string[]; response: string; override?: string }) {
    return firewall({
      settings,
      domainLists: [
        { name: 'legacy', domains: ['legacy.example.com'] },
        { name: 'extra', domains: extra.domains },
      ],
      ruleGroups: [
        {
          name: 'g',
          rules: [
            { name: 'rewrite', priority: 1, domainList: 'legacy', action: 'BLOCK', blockResponse: 'OVERRIDE', blockOverrideDomain: target, blockOverrideTtl: 30 },
            {
              name: 'extra',
              priority: 2,
              domainList: 'extra',
              action: 'BLOCK',
              blockResponse: extra.response,
              ...(extra.override ? { blockOverrideDomain: extra.override, blockOverrideTtl: 40 } : {}),
            },
          ],
        },
      ],
      associations: [{ ruleGroup: 'g', priority: 100 }],
    });
  }

  it.each([
    {
      what: 'off (default): the target is not inspected, its records follow',
      inspect: false, target: 'portal.example.net', extra: { domains: ['portal.example.net'], response: 'NXDOMAIN' },
      rcode: 'NOERROR', answers: ['legacy.example.com 30 CNAME portal.example.net.', 'portal.example.net 300 A 198.51.100.80'], targetVerdict: undefined,
    },
    {
      what: 'on: a blocked target answers with its block response after the CNAME',
      inspect: true, target: 'portal.example.net', extra: { domains: ['portal.example.net'], response: 'NXDOMAIN' },
      rcode: 'NXDOMAIN', answers: ['legacy.example.com 30 CNAME portal.example.net.'], targetVerdict: 'BLOCK',
    },
    {
      what: 'on: a target whose own CNAME chain is blocked keeps that chain up to the block',
      inspect: true, target: 'api.example.com', extra: { domains: ['edge.tracker.example.org'], response: 'NODATA' },
      rcode: 'NOERROR',
      answers: ['legacy.example.com 30 CNAME api.example.com.', 'api.example.com 300 CNAME api.cdn.example.net.', 'api.cdn.example.net 300 CNAME edge.tracker.example.org.'],
      targetVerdict: 'BLOCK',
    },
    {
      what: 'on: a target that passes answers as before',
      inspect: true, target: 'portal.example.net', extra: { domains: ['other.example.net'], response: 'NXDOMAIN' },
      rcode: 'NOERROR', answers: ['legacy.example.com 30 CNAME portal.example.net.', 'portal.example.net 300 A 198.51.100.80'], targetVerdict: 'ANSWER',
    },
    {
      what: 'on: a target rewritten again follows the second OVERRIDE',
      inspect: true, target: 'www.example.com', extra: { domains: ['www.example.com'], response: 'OVERRIDE', override: 'mail.example.com' },
      rcode: 'NOERROR', answers: ['legacy.example.com 30 CNAME www.example.com.', 'www.example.com 40 CNAME mail.example.com.', 'mail.example.com 300 A 192.0.2.25'], targetVerdict: 'BLOCK',
    },
    {
      what: 'on: rewrites that loop end in SERVFAIL',
      inspect: true, target: 'www.example.com', extra: { domains: ['www.example.com'], response: 'OVERRIDE', override: 'legacy.example.com' },
      rcode: 'SERVFAIL', answers: [], targetVerdict: 'BLOCK',
    },
  ])('$what', ({ inspect, target, extra, rcode, answers, targetVerdict }) => {
    const r = answerQuestion(zones, overrideTo(target, { inspectOverrideTarget: inspect }, extra), 'legacy.example.com', A);
    expect(r.rcode).toBe(rcode);
    expect(show(r.answers)).toEqual(answers);
    expect(r.decision.deciding?.ruleName).toBe('rewrite');
    expect(r.overrideTarget?.decision.verdict).toBe(targetVerdict);
  });

  it('on: a target whose CNAME chain leads back to the blocked name is a loop (SERVFAIL), not endless recursion', () => {
    const loop = firewall({
      settings: { inspectOverrideTarget: true },
      domainLists: [{ name: 'edge', domains: ['edge.tracker.example.org'] }],
      ruleGroups: [{ name: 'g', rules: [{ name: 'back', priority: 1, domainList: 'edge', action: 'BLOCK', blockResponse: 'OVERRIDE', blockOverrideDomain: 'api.example.com', blockOverrideTtl: 5 }] }],
      associations: [{ ruleGroup: 'g', priority: 100 }],
    });
    // api.example.com -> api.cdn.example.net -> edge.tracker.example.org, rewritten to api.example.com.
    expect(answerQuestion(zones, loop, 'api.example.com', A).rcode).toBe('SERVFAIL');
    expect(answerQuestion(zones, loop, 'edge.tracker.example.org', A).rcode).toBe('SERVFAIL');
    const off = answerQuestion(zones, { ...loop, settings: { ...loop.settings, inspectOverrideTarget: false } }, 'api.example.com', A);
    expect(off.rcode).toBe('NOERROR');
  });

  it('on, with overrideResolvesTarget off: only the CNAME, but a blocked target still sets the rcode', () => {
    const fw2 = overrideTo('portal.example.net', { inspectOverrideTarget: true, overrideResolvesTarget: false }, { domains: ['portal.example.net'], response: 'NXDOMAIN' });
    const r = answerQuestion(zones, fw2, 'legacy.example.com', A);
    expect([r.rcode, ...show(r.answers)]).toEqual(['NXDOMAIN', 'legacy.example.com 30 CNAME portal.example.net.']);
  });
});
