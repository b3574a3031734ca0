// Every outcome kind of `dnsgate coexist`, table-driven over one cluster/firewall/zone fixture, and
// what the proxy would learn for OVERRIDE answers (SEMANTICS.md section 5).
import { describe, expect, it } from 'vitest';
import type { OutcomeKind, PodRcode } from '../../../src/r53/coexist/index.js';
import { ADMIN_DENY, analyze, row, testState } from './fixture.js';

const report = analyze();

describe('outcome per (pod, name, type)', () => {
  it.each<[string, string, OutcomeKind, PodRcode, OutcomeKind, PodRcode | null]>([
    // pod, name, A outcome, A rcode, AAAA outcome, AAAA rcode
    ['app/web', 'ok.example.com', 'reachable', 'NOERROR', 'reachable', 'NOERROR'],
    ['app/web', 'alert.example.com', 'alert-only', 'NOERROR', 'no-address', 'NOERROR-NODATA'],
    ['app/web', 'nx.example.com', 'blocked-by-firewall', 'NXDOMAIN', 'blocked-by-firewall', 'NXDOMAIN'],
    ['app/web', 'nodata.example.com', 'blocked-by-firewall', 'NOERROR-NODATA', 'blocked-by-firewall', 'NOERROR-NODATA'],
    ['app/web', 'chain.example.com', 'blocked-by-firewall', 'NOERROR-NODATA', 'blocked-by-firewall', 'NOERROR-NODATA'],
    ['app/web', 'legacy.example.com', 'override-allowed', 'NOERROR', 'override-denied', 'NOERROR-NODATA'],
    ['app/web', 'gone.example.com', 'no-address', 'NXDOMAIN', 'no-address', 'NXDOMAIN'],
    ['app/web', 'v6less.example.com', 'reachable', 'NOERROR', 'no-address', 'NOERROR-NODATA'],
    ['app/web', 'denied.example.com', 'blocked-by-policy', 'NOERROR', 'no-address', 'NOERROR-NODATA'],
    ['app/web', 'mail.example.com', 'reachable', 'NOERROR', 'blocked-by-firewall', 'NOERROR-NODATA'],
    ['app/web', 'dnsgate-probe.wild.example.com', 'reachable', 'NOERROR', 'no-address', 'NOERROR-NODATA'],
    ['app/web', 'target.example.net', 'blocked-by-policy', 'NOERROR', 'no-address', 'NOERROR-NODATA'],
    ['app/v4', 'ok.example.com', 'reachable', 'NOERROR', 'no-family', 'NOERROR'],
    ['app/v4', 'legacy.example.com', 'override-denied', 'NOERROR', 'no-family', 'NOERROR-NODATA'],
    ['app/v4', 'target.example.net', 'reachable', 'NOERROR', 'no-family', 'NOERROR-NODATA'],
    ['app/cidr', 'legacy.example.com', 'override-allowed', 'NOERROR', 'no-family', 'NOERROR-NODATA'],
    ['app/cidr', 'ok.example.com', 'blocked-by-policy', 'NOERROR', 'no-family', 'NOERROR'],
    ['app/open', 'ok.example.com', 'reachable', 'NOERROR', 'no-family', 'NOERROR'],
    ['app/open', 'denied.example.com', 'blocked-by-policy', 'NOERROR', 'no-family', 'NOERROR-NODATA'],
  ])('%s %s: A %s (%s), AAAA %s', (subject, name, aKind, aRcode, aaaaKind, aaaaRcode) => {
    const r = row(report, subject, name);
    const [a, aaaa] = r.results;
    expect(a!.qtype).toBe('A');
    expect(a!.outcome.kind).toBe(aKind);
    expect(a!.outcome.rcode).toBe(aRcode);
    expect(aaaa!.outcome.kind).toBe(aaaaKind);
    expect(aaaa!.dns.rcode).toBe(aaaaRcode);
    expect(r.outcome).toBe(aKind);
  });

  it('reports the deciding firewall rule and where in the chain it matched', () => {
    const chain = row(report, 'app/web', 'chain.example.com').results[0]!.firewall;
    expect(chain).toMatchObject({ verdict: 'BLOCK', blockResponse: 'NODATA', ruleGroup: 'g', rule: 'block-nodata', domainList: 'nodata', entry: 'bad.example.net', matchedName: 'bad.example.net', chainIndex: 1 });
    expect(chain.inspected).toEqual(['chain.example.com', 'bad.example.net']);
    const alert = row(report, 'app/web', 'alert.example.com').results[0]!.firewall;
    expect(alert).toMatchObject({ verdict: 'ANSWER', action: 'ALERT', rule: 'alert', blockResponse: null });
    const none = row(report, 'app/web', 'v6less.example.com').results[0]!.firewall;
    expect(none).toMatchObject({ verdict: 'ANSWER', action: null, rule: null });
  });

  it('policy verdict: ports and whether the allow comes from the learned addresses', () => {
    const ok = row(report, 'app/web', 'ok.example.com').results[0]!;
    expect(ok.policy).toMatchObject({ verdict: 'Allow', allowedPorts: ['TCP/443'], byLearning: true, addresses: ['192.0.2.1'], addressesKnown: true });
    const cidr = row(report, 'app/cidr', 'legacy.example.com').results[0]!;
    expect(cidr.policy).toMatchObject({ verdict: 'Allow', byLearning: false, policy: 'NetworkPolicy/app/cidr' });
    const open = row(report, 'app/open', 'ok.example.com').results[0]!;
    expect(open.policy).toMatchObject({ verdict: 'Allow', tier: 'Default', byLearning: false });
    const denied = row(report, 'app/web', 'denied.example.com').results[0]!;
    expect(denied.policy).toMatchObject({ verdict: 'Deny', tier: 'Admin', policy: 'ClusterNetworkPolicy/deny-range' });
    // The intended verdict looks at the zones' own answer: the firewall's block does not change it.
    expect(row(report, 'app/web', 'nx.example.com').results[0]!.intended).toMatchObject({ verdict: 'Allow', addresses: ['192.0.2.3'] });
  });
});

describe('what the proxy learns', () => {
  it('OVERRIDE: the target addresses, under the query name, with the lowest TTL of the chain', () => {
    const r = row(report, 'app/web', 'legacy.example.com');
    const a = r.results[0]!;
    expect(a.dns.answers.map((x) => `${x.name} ${x.type} ${x.ttl} ${x.data}`)).toEqual([
      'legacy.example.com CNAME 30 target.example.net',
      'target.example.net A 300 198.51.100.7',
    ]);
    // 192.0.2.6, the name's own address, is never in the answer and never learned.
    expect(a.learned).toEqual([{ name: 'legacy.example.com', ip: '198.51.100.7', ttl: 30, learnedForSeconds: 60, patterns: ['legacy.example.com'] }]);
    expect(r.notes.join('\n')).toContain('under legacy.example.com (the query name)');
  });

  it('a pattern matching only the OVERRIDE target learns nothing, and the note says why', () => {
    const r = row(report, 'app/v4', 'legacy.example.com');
    expect(r.patterns).toEqual([]);
    expect(r.results[0]!.learned).toEqual([]);
    expect(r.notes.join('\n')).toContain('*.example.net matches the target target.example.net, but the proxy matches patterns against the query name only');
    // Asking for the target directly does learn under the target's own name.
    expect(row(report, 'app/v4', 'target.example.net').results[0]!.learned.map((l) => l.name)).toEqual(['target.example.net']);
  });

  it('blocked answers learn nothing; CNAME chains learn under the query name', () => {
    expect(row(report, 'app/web', 'nx.example.com').results.flatMap((r) => r.learned)).toEqual([]);
    expect(row(report, 'app/web', 'chain.example.com').results.flatMap((r) => r.learned)).toEqual([]);
    const trusted = row(report, 'app/web', 'trusted.example.com').results[0]!;
    expect(trusted.learned).toMatchObject([{ name: 'trusted.example.com', ip: '192.0.2.12' }]);
  });

  it('no learning for a pod without a matching pattern, even when the policy allows by other means', () => {
    expect(row(report, 'app/open', 'ok.example.com').results[0]!.learned).toEqual([]);
  });
});

describe('firewall availability and mode', () => {
  it('fail-closed: every name SERVFAIL, blocked by the firewall', () => {
    const r = analyze({ fw: { settings: { firewallAvailable: false } } });
    for (const x of r.rows) {
      for (const t of x.results) {
        expect(t.dns.rcode).toBe('SERVFAIL');
        if (t.outcome.kind !== 'no-family') expect(t.outcome).toMatchObject({ kind: 'blocked-by-firewall', rcode: 'SERVFAIL' });
      }
    }
    expect(r.firewall.available).toBe(false);
  });

  it('fail-open: answers uninspected, so a blocked name becomes reachable', () => {
    const r = analyze({ fw: { settings: { firewallAvailable: false, failOpen: 'ENABLED' } } });
    const nx = row(r, 'app/web', 'nx.example.com').results[0]!;
    expect(nx.firewall.bypassed).toBe(true);
    expect(nx.outcome.kind).toBe('reachable');
  });

  it('strict mode denies pods no policy selects', () => {
    expect(row(analyze({ mode: 'strict' }), 'app/open', 'ok.example.com').outcome).toBe('blocked-by-policy');
  });
});

describe('without zones', () => {
  const noZones = analyze({ names: ['ok.example.com', 'nx.example.com', 'legacy.example.com'], zones: undefined });

  it('answers the firewall lets through are unknown: placeholder addresses, learning of "?"', () => {
    const ok = row(noZones, 'app/web', 'ok.example.com').results[0]!;
    expect(ok.dns.known).toBe(false);
    expect(ok.policy).toMatchObject({ addressesKnown: false, addresses: ['240.0.0.1'], verdict: 'Allow' });
    expect(ok.learned).toEqual([{ name: 'ok.example.com', ip: '?', ttl: null, learnedForSeconds: null, patterns: ['ok.example.com'] }]);
    expect(ok.outcome.kind).toBe('reachable');
    expect(noZones.notes.join('\n')).toContain('no --zones');
  });

  it('blocks are known without zones; OVERRIDE targets are not', () => {
    expect(row(noZones, 'app/web', 'nx.example.com').results[0]!.dns).toMatchObject({ known: true, rcode: 'NXDOMAIN' });
    const legacy = row(noZones, 'app/web', 'legacy.example.com').results[0]!;
    expect(legacy.dns.known).toBe(false);
    expect(legacy.outcome.kind).toBe('override-allowed');
  });

  it('a catch-all deny CIDR still covers the placeholder', () => {
    const denyAll = ADMIN_DENY.replace('203.0.113.0/24', '0.0.0.0/0').replace('deny-range', 'deny-all');
    const x = analyze({ state: testState([denyAll]), names: ['ok.example.com'], zones: undefined });
    expect(row(x, 'app/web', 'ok.example.com').outcome).toBe('blocked-by-policy');
  });
});
