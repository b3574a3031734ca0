import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideFirewall } from '../../src/r53/decide.js';
import type { FirewallConfig } from '../../src/r53/firewall-model.js';
import { firewall } from './helpers.js';

// Two groups whose file order is the reverse of their association priority, rules written out of
// priority order, so ordering bugs show.
const doc = {
  domainLists: [
    { name: 'allow', id: 'fdl-allow', domains: ['ok.example.com', 'both.example.com', '*.trusted.example'] },
    { name: 'bad', id: 'fdl-bad', domains: ['bad.example.com', '*.bad.example', 'both.example.com'] },
    { name: 'nodata', id: 'fdl-nodata', domains: ['quiet.example.com'] },
    { name: 'alert', id: 'fdl-alert', domains: ['watch.example.com', 'watch-then-block.example.com'] },
    { name: 'alertblock', id: 'fdl-alertblock', domains: ['watch-then-block.example.com'] },
    { name: 'override', id: 'fdl-ov', domains: ['old.example.com'] },
    { name: 'v6', id: 'fdl-v6', domains: ['v6only.example.com'] },
    { name: 'cdn', id: 'fdl-cdn', domains: ['*.cdn.example'] },
    { name: 'trustedalias', id: 'fdl-talias', domains: ['alias.trust.example'] },
    { name: 'alerttrust', id: 'fdl-atrust', domains: ['watch.trust.example'] },
    { name: 'shadow', id: 'fdl-shadow', domains: ['shadow.trust.example'] },
  ],
  ruleGroups: [
    {
      name: 'late',
      id: 'frg-late',
      rules: [
        { name: 'late-block-both', priority: 10, domainList: 'bad', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
      ],
    },
    {
      name: 'early',
      id: 'frg-early',
      rules: [
        { name: 'block-bad', priority: 300, domainList: 'bad', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
        { name: 'allow-ok', priority: 100, domainList: 'allow', action: 'ALLOW' },
        { name: 'alert-watch', priority: 150, domainList: 'alert', action: 'ALERT' },
        { name: 'block-after-alert', priority: 160, domainList: 'alertblock', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
        { name: 'quiet', priority: 310, domainList: 'nodata', action: 'BLOCK', blockResponse: 'NODATA' },
        {
          name: 'override-old',
          priority: 320,
          domainList: 'override',
          action: 'BLOCK',
          blockResponse: 'OVERRIDE',
          blockOverrideDomain: 'new.example.com',
          blockOverrideTtl: 42,
          blockOverrideDnsType: 'CNAME',
        },
        { name: 'v6-block', priority: 330, domainList: 'v6', action: 'BLOCK', blockResponse: 'NODATA', qtype: 'AAAA' },
        { name: 'cdn-block', priority: 340, domainList: 'cdn', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
        { name: 'trust-alias', priority: 120, domainList: 'trustedalias', action: 'ALLOW', firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN' },
        { name: 'alert-trust', priority: 130, domainList: 'alerttrust', action: 'ALERT', firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN' },
        { name: 'shadow-trust', priority: 125, domainList: 'shadow', action: 'ALLOW', firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN' },
        { name: 'shadow-block', priority: 390, domainList: 'shadow', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
      ],
    },
  ],
  associations: [
    { ruleGroup: 'late', priority: 500 },
    { ruleGroup: 'early', priority: 100 },
  ],
};

const config = firewall(doc);

interface Row {
  what: string;
  name: string;
  qtype: string;
  chain?: string[];
  verdict: string;
  action?: string;
  rule?: string;
  group?: string;
  list?: string;
  blockedAt?: number;
  logged?: boolean;
  inspected?: number;
}

const rows: Row[] = [
  { what: 'no rule matches', name: 'plain.example.com', qtype: 'A', verdict: 'ANSWER', inspected: 1 },
  { what: 'ALLOW exact', name: 'ok.example.com', qtype: 'A', verdict: 'ANSWER', action: 'ALLOW', rule: 'allow-ok', list: 'fdl-allow', logged: false },
  { what: 'ALLOW wildcard', name: 'a.b.trusted.example', qtype: 'A', verdict: 'ANSWER', action: 'ALLOW', rule: 'allow-ok' },
  { what: 'BLOCK NXDOMAIN exact', name: 'bad.example.com', qtype: 'A', verdict: 'BLOCK', action: 'BLOCK', rule: 'block-bad', group: 'frg-early', list: 'fdl-bad', blockedAt: 0, logged: true },
  { what: 'BLOCK NODATA', name: 'quiet.example.com', qtype: 'TXT', verdict: 'BLOCK', rule: 'quiet', blockedAt: 0 },
  { what: 'BLOCK OVERRIDE', name: 'old.example.com', qtype: 'A', verdict: 'BLOCK', rule: 'override-old', list: 'fdl-ov' },
  { what: 'ALERT answers and is logged', name: 'watch.example.com', qtype: 'A', verdict: 'ANSWER', action: 'ALERT', rule: 'alert-watch', list: 'fdl-alert', logged: true },
  { what: 'ALERT stops evaluation (a later BLOCK on the same name does not apply)', name: 'watch-then-block.example.com', qtype: 'A', verdict: 'ANSWER', action: 'ALERT', rule: 'alert-watch' },
  { what: 'lower rule priority wins inside a group (ALLOW 100 before BLOCK 300)', name: 'both.example.com', qtype: 'A', verdict: 'ANSWER', action: 'ALLOW', rule: 'allow-ok' },
  { what: 'lower association priority wins across groups (early 100 before late 500)', name: 'x.bad.example', qtype: 'A', verdict: 'BLOCK', rule: 'block-bad', group: 'frg-early' },
  { what: 'qtype filter matches its type', name: 'v6only.example.com', qtype: 'AAAA', verdict: 'BLOCK', rule: 'v6-block' },
  { what: 'qtype filter skips other types', name: 'v6only.example.com', qtype: 'A', verdict: 'ANSWER', action: undefined },
  { what: 'qtype given as TYPE28', name: 'v6only.example.com', qtype: 'TYPE28', verdict: 'BLOCK', rule: 'v6-block' },
  { what: 'wildcard does not match the apex by default', name: 'bad.example', qtype: 'A', verdict: 'ANSWER', action: undefined },
  { what: 'wildcard matches several labels', name: 'a.b.c.bad.example', qtype: 'A', verdict: 'BLOCK', rule: 'block-bad' },
  { what: 'case and trailing dot are ignored', name: 'BAD.Example.COM.', qtype: 'A', verdict: 'BLOCK', rule: 'block-bad' },
  { what: 'INSPECT: a blocked CNAME target blocks', name: 'plain.example.com', qtype: 'A', chain: ['edge.cdn.example'], verdict: 'BLOCK', rule: 'cdn-block', blockedAt: 1, inspected: 2 },
  { what: 'INSPECT: ALLOW on the first name does not cover the target', name: 'ok.example.com', qtype: 'A', chain: ['mid.example.com', 'edge.cdn.example'], verdict: 'BLOCK', rule: 'cdn-block', blockedAt: 2, inspected: 3 },
  { what: 'TRUST: ALLOW on the first name trusts the chain', name: 'alias.trust.example', qtype: 'A', chain: ['edge.cdn.example'], verdict: 'ANSWER', action: 'ALLOW', rule: 'trust-alias', inspected: 1 },
  { what: 'TRUST: ALERT on the first name trusts the chain and is logged', name: 'watch.trust.example', qtype: 'A', chain: ['bad.example.com'], verdict: 'ANSWER', action: 'ALERT', rule: 'alert-trust', logged: true, inspected: 1 },
  { what: 'TRUST rule on a mid-chain name: skipped there (AWS: TRUST inspects only the first domain), the next name is blocked', name: 'plain.example.com', qtype: 'A', chain: ['alias.trust.example', 'edge.cdn.example'], verdict: 'BLOCK', rule: 'cdn-block', blockedAt: 2, inspected: 3 },
  { what: 'TRUST rule on a mid-chain name does not shadow a later INSPECT rule on that name', name: 'plain.example.com', qtype: 'A', chain: ['shadow.trust.example', 'edge.cdn.example'], verdict: 'BLOCK', rule: 'shadow-block', blockedAt: 1, inspected: 2 },
  { what: 'the same TRUST rule on the query name decides and trusts the chain', name: 'shadow.trust.example', qtype: 'A', chain: ['edge.cdn.example'], verdict: 'ANSWER', action: 'ALLOW', rule: 'shadow-trust', inspected: 1 },
  { what: 'ALERT then BLOCK along the chain: BLOCK decides and is logged', name: 'watch.example.com', qtype: 'A', chain: ['edge.cdn.example'], verdict: 'BLOCK', rule: 'cdn-block', logged: true, blockedAt: 1 },
  { what: 'inspection stops at the first blocked name', name: 'bad.example.com', qtype: 'A', chain: ['edge.cdn.example'], verdict: 'BLOCK', rule: 'block-bad', blockedAt: 0, inspected: 1 },
];

describe('decideFirewall', () => {
  it.each(rows)('$what', (row) => {
    const d = decideFirewall(config, row.name, row.qtype, row.chain ?? []);
    expect(d.verdict).toBe(row.verdict);
    if ('action' in row) expect(d.action).toBe(row.action);
    if (row.verdict === 'BLOCK') expect(d.action).toBe('BLOCK');
    if (row.rule) expect(d.deciding?.ruleName).toBe(row.rule);
    if (row.group) expect(d.deciding?.ruleGroupId).toBe(row.group);
    if (row.list) expect(d.deciding?.domainListId).toBe(row.list);
    if (row.blockedAt !== undefined) expect(d.blockedAt).toBe(row.blockedAt);
    if (row.logged !== undefined) expect(d.logged !== undefined).toBe(row.logged);
    if (row.logged) expect(d.logged?.ruleName).toBe(row.rule);
    if (row.inspected !== undefined) expect(d.inspected).toHaveLength(row.inspected);
  });

  it('reports the block response and override of the deciding rule', () => {
    const d = decideFirewall(config, 'old.example.com', 'A');
    expect(d.deciding?.rule.blockResponse).toBe('OVERRIDE');
    expect(d.deciding?.rule.override).toEqual({ domain: 'new.example.com', ttl: 42, dnsType: 'CNAME' });
    expect(decideFirewall(config, 'bad.example.com', 'A').deciding?.rule.blockResponse).toBe('NXDOMAIN');
    expect(decideFirewall(config, 'quiet.example.com', 'A').deciding?.rule.blockResponse).toBe('NODATA');
  });

  // The other reading of TRUST_REDIRECTION_DOMAIN: the redirection action belongs to whichever
  // rule matched a name, anywhere in the chain, and trusts the names after it.
  describe('trustRedirectionScope: any-name', () => {
    const anyName: FirewallConfig = { ...config, settings: { ...config.settings, trustRedirectionScope: 'any-name' } };
    it.each([
      { what: 'TRUST rule matching mid-chain trusts the rest', chain: ['alias.trust.example', 'edge.cdn.example'], verdict: 'ANSWER', rule: 'trust-alias', inspected: 2 },
      { what: 'ALERT TRUST rule mid-chain is logged', chain: ['watch.trust.example', 'bad.example.com'], verdict: 'ANSWER', rule: 'alert-trust', inspected: 2 },
      { what: 'TRUST rule mid-chain wins over the later BLOCK on the same name', chain: ['shadow.trust.example', 'edge.cdn.example'], verdict: 'ANSWER', rule: 'shadow-trust', inspected: 2 },
      { what: 'no TRUST rule in the chain: as INSPECT', chain: ['edge.cdn.example'], verdict: 'BLOCK', rule: 'cdn-block', inspected: 2 },
    ])('$what', ({ chain, verdict, rule, inspected }) => {
      const d = decideFirewall(anyName, 'plain.example.com', 'A', chain);
      expect(d.verdict).toBe(verdict);
      expect(d.deciding?.ruleName).toBe(rule);
      expect(d.inspected).toHaveLength(inspected);
    });

    it('both readings agree on the first name', () => {
      for (const cfg of [config, anyName]) {
        const d = decideFirewall(cfg, 'alias.trust.example', 'A', ['bad.example.com']);
        expect([d.verdict, d.deciding?.ruleName, d.inspected.length]).toEqual(['ANSWER', 'trust-alias', 1]);
      }
    });
  });

  it('wildcardMatchesApex makes *.bad.example match bad.example', () => {
    const apex = { ...config, settings: { ...config.settings, wildcardMatchesApex: true } };
    expect(decideFirewall(apex, 'bad.example', 'A').verdict).toBe('BLOCK');
    expect(decideFirewall(config, 'bad.example', 'A').verdict).toBe('ANSWER');
  });

  it.each([
    { failOpen: 'ENABLED', verdict: 'ANSWER', bypassed: true },
    { failOpen: 'DISABLED', verdict: 'SERVFAIL', bypassed: false },
    { failOpen: 'USE_LOCAL_RESOURCE_SETTING', verdict: 'SERVFAIL', bypassed: false },
  ] as const)('firewall unavailable with FirewallFailOpen=$failOpen -> $verdict', ({ failOpen, verdict, bypassed }) => {
    const down: FirewallConfig = { ...config, settings: { ...config.settings, firewallAvailable: false, failOpen } };
    const d = decideFirewall(down, 'bad.example.com', 'A');
    expect(d.verdict).toBe(verdict);
    expect(d.bypassed).toBe(bypassed);
    expect(d.matches).toHaveLength(0);
  });

  it('a lone "*" catches every name after the allow list (walled garden)', () => {
    const walled = firewall({
      domainLists: [
        { name: 'allowed', domains: ['*.corp.example'] },
        { name: 'everything', domains: ['*'] },
      ],
      ruleGroups: [
        {
          name: 'walled',
          rules: [
            { name: 'allow-corp', priority: 1, domainList: 'allowed', action: 'ALLOW' },
            { name: 'block-rest', priority: 2, domainList: 'everything', action: 'BLOCK', blockResponse: 'NXDOMAIN' },
          ],
        },
      ],
      associations: [{ ruleGroup: 'walled', priority: 100 }],
    });
    expect(decideFirewall(walled, 'git.corp.example', 'A').verdict).toBe('ANSWER');
    expect(decideFirewall(walled, 'example.org', 'A').verdict).toBe('BLOCK');
    // INSPECT (default): the CNAME target outside the allow list is blocked.
    expect(decideFirewall(walled, 'git.corp.example', 'A', ['saas.example.net']).blockedAt).toBe(1);
  });
});

// Differential test: the engine against a deliberately naive reading of the same rules.
describe('decideFirewall against a naive reference', () => {
  const labels = ['a', 'b', 'c'];
  const nameArb = fc.array(fc.constantFrom(...labels), { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
  const entryArb = fc.oneof(
    nameArb,
    nameArb.map((n) => `*.${n}`),
    fc.constant('*'),
  );
  const ruleArb = fc.record({
    entries: fc.array(entryArb, { minLength: 1, maxLength: 3 }),
    action: fc.constantFrom('ALLOW', 'ALERT', 'BLOCK'),
    qtype: fc.option(fc.constantFrom('A', 'AAAA'), { nil: undefined }),
    trust: fc.boolean(),
  });
  const groupArb = fc.array(ruleArb, { minLength: 1, maxLength: 4 });
  const inputArb = fc.record({
    groups: fc.array(groupArb, { minLength: 1, maxLength: 3 }),
    groupPriorities: fc.uniqueArray(fc.integer({ min: 100, max: 9900 }), { minLength: 3, maxLength: 3 }),
    rulePriorities: fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 4, maxLength: 4 }),
    names: fc.array(nameArb, { minLength: 1, maxLength: 4 }),
    qtype: fc.constantFrom('A', 'AAAA'),
    apex: fc.boolean(),
    scope: fc.constantFrom('first-name', 'any-name'),
  });

  function naiveMatch(entry: string, name: string, apex: boolean): boolean {
    if (entry === '*') return true;
    if (entry.startsWith('*.')) {
      const s = entry.slice(2);
      return name.endsWith(`.${s}`) || (apex && name === s);
    }
    return entry === name;
  }

  type Flat = { entries: string[]; action: string; qtype: string | undefined; trust: boolean; name: string };
  type Expected = { verdict: string; rule?: string; at?: number; action?: string };

  /** Scans the chain; `scope` says where a TRUST rule may match (first-name: the query name only). */
  function naiveDecide(flat: readonly Flat[], names: readonly string[], qtype: string, apex: boolean, scope: string): Expected {
    let expected: Expected = { verdict: 'ANSWER' };
    for (const [at, n] of names.entries()) {
      const hit = flat.find(
        (r) =>
          (scope === 'any-name' || at === 0 || !r.trust) &&
          (r.qtype === undefined || r.qtype === qtype) &&
          r.entries.some((e) => naiveMatch(e, n, apex)),
      );
      if (!hit) continue;
      if (hit.action === 'BLOCK') return { verdict: 'BLOCK', rule: hit.name, at };
      // Reported: the first ALERT of the chain, else the first match.
      if (expected.rule === undefined || (hit.action === 'ALERT' && expected.action !== 'ALERT')) {
        expected = { verdict: 'ANSWER', rule: hit.name, action: hit.action };
      }
      if (hit.trust) break;
    }
    return expected;
  }

  // Inputs where the two readings of TRUST decide differently: the reference must see them.
  let readingsDiffered = 0;

  it('agrees on verdict, deciding rule and blocked index', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const domainLists: unknown[] = [];
        const ruleGroups = input.groups.map((rules, g) => ({
          name: `g${g}`,
          rules: rules.map((r, i) => {
            domainLists.push({ name: `l${g}-${i}`, domains: r.entries });
            return {
              name: `r${g}-${i}`,
              priority: input.rulePriorities[i]!,
              domainList: `l${g}-${i}`,
              action: r.action,
              ...(r.action === 'BLOCK' ? { blockResponse: 'NXDOMAIN' } : {}),
              ...(r.qtype ? { qtype: r.qtype } : {}),
              firewallDomainRedirectionAction: r.trust ? 'TRUST_REDIRECTION_DOMAIN' : 'INSPECT_REDIRECTION_DOMAIN',
            };
          }),
        }));
        const cfg = firewall({
          settings: { wildcardMatchesApex: input.apex, trustRedirectionScope: input.scope },
          domainLists,
          ruleGroups,
          associations: ruleGroups.map((g, i) => ({ ruleGroup: g.name, priority: input.groupPriorities[i]! })),
        });
        // Naive: flatten (association priority, rule priority), scan names in order.
        const flat = input.groups
          .flatMap((rules, g) =>
            rules.map((r, i) => ({ ...r, name: `r${g}-${i}`, gp: input.groupPriorities[g]!, rp: input.rulePriorities[i]! })),
          )
          .sort((x, y) => x.gp - y.gp || x.rp - y.rp);
        const expected = naiveDecide(flat, input.names, input.qtype, input.apex, input.scope);
        const other = naiveDecide(flat, input.names, input.qtype, input.apex, input.scope === 'any-name' ? 'first-name' : 'any-name');
        if (JSON.stringify(other) !== JSON.stringify(expected)) readingsDiffered++;
        const [first, ...chain] = input.names;
        const d = decideFirewall(cfg, first!, input.qtype, chain);
        expect(d.verdict).toBe(expected.verdict);
        if (expected.verdict === 'BLOCK') {
          expect(d.deciding?.ruleName).toBe(expected.rule);
          expect(d.blockedAt).toBe(expected.at);
        } else {
          expect(d.action).toBe(expected.action);
          expect(d.deciding?.ruleName).toBe(expected.rule);
        }
      }),
      { numRuns: 1000 },
    );
    // About 2% of inputs separate the readings (a TRUST rule matching a CNAME target); with 1000
    // runs none at all would mean the generator lost that power.
    expect(readingsDiffered).toBeGreaterThan(0);
  });
});
