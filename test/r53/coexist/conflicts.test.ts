// Every conflict kind, each next to its near miss (same setup minus the one thing that makes it a conflict).
import { describe, expect, it } from 'vitest';
import type { Conflict, ConflictKind, CoexistReport } from '../../../src/r53/coexist/index.js';
import { analyze, testState } from './fixture.js';

function kinds(report: CoexistReport, kind: ConflictKind): Conflict[] {
  return report.conflicts.filter((c) => c.kind === kind);
}

const base = analyze();

describe('dead rules: a name the policy allows and the firewall always blocks', () => {
  it.each([
    ['nx.example.com', 'g/block-nx (list nx: nx.example.com)', 'A NXDOMAIN, AAAA NXDOMAIN'],
    ['nodata.example.com', 'g/block-nodata (list nodata: nodata.example.com)', 'A NOERROR-NODATA, AAAA NOERROR-NODATA'],
    ['chain.example.com', 'g/block-nodata (list nodata: bad.example.net)', 'A NOERROR-NODATA, AAAA NOERROR-NODATA'],
  ])('%s', (name, fw, answers) => {
    const found = kinds(base, 'dead-rule').filter((c) => c.name === name && c.subjects.includes('app/web'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ firewall: fw, subjects: ['app/web'], policy: `ApplicationNetworkPolicy/app/web rule 0 pattern ${name}` });
    expect(found[0]!.detail).toContain(answers);
  });

  it.each([
    ['blocked for AAAA only', 'mail.example.com'],
    ['rewritten, not blocked', 'legacy.example.com'],
    ['answered', 'ok.example.com'],
    ['that does not exist in the zones', 'gone.example.com'],
  ])('not for a name %s (%s)', (_label, name) => {
    expect(kinds(base, 'dead-rule').filter((c) => c.name === name)).toEqual([]);
  });

  it('each policy naming the blocked name gets its own entry; an IPv4-only pod is judged on A alone', () => {
    const nx = kinds(base, 'dead-rule').filter((c) => c.name === 'nx.example.com');
    expect(nx.map((c) => [c.subjects, c.policy])).toEqual([
      [['app/v4'], 'ApplicationNetworkPolicy/app/v4 rule 0 pattern nx.example.com'],
      [['app/web'], 'ApplicationNetworkPolicy/app/web rule 0 pattern nx.example.com'],
    ]);
    expect(nx[0]!.detail).toContain('answers A NXDOMAIN:');
    expect(nx[1]!.detail).toContain('answers A NXDOMAIN, AAAA NXDOMAIN:');
  });

  it('not when the policy would deny the name anyway (Admin deny on its address)', () => {
    const r = analyze({ names: ['denied.example.com'], fw: { lists: [{ name: 'd', domains: ['denied.example.com'] }], rules: [{ name: 'block-d', priority: 1, domainList: 'd', action: 'BLOCK', blockResponse: 'NXDOMAIN' }] } });
    expect(r.rows.find((x) => x.subject === 'app/web')!.results[0]!.outcome.kind).toBe('blocked-by-firewall');
    expect(kinds(r, 'dead-rule')).toEqual([]);
  });

  it('a wildcard pattern is dead when its probe is blocked and no firewall entry below lets names through', () => {
    const block = { name: 'block-wild', priority: 1, domainList: 'w', action: 'BLOCK', blockResponse: 'NXDOMAIN' };
    const dead = analyze({ names: ['*.wild.example.com'], fw: { lists: [{ name: 'w', domains: ['*.wild.example.com'] }], rules: [block] } });
    expect(kinds(dead, 'dead-rule')).toMatchObject([{ name: 'dnsgate-probe.wild.example.com', policy: 'ApplicationNetworkPolicy/app/web rule 0 pattern *.wild.example.com' }]);
    const excepted = analyze({
      names: ['*.wild.example.com'],
      fw: {
        lists: [{ name: 'w', domains: ['*.wild.example.com'] }, { name: 'keep', domains: ['api.wild.example.com'] }],
        rules: [{ name: 'keep', priority: 0, domainList: 'keep', action: 'ALLOW' }, block],
      },
    });
    expect(kinds(excepted, 'dead-rule')).toEqual([]);
  });

  it('a wildcard is not dead because one name below it is blocked', () => {
    const r = analyze({ names: ['x.wild.example.com'], fw: { lists: [{ name: 'x', domains: ['x.wild.example.com'] }], rules: [{ name: 'bx', priority: 1, domainList: 'x', action: 'BLOCK' }] } });
    expect(r.rows.find((x) => x.subject === 'app/web')!.outcome).toBe('blocked-by-firewall');
    expect(kinds(r, 'dead-rule')).toEqual([]);
  });
});

describe('OVERRIDE targets nobody may reach', () => {
  it('reached by a pod (learned under the query name, or by CIDR): no conflict', () => {
    expect(kinds(base, 'override-unreachable')).toEqual([]);
  });

  it('no analysed pod reaches the target: conflict naming the rule, the target and the names', () => {
    // Without the CIDR policy and web's pattern, and in strict mode, nobody reaches 198.51.100.7.
    const full = testState();
    const state = {
      ...full,
      networkPolicies: full.networkPolicies.filter((p) => p.metadata.name !== 'cidr'),
      applicationNetworkPolicies: full.applicationNetworkPolicies.filter((p) => p.metadata.name !== 'web'),
    };
    const r = analyze({ state, mode: 'strict', names: ['legacy.example.com'] });
    expect(r.rows.map((x) => x.outcome)).toEqual(['override-denied', 'override-denied', 'override-denied']);
    expect(kinds(r, 'override-unreachable')).toMatchObject([
      { name: 'target.example.net', firewall: 'g/rewrite (list legacy: legacy.example.com)', subjects: ['app/cidr', 'app/v4', 'app/web'] },
    ]);
    expect(kinds(r, 'override-unreachable')[0]!.detail).toContain('(for legacy.example.com)');
  });
});

describe('wildcard semantics', () => {
  const wildRule = { name: 'block-wild', priority: 1, domainList: 'w', action: 'BLOCK', blockResponse: 'NODATA' };
  const lists = [{ name: 'w', domains: ['*.wild.example.com'] }];

  it('the apex: a conflict when the firewall\'s *.x matches x (wildcardMatchesApex: true)', () => {
    const r = analyze({ names: ['wild.example.com'], fw: { settings: { wildcardMatchesApex: true }, lists, rules: [wildRule] } });
    expect(kinds(r, 'wildcard-apex')).toMatchObject([
      { name: 'wild.example.com', subjects: ['app/web'], policy: 'ApplicationNetworkPolicy/app/web rule 0 pattern *.wild.example.com', firewall: 'extra/block-wild (list w: *.wild.example.com)' },
    ]);
    // The apex row shows it: the firewall blocks wild.example.com, which the policy never opened.
    const apex = r.rows.find((x) => x.subject === 'app/web' && x.name === 'wild.example.com')!;
    expect(apex.patterns).toEqual([]);
    expect(apex.results[0]!.firewall.rule).toBe('block-wild');
  });

  it('the apex with wildcardMatchesApex: false: no conflict, a note that it rests on the setting', () => {
    const r = analyze({ names: ['wild.example.com'], fw: { lists, rules: [wildRule] } });
    expect(kinds(r, 'wildcard-apex')).toEqual([]);
    expect(r.notes.join('\n')).toContain('agree on the apex wild.example.com only because wildcardMatchesApex is false');
    expect(r.rows.find((x) => x.name === 'wild.example.com')!.results[0]!.firewall.rule).toBeNull();
  });

  it('the firewall catch-all "*" and a top-level wildcard have no policy equivalent', () => {
    const r = analyze({
      names: ['ok.example.com'],
      fw: { lists: [{ name: 'all', domains: ['*'] }, { name: 'tld', domains: ['*.com'] }], rules: [{ name: 'tld', priority: 1, domainList: 'tld', action: 'ALERT' }, { name: 'all', priority: 2, domainList: 'all', action: 'ALERT' }] },
    });
    const found = kinds(r, 'wildcard-semantics');
    expect(found.some((c) => c.firewall === 'extra/all (list all: *)' && c.detail.includes('matches every name'))).toBe(true);
    expect(found.some((c) => c.firewall === 'extra/tld (list tld: *.com)' && c.policy?.endsWith('pattern *.wild.example.com'))).toBe(true);
    // A firewall wildcard of two labels or more is expressible: no such conflict for it.
    expect(kinds(analyze({ names: ['ok.example.com'], fw: { lists, rules: [wildRule] } }), 'wildcard-semantics')).toEqual([]);
  });
});

describe('qtype-filtered rules', () => {
  it('a rule that blocks AAAA but not A', () => {
    expect(kinds(base, 'qtype-split')).toMatchObject([{ name: 'mail.example.com', firewall: 'g/mail-v4 (list mail: mail.example.com)', subjects: ['app/web'] }]);
    expect(kinds(base, 'qtype-split')[0]!.detail).toContain('AAAA blocked (NOERROR-NODATA), A answered');
  });

  it('a rule without Qtype that blocks both is no split', () => {
    expect(kinds(base, 'qtype-split').filter((c) => c.name === 'nx.example.com')).toEqual([]);
  });
});

describe('redirection on CNAME chains', () => {
  it('TRUST lets a chain target through that INSPECT would block', () => {
    const r = analyze({ names: ['trusted.example.com'], fw: { lists: [{ name: 'h', domains: ['hidden.example.net'] }], rules: [{ name: 'block-hidden', priority: 1, domainList: 'h', action: 'BLOCK' }] } });
    expect(r.rows.find((x) => x.subject === 'app/web')!.outcome).toBe('reachable');
    expect(kinds(r, 'redirection-chain')).toMatchObject([{ name: 'trusted.example.com', firewall: 'g/trust (TRUST_REDIRECTION_DOMAIN)', subjects: ['app/web'] }]);
    expect(kinds(r, 'redirection-chain')[0]!.detail).toContain('extra/block-hidden would block it');
  });

  it('TRUST with nothing to hide: no conflict', () => {
    expect(kinds(analyze({ names: ['trusted.example.com'] }), 'redirection-chain')).toEqual([]);
  });

  it('INSPECT blocks a name its own rule allows, because of its CNAME target', () => {
    const found = kinds(base, 'redirection-chain').filter((c) => c.name === 'inspected.example.com');
    expect(found).toHaveLength(1);
    expect(found[0]!.detail).toContain('inspected.example.com itself passes (g/inspect ALLOW, INSPECT_REDIRECTION_DOMAIN) but its CNAME target bad.example.net is blocked');
    expect(base.rows.find((x) => x.subject === 'app/web' && x.name === 'inspected.example.com')!.outcome).toBe('blocked-by-firewall');
  });

  it('a chain blocked with no rule on the query name: TRUST would change nothing, no conflict', () => {
    expect(kinds(base, 'redirection-chain').filter((c) => c.name === 'chain.example.com')).toEqual([]);
  });
});

describe('report-level', () => {
  it('pods with the same egress policies and families are one subject', () => {
    const r = analyze({ names: ['ok.example.com'] });
    expect(r.subjects.map((s) => s.id)).toEqual(['app/cidr', 'app/open', 'app/v4', 'app/web']);
    expect(r.subjects.find((s) => s.id === 'app/web')).toMatchObject({ families: [4, 6], policies: ['ClusterNetworkPolicy/deny-range', 'ApplicationNetworkPolicy/app/web'], ports: ['TCP/443'] });
    const full = testState();
    const same = analyze({ state: { ...full, networkPolicies: [] }, names: ['ok.example.com'] });
    expect(same.subjects.find((s) => s.id === 'app/cidr')?.pods).toEqual(['app/cidr', 'app/open']);
  });
});
