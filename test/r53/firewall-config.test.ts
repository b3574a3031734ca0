import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompiledDomainList, parseDomainEntry } from '../../src/r53/domain-list.js';
import type { DomainEntry } from '../../src/r53/domain-list.js';
import { R53ConfigError } from '../../src/r53/errors.js';
import { firewall } from './helpers.js';

describe('domain list entries', () => {
  it.each([
    { raw: 'example.com', kind: 'exact' },
    { raw: 'Example.COM.', kind: 'exact' },
    { raw: '*.example.com', kind: 'wildcard' },
    { raw: '*.example.com.', kind: 'wildcard' },
    { raw: '*', kind: 'any' },
    { raw: 'xn--bcher-kva.example', kind: 'exact' },
  ])('accepts $raw as $kind', ({ raw, kind }) => {
    const e = parseDomainEntry(raw);
    expect(typeof e).toBe('object');
    expect((e as DomainEntry).kind).toBe(kind);
  });

  it.each(['', '*example.com', 'a.*.example.com', 'exa mple.com', 'under_score.example', '*.', 'a..b', 'x'.repeat(256)])(
    'rejects %j',
    (raw) => {
      expect(typeof parseDomainEntry(raw)).toBe('string');
    },
  );

  it.each([
    { entries: ['*.example.com'], name: 'a.example.com', apex: false, hit: '*.example.com' },
    { entries: ['*.example.com'], name: 'a.b.example.com', apex: false, hit: '*.example.com' },
    { entries: ['*.example.com'], name: 'example.com', apex: false, hit: undefined },
    { entries: ['*.example.com'], name: 'example.com', apex: true, hit: '*.example.com' },
    { entries: ['*.example.com'], name: 'badexample.com', apex: true, hit: undefined },
    { entries: ['example.com'], name: 'www.example.com', apex: true, hit: undefined },
    { entries: ['example.com', '*.example.com'], name: 'example.com', apex: false, hit: 'example.com' },
    { entries: ['*'], name: 'anything.at.all', apex: false, hit: '*' },
  ])('$entries matches $name (apex=$apex): $hit', ({ entries, name, apex, hit }) => {
    const list = new CompiledDomainList(entries.map((e) => parseDomainEntry(e) as DomainEntry));
    expect(list.match(name, { wildcardMatchesApex: apex })).toBe(hit);
    expect(list.entries.map((e) => e.raw)).toEqual(entries);
  });

  it('a wildcard matches exactly the names strictly below its suffix', () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,5}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 3 }), fc.array(label, { minLength: 0, maxLength: 4 }), (suffix, name) => {
        const s = suffix.join('.');
        const n = name.join('.');
        const list = new CompiledDomainList([parseDomainEntry(`*.${s}`) as DomainEntry]);
        const expected = n.endsWith(`.${s}`);
        expect(list.match(n, { wildcardMatchesApex: false }) !== undefined).toBe(expected);
      }),
    );
  });
});

const base = {
  domainLists: [{ name: 'l', domains: ['a.example'] }],
  ruleGroups: [{ name: 'g', rules: [{ name: 'r', priority: 1, domainList: 'l', action: 'ALLOW' }] }],
  associations: [{ ruleGroup: 'g', priority: 100 }],
};

function withRule(rule: Record<string, unknown>): unknown {
  return { ...base, ruleGroups: [{ name: 'g', rules: [{ name: 'r', priority: 1, domainList: 'l', ...rule }] }] };
}

describe('firewall YAML validation names the field', () => {
  it.each([
    { what: 'unknown action', doc: withRule({ action: 'DROP' }), field: 'ruleGroups[0].rules[0].action', reason: 'ALLOW, ALERT, BLOCK' },
    { what: 'unknown block response', doc: withRule({ action: 'BLOCK', blockResponse: 'REFUSED' }), field: 'ruleGroups[0].rules[0].blockResponse', reason: 'NODATA, NXDOMAIN, OVERRIDE' },
    { what: 'OVERRIDE without domain', doc: withRule({ action: 'BLOCK', blockResponse: 'OVERRIDE', blockOverrideTtl: 5 }), field: 'ruleGroups[0].rules[0].blockOverrideDomain', reason: 'required' },
    { what: 'OVERRIDE without ttl', doc: withRule({ action: 'BLOCK', blockResponse: 'OVERRIDE', blockOverrideDomain: 'x.example' }), field: 'ruleGroups[0].rules[0].blockOverrideTtl', reason: 'required' },
    { what: 'OVERRIDE ttl too large', doc: withRule({ action: 'BLOCK', blockResponse: 'OVERRIDE', blockOverrideDomain: 'x.example', blockOverrideTtl: 604801 }), field: 'ruleGroups[0].rules[0].blockOverrideTtl', reason: '0..604800' },
    { what: 'override type other than CNAME', doc: withRule({ action: 'BLOCK', blockResponse: 'OVERRIDE', blockOverrideDomain: 'x.example', blockOverrideTtl: 5, blockOverrideDnsType: 'A' }), field: 'ruleGroups[0].rules[0].blockOverrideDnsType', reason: 'CNAME' },
    { what: 'blockResponse on ALLOW', doc: withRule({ action: 'ALLOW', blockResponse: 'NODATA' }), field: 'ruleGroups[0].rules[0].blockResponse', reason: 'only applies' },
    { what: 'bad redirection action', doc: withRule({ action: 'ALLOW', firewallDomainRedirectionAction: 'FOLLOW' }), field: 'ruleGroups[0].rules[0].firewallDomainRedirectionAction', reason: 'TRUST_REDIRECTION_DOMAIN' },
    { what: 'bad qtype', doc: withRule({ action: 'ALLOW', qtype: 'AAAAA' }), field: 'ruleGroups[0].rules[0].qtype', reason: 'unknown query type' },
    { what: 'unknown domain list', doc: withRule({ action: 'ALLOW', domainList: 'zz' }), field: 'ruleGroups[0].rules[0].domainList', reason: 'no domain list' },
    { what: 'bad domain', doc: { ...base, domainLists: [{ name: 'l', domains: ['ok.example', 'no good'] }] }, field: 'domainLists[0].domains[1]', reason: 'only A-Z' },
    {
      what: 'duplicate rule priority',
      doc: { ...base, ruleGroups: [{ name: 'g', rules: [{ name: 'r1', priority: 1, domainList: 'l', action: 'ALLOW' }, { name: 'r2', priority: 1, domainList: 'l', action: 'ALERT' }] }] },
      field: 'ruleGroups[0].rules[1].priority', reason: 'already used by rule r1',
    },
    {
      what: 'duplicate association priority',
      doc: { ...base, ruleGroups: [...base.ruleGroups, { name: 'h', rules: [] }], associations: [{ ruleGroup: 'g', priority: 100 }, { ruleGroup: 'h', priority: 100 }] },
      field: 'associations[1].priority', reason: 'already used',
    },
    { what: 'association to an unknown group', doc: { ...base, associations: [{ ruleGroup: 'x', priority: 1 }] }, field: 'associations[0].ruleGroup', reason: 'no rule group' },
    { what: 'unknown setting', doc: { ...base, settings: { wildcardMatchApex: true } }, field: 'settings.wildcardMatchApex', reason: 'unknown setting' },
    { what: 'bad setting type', doc: { ...base, settings: { overrideResolvesTarget: 'yes' } }, field: 'settings.overrideResolvesTarget', reason: 'boolean' },
    { what: 'bad failOpen', doc: { ...base, settings: { failOpen: 'SOMETIMES' } }, field: 'settings.failOpen', reason: 'ENABLED' },
    { what: 'unknown top-level key', doc: { ...base, rules: [] }, field: 'rules', reason: 'unknown key' },
  ])('$what', ({ doc, field, reason }) => {
    let caught: unknown;
    try {
      firewall(doc);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(R53ConfigError);
    const e = caught as R53ConfigError;
    expect(e.file).toBe('test.yaml');
    expect(e.field).toBe(field);
    expect(e.reason).toContain(reason);
  });

  it('BLOCK without a block response defaults to NODATA', () => {
    const cfg = firewall(withRule({ action: 'BLOCK' }));
    expect(cfg.associations[0]!.ruleGroup.rules[0]!.blockResponse).toBe('NODATA');
  });
});
