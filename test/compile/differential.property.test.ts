// THE differential property: on generated states (all policy kinds, IPv4/IPv6, named ports,
// Services, nodes, host-network pods, domainNames with learned IPs), every flow direction whose
// local end is a compiled endpoint gets from interpret(compile(...)) exactly the evaluator's
// verdict, tier, policy and rule. At least 10k directions per run; a failure prints fast-check's
// shrunk state and flow. A second run varies the Nodes (gone, relabelled, addresses moved, shared
// with a pod) and sends flows to and from every node address.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/api/types.js';
import { type Flow, type LearnedIP } from '../../src/policy/index.js';
import { flowArb, learnedArb, nodesArb, stateArb } from './support/generate.js';
import { runDifferential } from './support/differential.js';

const NOW = 1_000_000;

const caseArb = stateArb().chain((state) =>
  fc.record({
    state: fc.constant(state),
    flows: fc.array(flowArb(state), { minLength: 10, maxLength: 30 }),
    learned: learnedArb(state, NOW),
    mode: fc.constantFrom('standard' as const, 'strict' as const),
    local: fc.constantFrom<'all' | 'n0'>('all', 'n0'),
  }),
);

interface Case {
  state: ClusterState;
  flows: Flow[];
  learned: LearnedIP[];
  mode: 'standard' | 'strict';
  local: 'all' | 'n0';
}

function run(c: Case): ReturnType<typeof runDifferential> {
  const local = c.local === 'all' ? { pods: c.state.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`) } : { nodeName: 'n0' };
  return runDifferential(c.state, local, c.flows, { mode: c.mode, now: NOW, learned: c.learned });
}

describe('compile + interpret equals the evaluator on generated states', () => {
  it('agrees on >= 10k flow directions (fail-closed fallbacks only where reported)', () => {
    let checked = 0;
    let fallbacks = 0;
    const tally = new Map<string, number>();
    fc.assert(
      fc.property(caseArb, (c) => {
        const r = run(c);
        checked += r.checked;
        for (const [k, n] of r.tally) tally.set(k, (tally.get(k) ?? 0) + n);
        // A direction replaced by the reported fail-closed fallback is exempt from equality, and
        // must deny everything but the pod's own/node addresses.
        const fallback = new Set<string>();
        for (const ep of r.node.endpoints.values()) {
          if (ep.egress.fallback) fallback.add(`${ep.key}|egress`);
          if (ep.ingress.fallback) fallback.add(`${ep.key}|ingress`);
        }
        fallbacks += fallback.size;
        if (fallback.size > 0) expect(r.node.diagnostics.length).toBeGreaterThan(0);
        const real = r.disagreements.filter((d) => {
          const local = d.direction === 'egress' ? d.flow.from : d.flow.to;
          if (fallback.has(`${local}|${d.direction}`)) {
            expect(d.compiled.verdict).toBe('deny');
            return false;
          }
          return true;
        });
        expect(real).toEqual([]);
      }),
      { numRuns: Number(process.env.DNSGATE_RUNS ?? 1000), seed: Number(process.env.DNSGATE_SEED ?? 20260101) },
    );
    expect(checked).toBeGreaterThanOrEqual(10_000);
    // Every way a direction can be decided must actually occur, or the equality proves little.
    const seen = Object.fromEntries([...tally].sort());
    for (const k of ['Allow:Admin', 'Deny:Admin', 'Allow:NetworkPolicy', 'Deny:NetworkPolicy', 'Allow:Baseline', 'Deny:Baseline', 'Allow:Default', 'Deny:Default', 'Allow:NotEnforced']) {
      expect(seen[k] ?? 0, `${k} in ${JSON.stringify(seen)}`).toBeGreaterThan(50);
    }
    expect((seen['Allow:Admin:fqdn'] ?? 0) + (seen['Allow:NetworkPolicy:fqdn'] ?? 0) + (seen['Allow:Baseline:fqdn'] ?? 0)).toBeGreaterThan(20);
    console.log(`differential: ${checked} directions, ${fallbacks} fallback directions`, seen);
    // The generator must not live in the fallback: it would hide real disagreements.
    expect(fallbacks).toBeLessThan(checked / 100);
  });
});

/** Flows between pods and every address a generated node list may hold. */
function nodeFlowArb(state: ClusterState): fc.Arbitrary<Flow> {
  const pods = state.pods.filter((p) => !p.spec.hostNetwork).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  const addresses = ['192.168.0.1', '192.168.0.2', '192.168.1.1', '192.168.0.9', 'fd01::1', 'fd01::2', 'fd01::9', '10.1.0.3'];
  if (pods.length === 0) return flowArb(state);
  return fc
    .record({ pod: fc.constantFrom(...pods), addr: fc.constantFrom(...addresses), out: fc.boolean(), protocol: fc.constantFrom('TCP' as const, 'UDP' as const), port: fc.constantFrom(53, 80, 443, 9000) })
    .map(({ pod, addr, out, protocol, port }) => (out ? { from: pod, to: addr, protocol, port } : { from: addr, to: pod, protocol, port }));
}

describe('compile + interpret equals the evaluator whatever the Nodes', () => {
  it('agrees on generated node lists (labels, addresses, missing nodes)', () => {
    let checked = 0;
    const arb = fc
      .tuple(stateArb(), nodesArb())
      .map(([s, nodes]) => ({ ...s, nodes }))
      .chain((state) =>
        fc.record({
          state: fc.constant(state),
          flows: fc.tuple(fc.array(flowArb(state), { minLength: 5, maxLength: 15 }), fc.array(nodeFlowArb(state), { minLength: 5, maxLength: 15 })).map(([a, b]) => [...a, ...b]),
          learned: fc.constant<LearnedIP[]>([]),
          mode: fc.constantFrom('standard' as const, 'strict' as const),
          local: fc.constantFrom<'all' | 'n0'>('all', 'n0'),
        }),
      );
    fc.assert(
      fc.property(arb, (c) => {
        const r = run(c);
        checked += r.checked;
        const fallback = new Set<string>();
        for (const ep of r.node.endpoints.values()) for (const d of ['egress', 'ingress'] as const) if (ep[d].fallback) fallback.add(`${ep.key}|${d}`);
        const real = r.disagreements.filter((d) => !fallback.has(`${d.direction === 'egress' ? d.flow.from : d.flow.to}|${d.direction}`));
        expect(real).toEqual([]);
      }),
      { numRuns: Number(process.env.DNSGATE_RUNS ?? 300), seed: Number(process.env.DNSGATE_SEED ?? 20261121) },
    );
    expect(checked).toBeGreaterThanOrEqual(3_000);
  });
});
