// Generated firewalls, zones and policies (fast-check): for every (subject, name, type) of every
// report, the prediction must equal what the emulator's engine answers, the proxy's own wire-level
// walk over the emulator's encoded response must learn exactly the predicted addresses, and the
// verdicts must follow from the reference evaluator with exactly those learnings.
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { learnableAddresses as wireLearnable } from '../../../src/dns/answer.js';
import { readQuestion } from '../../../src/dns/wire.js';
import { learnedAt } from '../../../src/policy/learned.js';
import { Evaluator } from '../../../src/policy/evaluate.js';
import { patternMatchesName } from '../../../src/fqdn/pattern.js';
import { analyzeCoexistence, chainProblem, learnableAddresses, userNames } from '../../../src/r53/coexist/index.js';
import type { CoexistReport, TypeResult } from '../../../src/r53/coexist/index.js';
import { answerQuestion } from '../../../src/r53/engine.js';
import type { FirewallConfig } from '../../../src/r53/firewall-model.js';
import { handleMessage } from '../../../src/r53/wire.js';
import type { ZoneSet } from '../../../src/r53/zone-model.js';
import { anp, firewall, pods, state, zones } from './helpers.js';

const NAMES = ['x.test', 'a.x.test', 'b.x.test', 'a.b.x.test', 'y.test', 'a.y.test', 'c.y.test'];
const ENTRIES = [...NAMES, '*.x.test', '*.b.x.test', '*.y.test', '*'];
const PATTERNS = [...NAMES, '*.x.test', '*.b.x.test', '*.y.test'];
const V4 = ['10.9.0.1', '10.9.0.2', '10.8.0.1'];
const V6 = ['2001:db8::1', '2001:db8::2'];

const recordArb = (name: string) =>
  fc.oneof(
    fc.constant([] as object[]),
    fc.subarray(V4, { minLength: 1 }).map((vs) => [{ name: `${name}.`, type: 'A', values: vs, ttl: 120 }]),
    fc.tuple(fc.constantFrom(...V4), fc.constantFrom(...V6), fc.integer({ min: 1, max: 900 })).map(([a, b, ttl]) => [
      { name: `${name}.`, type: 'A', value: a, ttl },
      { name: `${name}.`, type: 'AAAA', value: b, ttl },
    ]),
    // The zone apex cannot hold a CNAME; others may point anywhere, out of the zones too.
    ...(name.split('.').length > 2 ? [fc.tuple(fc.constantFrom(...NAMES, 'far.away'), fc.integer({ min: 1, max: 900 })).map(([t, ttl]) => [{ name: `${name}.`, type: 'CNAME', value: t, ttl }])] : []),
  );

const zonesArb = fc.tuple(...NAMES.map(recordArb)).map((recs) => {
  const all = recs.flat() as { name: string }[];
  const of = (origin: string) => all.filter((r) => r.name === `${origin}.` || r.name.endsWith(`.${origin}.`));
  return { zones: ['x.test', 'y.test'].map((origin) => ({ origin, records: of(origin) })) };
});

const ruleArb = fc.record({
  entries: fc.subarray(ENTRIES, { minLength: 1, maxLength: 2 }),
  action: fc.constantFrom('ALLOW', 'ALERT', 'BLOCK'),
  blockResponse: fc.constantFrom('NODATA', 'NXDOMAIN', 'OVERRIDE'),
  target: fc.constantFrom(...NAMES, 'far.away'),
  qtype: fc.constantFrom(undefined, 'A', 'AAAA'),
  trust: fc.boolean(),
});

const firewallArb = fc.record({
  groups: fc.array(fc.array(ruleArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 2 }),
  wildcardMatchesApex: fc.boolean(),
  overrideResolvesTarget: fc.boolean(),
  trustRedirectionScope: fc.constantFrom('first-name', 'any-name'),
  keepChainBeforeBlock: fc.boolean(),
  inspectOverrideTarget: fc.boolean(),
  down: fc.constantFrom(false, false, false, true),
  failOpen: fc.constantFrom('ENABLED', 'DISABLED'),
});

type FirewallSpec = typeof firewallArb extends fc.Arbitrary<infer T> ? T : never;

function buildFirewall(spec: FirewallSpec): FirewallConfig {
  const domainLists: object[] = [];
  const ruleGroups = spec.groups.map((rules, g) => ({
    name: `g${g}`,
    rules: rules.map((r, i) => {
      const list = `l${g}-${i}`;
      domainLists.push({ name: list, domains: r.entries });
      return {
        name: `r${i}`,
        priority: (i + 1) * 10,
        domainList: list,
        action: r.action,
        ...(r.action === 'BLOCK' ? { blockResponse: r.blockResponse } : {}),
        ...(r.action === 'BLOCK' && r.blockResponse === 'OVERRIDE' ? { blockOverrideDomain: r.target, blockOverrideTtl: 30, blockOverrideDnsType: 'CNAME' } : {}),
        ...(r.qtype ? { qtype: r.qtype } : {}),
        ...(r.trust ? { firewallDomainRedirectionAction: 'TRUST_REDIRECTION_DOMAIN' } : {}),
      };
    }),
  }));
  return firewall({
    settings: {
      wildcardMatchesApex: spec.wildcardMatchesApex,
      overrideResolvesTarget: spec.overrideResolvesTarget,
      trustRedirectionScope: spec.trustRedirectionScope,
      keepChainBeforeBlock: spec.keepChainBeforeBlock,
      inspectOverrideTarget: spec.inspectOverrideTarget,
      firewallAvailable: !spec.down,
      failOpen: spec.failOpen,
    },
    domainLists,
    ruleGroups,
    associations: ruleGroups.map((g, i) => ({ ruleGroup: g.name, priority: 100 + i })),
  });
}

const policyArb = fc.record({
  dual: fc.subarray(PATTERNS, { maxLength: 4 }),
  v4: fc.subarray(PATTERNS, { maxLength: 4 }),
  cidr: fc.boolean(),
});

function buildState(spec: { dual: string[]; v4: string[]; cidr: boolean }) {
  const cidr = spec.cidr ? `\n  - to:\n    - ipBlock: { cidr: 10.8.0.0/16 }\n    ports:\n    - { protocol: TCP, port: 443 }` : '';
  const docs = [
    pods([
      { name: 'dual', labels: { app: 'dual' }, ips: ['10.1.0.1', 'fd00::1'] },
      { name: 'v4', labels: { app: 'v4' }, ips: ['10.1.0.2'] },
      { name: 'free', labels: { app: 'free' }, ips: ['10.1.0.3'] },
    ]),
    ...(spec.dual.length > 0 ? [anp('dual', 'dual', spec.dual, cidr)] : []),
    ...(spec.v4.length > 0 ? [anp('v4', 'v4', spec.v4)] : []),
  ];
  return state(docs.join('\n---\n'));
}

function wireAddresses(zoneSet: ZoneSet, fw: FirewallConfig, name: string, type: 'A' | 'AAAA'): string[] {
  const query = dnsPacket.encode({ id: 1, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
  const handled = handleMessage(query, zoneSet, fw, 'TCP')!;
  return wireLearnable(handled.response, readQuestion(handled.response).end, name).map((a) => `${a.ip}/${a.ttl}`).sort();
}

function checkResult(report: CoexistReport, evaluator: Evaluator, zoneSet: ZoneSet, fw: FirewallConfig, subject: string, name: string, patterns: number, r: TypeResult): void {
  const engine = answerQuestion(zoneSet, fw, name, r.qtype === 'A' ? 1 : 28);
  const at = `${subject} ${name} ${r.qtype}`;
  // The proxy's wire walk rejects the chain exactly when the prediction says the proxy refuses it.
  const problem = chainProblem(engine.answers, name);
  const delivers = engine.decision.verdict === 'ANSWER' || (engine.decision.verdict === 'BLOCK' && r.firewall.blockResponse === 'OVERRIDE');
  if (problem !== null) expect(() => wireAddresses(zoneSet, fw, name, r.qtype), at).toThrow(/CNAME/);
  if (patterns > 0 && delivers && problem !== null) {
    expect(r.outcome.kind, at).toBe('refused-by-proxy');
    expect(r.dns.rcode, at).toBe('SERVFAIL');
    expect(r.learned, at).toEqual([]);
    return;
  }
  expect(r.outcome.kind, at).not.toBe('refused-by-proxy');
  // The answer the pod gets is the engine's.
  expect(r.dns.answers, at).toEqual(engine.answers.map((a) => ({ name: a.name, type: a.type, ttl: a.ttl, data: a.data })));
  expect(engine.rcode === 'NOERROR' ? ['NOERROR', 'NOERROR-NODATA'] : [engine.rcode], at).toContain(r.dns.rcode);
  expect(r.firewall.verdict, at).toBe(engine.decision.verdict);

  // What is learned: the proxy's wire walk over the emulator's response, only for a matching pattern.
  if (problem === null) {
    const wire = wireAddresses(zoneSet, fw, name, r.qtype);
    expect(learnableAddresses(engine.answers, name).map((a) => `${a.ip}/${a.ttl}`).sort(), at).toEqual(wire);
    if (r.dns.known) expect(r.learned.map((l) => `${l.ip}/${l.ttl}`).sort(), at).toEqual(patterns > 0 && engine.decision.verdict !== 'SERVFAIL' ? wire : []);
  }

  // The outcome follows from the firewall's verdict and the evaluator with those learnings.
  const fwBlocks = engine.decision.verdict === 'SERVFAIL' || (engine.decision.verdict === 'BLOCK' && r.firewall.blockResponse !== 'OVERRIDE');
  if (r.outcome.kind === 'no-family') return;
  expect(r.outcome.kind === 'blocked-by-firewall', at).toBe(fwBlocks);
  expect(r.outcome.kind.startsWith('override-'), at).toBe(r.firewall.blockResponse === 'OVERRIDE' && engine.decision.verdict === 'BLOCK');
  if (r.policy === null || !r.policy.addressesKnown) return;
  const learned = patterns > 0 ? r.policy.addresses.map((ip) => learnedAt(subject, name, ip, 0)) : [];
  const ports = report.subjects.find((s) => s.id === subject)!.ports;
  const allowed = ports.filter((label) => {
    const [protocol, port] = label.split('/') as ['TCP', string];
    return r.policy!.addresses.every((ip) => evaluator.evaluate({ from: subject, to: ip, protocol, port: Number(port) }, { mode: 'standard', now: 0, learned }).egress.verdict === 'Allow');
  });
  expect(r.policy.allowedPorts, at).toEqual(allowed);
  const allow = allowed.length > 0;
  if (r.outcome.kind === 'reachable' || r.outcome.kind === 'alert-only' || r.outcome.kind === 'override-allowed') expect(allow, at).toBe(true);
  if (r.outcome.kind === 'blocked-by-policy' || r.outcome.kind === 'override-denied') expect(allow, at).toBe(false);
  expect(r.outcome.kind === 'alert-only', at).toBe(allow && engine.decision.verdict === 'ANSWER' && r.firewall.action === 'ALERT');
}

describe('generated setups: prediction = engine answer, proxy wire learning, evaluator verdict', () => {
  it('holds for every row, and the generator reaches every outcome kind', () => {
    let rows = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(zonesArb, firewallArb, policyArb, (zoneDoc, fwSpec, policySpec) => {
        const zoneSet = zones(JSON.stringify(zoneDoc));
        const fw = buildFirewall(fwSpec);
        const clusterState = buildState(policySpec);
        const report = analyzeCoexistence({ state: clusterState, firewall: fw, zones: zoneSet, names: userNames(NAMES, 'generated') });
        const evaluator = new Evaluator(clusterState);
        const written: Record<string, readonly string[]> = { 'app/dual': policySpec.dual, 'app/v4': policySpec.v4 };
        for (const row of report.rows) {
          // The subject's patterns that match the name: exactly those written in its policy.
          const expected = (written[row.subject] ?? []).filter((p) => patternMatchesName(p, row.name));
          expect(row.patterns.map((p) => p.pattern).sort()).toEqual([...expected].sort());
          for (const r of row.results) {
            checkResult(report, evaluator, zoneSet, fw, row.subject, row.name, row.patterns.length, r);
            seen.add(r.outcome.kind);
          }
          rows++;
        }
        for (const c of report.conflicts) seen.add(c.kind);
      }),
      { numRuns: 300 },
    );
    expect(rows).toBeGreaterThan(300 * NAMES.length * 2);
    const outcomeKinds = ['reachable', 'alert-only', 'blocked-by-firewall', 'blocked-by-policy', 'override-allowed', 'override-denied', 'no-address', 'no-family', 'refused-by-proxy'];
    const conflictKinds = ['dead-rule', 'override-unreachable', 'wildcard-apex', 'wildcard-semantics', 'qtype-split', 'redirection-chain'];
    expect([...outcomeKinds, ...conflictKinds].filter((k) => !seen.has(k))).toEqual([]);
  });
});
