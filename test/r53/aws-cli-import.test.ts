import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importAwsCli } from '../../src/r53/aws-cli-import.js';
import type { AwsCliDocuments } from '../../src/r53/aws-cli-import.js';
import { loadFirewallFile } from '../../src/r53/config-load.js';
import { decideFirewall } from '../../src/r53/decide.js';
import { R53ConfigError } from '../../src/r53/errors.js';
import { EXAMPLES } from './helpers.js';

const dir = join(EXAMPLES, 'aws-cli');
const bundle = join(dir, 'firewall-bundle.yaml');

function doc(name: string): { file: string; json: unknown } {
  const file = join(dir, name);
  return { file, json: JSON.parse(readFileSync(file, 'utf8')) };
}

function docs(overrides: Partial<AwsCliDocuments> = {}): AwsCliDocuments {
  return {
    rules: [doc('list-firewall-rules-corp-egress.json'), doc('list-firewall-rules-privacy.json')],
    domains: [
      { ...doc('domains-corp-domains.json'), domainListId: 'rslvr-fdl-5e6f7a8b9c0d1e2f' },
      { ...doc('domains-new-saas-watchlist.json'), domainListId: 'rslvr-fdl-6f7a8b9c0d1e2f30' },
      { ...doc('domains-legacy-hosts.json'), domainListId: 'rslvr-fdl-7a8b9c0d1e2f3041' },
      { ...doc('domains-mail-hosts.json'), domainListId: 'rslvr-fdl-8b9c0d1e2f304152' },
      { ...doc('domains-trackers.json'), domainListId: 'rslvr-fdl-a1b2c3d4e5f60718' },
    ],
    associations: doc('list-firewall-rule-group-associations.json'),
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    ...overrides,
  };
}

describe('AWS CLI import of a realistic rule set', async () => {
  const { config, warnings } = await loadFirewallFile(bundle);

  it('keeps the VPC\'s active associations in priority order', () => {
    expect(config.associations.map((a) => [a.priority, a.ruleGroup.name])).toEqual([
      [1, 'fms-baseline-threats'],
      [101, 'corp-egress'],
      [200, 'privacy'],
    ]);
  });

  it('reads rules with their AWS fields', () => {
    const corp = config.associations[1]!.ruleGroup;
    expect(corp.rules.map((r) => r.name)).toEqual(['allow-corp', 'watch-new-saas', 'legacy-to-portal', 'no-aaaa-for-mail']);
    const legacy = corp.rules[2]!;
    expect(legacy.blockResponse).toBe('OVERRIDE');
    expect(legacy.override).toEqual({ domain: 'portal.example.net', ttl: 60, dnsType: 'CNAME' });
    expect(corp.rules[0]!.redirection).toBe('TRUST_REDIRECTION_DOMAIN');
    expect(corp.rules[3]!.qtype).toBe(28);
    expect(corp.rules[0]!.domainList.name).toBe('corp-domains');
  });

  it('takes FirewallFailOpen and the account from list-firewall-configs, settings from the bundle', () => {
    expect(config.settings.failOpen).toBe('ENABLED');
    expect(config.settings.accountId).toBe('123456789012');
    expect(config.settings.vpcId).toBe('vpc-0a1b2c3d4e5f60718');
    expect(config.settings.region).toBe('eu-west-1');
  });

  it('warns about what cannot be emulated', () => {
    expect(warnings).toHaveLength(3);
    expect(warnings.find((w) => w.includes('AWSManagedDomainsMalwareDomainList'))).toMatch(/managed domain list.*cannot be exported/);
    expect(warnings.find((w) => w.includes('block-dga'))).toMatch(/DNS Firewall Advanced rule \(DGA\) skipped/);
    expect(warnings.find((w) => w.includes('rslvr-frgassoc-3d2e1f0a9b8c7d6e'))).toMatch(/status DELETING/);
  });

  it.each([
    { name: 'evil.example.org', qtype: 'A', verdict: 'BLOCK', rule: 'org-denylist', group: 'rslvr-frg-0f1e2d3c4b5a69788' },
    { name: 'x.malware.example', qtype: 'A', verdict: 'BLOCK', rule: 'org-denylist' },
    { name: 'git.corp.example.com', qtype: 'A', verdict: 'ANSWER', rule: 'allow-corp' },
    // TRUST on allow-corp: a CNAME into the tracker list is not inspected.
    { name: 'git.corp.example.com', qtype: 'A', chain: ['edge.tracker.example.org'], verdict: 'ANSWER', rule: 'allow-corp' },
    { name: 'cdn.example.net', qtype: 'A', chain: ['edge.tracker.example.org'], verdict: 'BLOCK', rule: 'block-trackers' },
    { name: 'ads.example.org', qtype: 'A', verdict: 'ANSWER', rule: 'watch-new-saas' },
    { name: 'legacy.example.com', qtype: 'A', verdict: 'BLOCK', rule: 'legacy-to-portal' },
    { name: 'mail.example.com', qtype: 'AAAA', verdict: 'BLOCK', rule: 'no-aaaa-for-mail' },
    { name: 'mail.example.com', qtype: 'A', verdict: 'ANSWER', rule: undefined },
    // Shadowed: corp-egress (101) allows corp names before privacy (200) could block them.
    { name: 'corp.example.com', qtype: 'A', verdict: 'ANSWER', rule: 'allow-corp' },
  ])('$name $qtype $chain -> $verdict by $rule', ({ name, qtype, chain, verdict, rule, group }) => {
    const d = decideFirewall(config, name, qtype, chain ?? []);
    expect(d.verdict).toBe(verdict);
    expect(d.deciding?.ruleName).toBe(rule);
    if (group) expect(d.deciding?.ruleGroupId).toBe(group);
  });

  it('needs a VPC when associations span several', () => {
    const { vpcId: _omit, ...rest } = docs();
    expect(() => importAwsCli(rest)).toThrow(/span several VPCs \(vpc-0a1b2c3d4e5f60718, vpc-0f9e8d7c6b5a40312\); set awsCli.vpcId/);
  });

  it('picks the other VPC\'s associations when asked', () => {
    const { config: staging } = importAwsCli(docs({ vpcId: 'vpc-0f9e8d7c6b5a40312' }));
    expect(staging.associations.map((a) => a.id)).toEqual(['rslvr-frgassoc-4e3f2a1b0c9d8e7f']);
  });

  it.each([
    {
      what: 'a rule whose domain list was not exported',
      input: () => docs({ domains: docs().domains.slice(1) }),
      file: 'list-firewall-rules-corp-egress.json',
      field: 'FirewallRules[0].FirewallDomainListId',
    },
    {
      what: 'a bad Action',
      input: () => {
        const d = doc('list-firewall-rules-privacy.json');
        const json = structuredClone(d.json) as { FirewallRules: Array<Record<string, unknown>> };
        json.FirewallRules[0]!.Action = 'DROP';
        return docs({ rules: [doc('list-firewall-rules-corp-egress.json'), { file: d.file, json }] });
      },
      file: 'list-firewall-rules-privacy.json',
      field: 'FirewallRules[0].Action',
    },
    {
      what: 'an OVERRIDE without BlockOverrideTtl',
      input: () => {
        const d = doc('list-firewall-rules-corp-egress.json');
        const json = structuredClone(d.json) as { FirewallRules: Array<Record<string, unknown>> };
        delete json.FirewallRules[2]!.BlockOverrideTtl;
        return docs({ rules: [{ file: d.file, json }, doc('list-firewall-rules-privacy.json')] });
      },
      file: 'list-firewall-rules-corp-egress.json',
      field: 'FirewallRules[2].BlockOverrideTtl',
    },
    {
      what: 'a bad domain',
      input: () => docs({ domains: [{ file: 'd.json', json: { Domains: ['ok.example.', 'bad domain'] }, domainListId: 'rslvr-fdl-5e6f7a8b9c0d1e2f' }, ...docs().domains.slice(1)] }),
      file: 'd.json',
      field: 'Domains[1]',
    },
    {
      what: 'the wrong output in a slot',
      input: () => docs({ associations: doc('list-firewall-rule-groups.json') }),
      file: 'list-firewall-rule-groups.json',
      field: 'FirewallRuleGroupAssociations',
    },
  ])('names file and field for $what', ({ input, file, field }) => {
    let caught: unknown;
    try {
      importAwsCli(input());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(R53ConfigError);
    expect((caught as R53ConfigError).file.endsWith(file)).toBe(true);
    expect((caught as R53ConfigError).field).toBe(field);
  });

  const tmp = mkdtempSync(join(tmpdir(), 'r53-bundle-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('bundle errors name the bundle file and key', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'awsCli:\n  rules: []\n  domains: {}\n  associations: 42\n');
    await expect(loadFirewallFile(bad)).rejects.toMatchObject({ file: bad, field: 'awsCli.associations' });
    const missing = join(tmp, 'missing.yaml');
    writeFileSync(missing, 'awsCli:\n  rules: [nope.json]\n  domains: {}\n  associations: x.json\n');
    await expect(loadFirewallFile(missing)).rejects.toMatchObject({ file: join(tmp, 'nope.json'), field: '(file)' });
  });
});
