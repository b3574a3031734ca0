import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompiledDomainList, parseDomainEntry } from '../../src/r53/domain-list.js';
import type { DomainEntry } from '../../src/r53/domain-list.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFirewallFile } from '../../src/r53/config-load.js';
import { decideFirewall } from '../../src/r53/decide.js';
import { R53ConfigError } from '../../src/r53/errors.js';
import { firewallFromDocument } from '../../src/r53/firewall-yaml.js';
import { firewall } from './helpers.js';

describe('domain list entries', () => {
  it.each([
    { raw: 'example.com', kind: 'exact' },
    { raw: 'Example.COM.', kind: 'exact' },
    { raw: '*.example.com', kind: 'wildcard' },
    { raw: '*.example.com.', kind: 'wildcard' },
    { raw: '*', kind: 'any' },
    { raw: 'xn--bcher-kva.example', kind: 'exact' },
    { raw: '*example.com', kind: 'glued' },
    { raw: '*-cdn.example.com.', kind: 'glued' },
  ])('accepts $raw as $kind', ({ raw, kind }) => {
    const e = parseDomainEntry(raw);
    expect(typeof e).toBe('object');
    expect((e as DomainEntry).kind).toBe(kind);
  });

  it.each(['', '**example.com', '*exa mple.com', 'a.*.example.com', 'exa mple.com', 'under_score.example', '*.', 'a..b', 'x'.repeat(256)])(
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
    expect(list.match(name, { wildcardMatchesApex: apex, gluedWildcard: 'text-suffix' })).toBe(hit);
    expect(list.entries.map((e) => e.raw)).toEqual(entries);
  });

  // "*example.com": AWS documents the syntax (an optional leading "*") but not what it matches.
  it.each([
    { name: 'example.com', text: true, label: true },
    { name: 'www.example.com', text: true, label: true },
    { name: 'a.b.example.com', text: true, label: true },
    { name: 'badexample.com', text: true, label: false },
    { name: 'www.badexample.com', text: true, label: false },
    { name: 'example.com.au', text: false, label: false },
    { name: 'example.org', text: false, label: false },
    { name: 'xample.com', text: false, label: false },
  ])('*example.com vs $name: text-suffix $text, label-suffix $label', ({ name, text, label }) => {
    const list = new CompiledDomainList([parseDomainEntry('*example.com') as DomainEntry]);
    expect(list.match(name, { wildcardMatchesApex: false, gluedWildcard: 'text-suffix' })).toBe(text ? '*example.com' : undefined);
    expect(list.match(name, { wildcardMatchesApex: false, gluedWildcard: 'label-suffix' })).toBe(label ? '*example.com' : undefined);
  });

  it('a glued wildcard matches the names whose text ends with the rest (text-suffix) or that lie at or below it (label-suffix)', () => {
    const label = fc.stringMatching(/^[a-c]{1,3}$/);
    const dotted = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
    fc.assert(
      fc.property(dotted, dotted, fc.array(dotted, { maxLength: 3 }), (rest, name, others) => {
        const entries = [`*${rest}`, ...others].map((e) => parseDomainEntry(e) as DomainEntry);
        const list = new CompiledDomainList(entries);
        const exact = others.includes(name);
        const text = list.match(name, { wildcardMatchesApex: false, gluedWildcard: 'text-suffix' });
        expect(text !== undefined).toBe(exact || name.endsWith(rest));
        const byLabel = list.match(name, { wildcardMatchesApex: false, gluedWildcard: 'label-suffix' });
        expect(byLabel !== undefined).toBe(exact || name === rest || name.endsWith(`.${rest}`));
      }),
      { numRuns: 500 },
    );
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
    { what: 'bad gluedWildcard', doc: { ...base, settings: { gluedWildcard: 'regex' } }, field: 'settings.gluedWildcard', reason: 'text-suffix, label-suffix' },
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

describe('glued wildcards ("*example.com") load with a warning', () => {
  const doc = { ...base, domainLists: [{ name: 'l', domains: ['a.example', '*example.com'] }] };

  it('names the entry and the setting, and matches with the setting', () => {
    const warnings: string[] = [];
    const cfg = firewallFromDocument(doc, 'fw.yaml', warnings);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('fw.yaml: domainLists[0].domains[1]');
    expect(warnings[0]).toContain('"*example.com"');
    expect(warnings[0]).toContain('gluedWildcard: text-suffix');
    expect(decideFirewall(cfg, 'badexample.com', 'A').deciding?.entry).toBe('*example.com');
    const byLabel = firewallFromDocument({ ...doc, settings: { gluedWildcard: 'label-suffix' } }, 'fw.yaml', []);
    expect(decideFirewall(byLabel, 'badexample.com', 'A').deciding).toBeUndefined();
    expect(decideFirewall(byLabel, 'www.example.com', 'A').deciding?.entry).toBe('*example.com');
  });

  it('no warning without one', () => {
    const warnings: string[] = [];
    firewallFromDocument(base, 'fw.yaml', warnings);
    expect(warnings).toEqual([]);
  });

  it('through loadFirewallFile, for the YAML format and for an AWS CLI bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'r53-glued-'));
    try {
      const yamlFile = join(dir, 'fw.yaml');
      writeFileSync(yamlFile, JSON.stringify(doc));
      const fromYaml = await loadFirewallFile(yamlFile);
      expect(fromYaml.warnings.filter((w) => w.includes('*example.com'))).toHaveLength(1);

      writeFileSync(join(dir, 'domains.json'), JSON.stringify({ Domains: ['*example.com'] }));
      writeFileSync(join(dir, 'rules.json'), JSON.stringify({ FirewallRules: [{ FirewallRuleGroupId: 'rslvr-frg-1', FirewallDomainListId: 'rslvr-fdl-1', Name: 'r', Priority: 1, Action: 'BLOCK', BlockResponse: 'NXDOMAIN' }] }));
      writeFileSync(join(dir, 'assoc.json'), JSON.stringify({ FirewallRuleGroupAssociations: [{ Id: 'rslvr-frgassoc-1', FirewallRuleGroupId: 'rslvr-frg-1', VpcId: 'vpc-1', Name: 'a', Priority: 101, Status: 'COMPLETE' }] }));
      const bundle = join(dir, 'bundle.yaml');
      writeFileSync(bundle, 'awsCli:\n  rules: rules.json\n  domains: { rslvr-fdl-1: domains.json }\n  associations: assoc.json\n');
      const fromCli = await loadFirewallFile(bundle);
      expect(fromCli.warnings.filter((w) => w.includes('*example.com'))).toHaveLength(1);
      expect(decideFirewall(fromCli.config, 'badexample.com', 'A').verdict).toBe('BLOCK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
