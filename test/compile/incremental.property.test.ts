// The incremental compiler against itself from scratch: a Compiler fed a random sequence of pod,
// policy, Namespace, Service, EndpointSlice and Node changes (turning one generated state into
// another), with the local pods a node name, a fixed list or the pods present at each step
// (standalone mode: setLocalPods), must, after every step, hold
// exactly the tables a fresh compile of the state at that step produces (same prefixes, same rule
// lists, same configs and slots), and the diffs between its successive results, applied to a
// model of the datapath maps, must rebuild exactly those tables. The differential test proves the
// fresh compile equal to the evaluator; this one carries that proof over to every incremental path
// (host-prefix refresh, edited-policy refresh, kept directions, versioned tables, diff deltas).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/api/types.js';
import { Compiler, type LocalPods, compile, diff } from '../../src/compile/index.js';
import { applyDiff, applyOp, backendView as view, opsBetween, podKey } from './support/changes.js';
import { nodesArb, stateArb } from './support/generate.js';

/** Standalone mode's local pods: every pod present with its own network namespace. */
function presentPods(s: ClusterState): LocalPods {
  return { pods: s.pods.filter((p) => !p.spec.hostNetwork).map(podKey) };
}

const caseArb = fc
  .tuple(stateArb(), stateArb(), fc.option(nodesArb(), { nil: undefined }), fc.constantFrom('standard' as const, 'strict' as const), fc.constantFrom<'n0' | 'all' | 'present'>('n0', 'all', 'present'))
  .chain(([a, b, nodes, mode, local]) => {
    // The second state, with other nodes half the time (else only the extra address may differ).
    const target: ClusterState = nodes ? { ...b, nodes } : b;
    const ops = opsBetween(a, target);
    return fc.record({ start: fc.constant(a), ops: fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }), mode: fc.constant(mode), local: fc.constant(local) });
  });

describe('incremental compiles equal fresh compiles', () => {
  it('after every change of any kind (generated sequences), tables and diffs agree', () => {
    let steps = 0;
    fc.assert(
      fc.property(caseArb, ({ start, ops, mode, local }) => {
        const all = new Set([...start.pods.map(podKey), ...ops.flatMap((o) => (o.kind === 'pod' ? [o.key] : []))]);
        let localPods: LocalPods = local === 'n0' ? { nodeName: 'n0' } : local === 'all' ? { pods: [...all] } : presentPods(start);
        const c = new Compiler(start, localPods, { mode });
        let prev = c.result();
        const maps = new Map<string, string>();
        applyDiff(maps, diff(null, prev));
        let state = start;
        for (const [i, op] of ops.entries()) {
          if (op.kind === 'pod') {
            if (op.pod) c.upsertPod(op.pod);
            else c.removePod(op.key);
          } else if (op.kind === 'policy') {
            if (op.policy) c.upsertPolicy(op.policy);
            else c.removePolicy(op.ref);
          } else if (op.kind === 'namespace') {
            if (op.ns) c.upsertNamespace(op.ns);
            else c.removeNamespace(op.key);
          } else if (op.kind === 'service') {
            if (op.svc) c.upsertService(op.svc);
            else c.removeService(op.key);
          } else if (op.kind === 'node') {
            if (op.node) c.upsertNode(op.node);
            else c.removeNode(op.key);
          } else if (op.slice) c.upsertEndpointSlice(op.slice);
          else c.removeEndpointSlice(op.key);
          state = applyOp(state, op);
          if (local === 'present') {
            localPods = presentPods(state);
            c.setLocalPods(localPods);
          }
          const next = c.result();
          const fresh = compile(state, localPods, { mode, previous: next });
          const got = view(next);
          const what = `after op ${i} of ${ops.length}: ${JSON.stringify(op)}`;
          expect(got, what).toEqual(view(fresh));
          applyDiff(maps, diff(prev, next));
          expect(Object.fromEntries([...maps].sort()), `diff ${what}`).toEqual(Object.fromEntries(Object.entries(got.prefixes).sort()));
          prev = next;
          steps++;
        }
      }),
      { numRuns: Number(process.env.DNSGATE_RUNS ?? 300), seed: Number(process.env.DNSGATE_SEED ?? 20260102) },
    );
    expect(steps).toBeGreaterThan(1000);
  }, 180_000);
});

describe('a changed set of local pods', () => {
  it('compiles or drops only the endpoints that joined or left, as a fresh compile would (generated)', () => {
    const localArb = (s: ClusterState): fc.Arbitrary<LocalPods> =>
      fc.oneof(fc.constantFrom<LocalPods>({ nodeName: 'n0' }, { nodeName: 'n1' }, { nodeName: 'n9' }), fc.subarray([...s.pods.map(podKey), 'ns0/gone']).map((pods) => ({ pods })));
    const arb = stateArb().chain((s) => fc.record({ state: fc.constant(s), first: localArb(s), then: fc.array(localArb(s), { minLength: 1, maxLength: 5 }), mode: fc.constantFrom('standard' as const, 'strict' as const) }));
    fc.assert(
      fc.property(arb, ({ state, first, then, mode }) => {
        const c = new Compiler(state, first, { mode });
        let prev = c.result();
        const maps = new Map<string, string>();
        applyDiff(maps, diff(null, prev));
        for (const [i, local] of then.entries()) {
          c.setLocalPods(local);
          const next = c.result();
          const got = view(next);
          expect(got, `step ${i}: ${JSON.stringify(local)}`).toEqual(view(compile(state, local, { mode, previous: next })));
          applyDiff(maps, diff(prev, next));
          expect(Object.fromEntries([...maps].sort())).toEqual(Object.fromEntries(Object.entries(got.prefixes).sort()));
          prev = next;
        }
      }),
      { numRuns: 200, seed: Number(process.env.DNSGATE_SEED ?? 20260102) },
    );
  }, 120_000);
});
