// The default name set (policy patterns, firewall entries, wildcard probes), names files, and the
// table cells for split, single-family and unavailable-firewall rows.
import { describe, expect, it } from 'vitest';
import { Evaluator } from '../../../src/policy/evaluate.js';
import { CoexistInputError, defaultNames, parseNamesFile, renderTable, userNames } from '../../../src/r53/coexist/index.js';
import { analyze, testFirewall, testState } from './fixture.js';

describe('names', () => {
  const evaluator = new Evaluator(testState());
  const names = defaultNames(evaluator.model, testFirewall({ lists: [{ name: 'all', domains: ['*', '*.wild.example.com', 'OK.example.com.'] }], rules: [{ name: 'all', priority: 1, domainList: 'all', action: 'ALERT' }] }));

  it('every policy pattern and firewall entry once, wildcards through a probe name, "*" left out', () => {
    const byName = new Map(names.map((n) => [n.name, n]));
    expect(byName.get('dnsgate-probe.wild.example.com')).toMatchObject({ probeFor: '*.wild.example.com' });
    expect(byName.get('dnsgate-probe.wild.example.com')!.sources.map((s) => s.kind).sort()).toEqual(['firewall', 'policy']);
    expect(byName.get('dnsgate-probe.example.net')).toMatchObject({ probeFor: '*.example.net', sources: [{ kind: 'policy', policy: 'ApplicationNetworkPolicy/app/v4', pattern: '*.example.net' }] });
    // Firewall entries are canonicalised: "OK.example.com." is ok.example.com.
    expect(byName.get('ok.example.com')!.sources).toContainEqual({ kind: 'firewall', ruleGroup: 'extra', rule: 'all', domainList: 'all', entry: 'OK.example.com.' });
    expect(byName.get('bad.example.net')!.sources).toEqual([{ kind: 'firewall', ruleGroup: 'g', rule: 'block-nodata', domainList: 'nodata', entry: 'bad.example.net' }]);
    expect(names.some((n) => n.name === '*' || n.name === '')).toBe(false);
    expect(names.map((n) => n.name)).toEqual([...names.map((n) => n.name)].sort());
  });

  it('a glued wildcard ("*glued.example.com") is analysed through its rest, which matches under either reading; one whose rest is no name is left out', () => {
    const glued = defaultNames(
      evaluator.model,
      testFirewall({ lists: [{ name: 'g', domains: ['*glued.example.com', '*-cdn.example.com'] }], rules: [{ name: 'g', priority: 1, domainList: 'g', action: 'ALERT' }] }),
    );
    const entry = glued.find((n) => n.name === 'glued.example.com');
    expect(entry).toMatchObject({ probeFor: null, sources: [{ kind: 'firewall', rule: 'g', entry: '*glued.example.com' }] });
    expect(glued.some((n) => n.name.includes('-cdn'))).toBe(false);
  });

  it.each([
    ['a..example.com', 'label "" is not a valid DNS label'],
    ['-a.example.com', 'not a valid DNS label'],
    ['*.com', 'two labels'],
    ['*x.example.com', 'label "*x" is not a valid DNS label'],
  ])('rejects %s', (name, reason) => {
    expect(() => userNames([name], '--name')).toThrow(CoexistInputError);
    expect(() => userNames([name], '--name')).toThrow(reason);
  });

  it('a names file: comments and blank lines ignored, duplicates merged', () => {
    const lines = parseNamesFile('# header\n\nA.Example.com.  # trailing comment\na.example.com\n*.x.example.com\n');
    expect(lines).toEqual(['A.Example.com.', 'a.example.com', '*.x.example.com']);
    expect(userNames(lines, 'f').map((n) => [n.name, n.probeFor, n.sources.length])).toEqual([
      ['a.example.com', null, 2],
      ['dnsgate-probe.x.example.com', '*.x.example.com', 1],
    ]);
  });
});

describe('table', () => {
  const lineOf = (table: string, subject: string, name: string): string => table.split('\n').find((l) => l.startsWith(subject) && l.includes(` ${name} `)) ?? '';

  it('A and AAAA shown apart only when they differ; single-family subjects show their family', () => {
    const table = renderTable(analyze({ names: ['mail.example.com', 'ok.example.com'] }));
    expect(lineOf(table, 'app/web', 'mail.example.com')).toMatch(/A: - \(no rule\) \| AAAA: BLOCK NODATA g\/mail-v4\s+A: reachable \| AAAA: blocked-by-firewall NOERROR-NODATA$/);
    expect(lineOf(table, 'app/web', 'ok.example.com')).toMatch(/allow TCP\/443 by ok\.example\.com\s+ALLOW g\/allow-ok\s+reachable$/);
    expect(lineOf(table, 'app/v4', 'ok.example.com')).toMatch(/ALLOW g\/allow-ok\s+reachable$/);
  });

  it('the firewall down: fail-closed and fail-open cells, and no dead rules from an outage', () => {
    const closed = analyze({ names: ['nx.example.com'], fw: { settings: { firewallAvailable: false } } });
    expect(lineOf(renderTable(closed), 'app/web', 'nx.example.com')).toMatch(/UNAVAILABLE \(fail-closed\)\s+blocked-by-firewall SERVFAIL$/);
    expect(closed.conflicts.filter((c) => c.kind === 'dead-rule')).toEqual([]);
    const open = analyze({ names: ['nx.example.com'], fw: { settings: { firewallAvailable: false, failOpen: 'ENABLED' } } });
    // nx.example.com has no AAAA record in the zones: uninspected, the AAAA answer is a plain NODATA.
    expect(lineOf(renderTable(open), 'app/web', 'nx.example.com')).toMatch(/UNAVAILABLE \(fail-open, uninspected\)\s+A: reachable \| AAAA: no-address NOERROR-NODATA$/);
    expect(lineOf(renderTable(open), 'app/v4', 'nx.example.com')).toMatch(/UNAVAILABLE \(fail-open, uninspected\)\s+reachable$/);
  });

  it('rewrites list what is learned, under which name, for how long', () => {
    const table = renderTable(analyze({ names: ['legacy.example.com'] }));
    expect(table).toContain('app/web legacy.example.com: rewritten to target.example.net by g/rewrite');
    expect(table).toContain('  learns: 198.51.100.7 (chain ttl 30s, open 60s) under legacy.example.com');
    expect(table).toContain('CONFLICTS: none');
  });
});
