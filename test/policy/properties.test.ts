// Properties of the evaluator over generated cluster states.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClusterState, UpstreamClusterNetworkPolicy } from '../../src/api/types.js';
import { Evaluator, type EvalOptions, type Flow } from '../../src/policy/index.js';
import { flowArb, stateArb } from './support/generate.js';

const STANDARD: EvalOptions = { mode: 'standard', now: 0, learned: [] };
const STRICT: EvalOptions = { ...STANDARD, mode: 'strict' };

const stateAndFlows = stateArb().chain((state) => fc.tuple(fc.constant(state), fc.array(flowArb(state), { minLength: 1, maxLength: 10 })));

function selectedByAnything(ev: Evaluator, podKey: string, direction: 'Egress' | 'Ingress'): boolean {
  const pod = ev.index.pod(podKey);
  if (!pod) throw new Error(`no pod ${podKey}`);
  return (
    ev.model.cluster.some((c) => (direction === 'Egress' ? c.egress : c.ingress).length > 0 && ev.selects(c, pod)) ||
    ev.model.namespaced.some((n) => n.policyTypes.includes(direction) && ev.selects(n, pod))
  );
}

describe('evaluator properties on generated states', () => {
  it('a pod selected by no policy: egress Allow in standard mode, Deny in strict mode', () => {
    fc.assert(
      fc.property(stateAndFlows, ([state, flows]) => {
        const ev = new Evaluator(state);
        for (const flow of flows) {
          if (selectedByAnything(ev, flow.from, 'Egress') || flow.from === flow.to) continue;
          expect(ev.evaluate(flow, STANDARD).egress).toMatchObject({ verdict: 'Allow', tier: 'Default' });
          expect(ev.evaluate(flow, STRICT).egress).toMatchObject({ verdict: 'Deny', tier: 'Default' });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the flow verdict is egress AND ingress', () => {
    fc.assert(
      fc.property(stateAndFlows, fc.constantFrom(STANDARD, STRICT), ([state, flows], opts) => {
        const ev = new Evaluator(state);
        for (const flow of flows) {
          const v = ev.evaluate(flow, opts);
          expect(v.verdict).toBe(v.egress.verdict === 'Allow' && v.ingress.verdict === 'Allow' ? 'Allow' : 'Deny');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an Admin Deny at priority 0 for every pod wins over any NetworkPolicy allow', () => {
    const denyAll: UpstreamClusterNetworkPolicy = {
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'zzz-deny-all' },
      spec: { tier: 'Admin', priority: 0, subject: { namespaces: {} }, egress: [{ name: 'all', action: 'Deny', to: [{ namespaces: {} }, { networks: ['0.0.0.0/0'] }] }] },
    };
    fc.assert(
      fc.property(stateAndFlows, ([state, flows]) => {
        const ev = new Evaluator({ ...state, clusterNetworkPolicies: [...state.clusterNetworkPolicies, denyAll] });
        for (const flow of flows) {
          if (flow.from === flow.to) continue;
          const v = ev.evaluate(flow, STANDARD);
          expect(v.verdict).toBe('Deny');
          expect(v.egress.tier).toBe('Admin');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('verdicts do not depend on the order of objects in the state', () => {
    fc.assert(
      fc.property(stateAndFlows, fc.integer(), ([state, flows], seed) => {
        const shuffled: ClusterState = {
          ...state,
          pods: shuffle(state.pods, seed),
          networkPolicies: shuffle(state.networkPolicies, seed + 1),
          clusterNetworkPolicies: shuffle(state.clusterNetworkPolicies, seed + 2),
        };
        const a = new Evaluator(state);
        const b = new Evaluator(shuffled);
        for (const flow of flows) expect(b.evaluate(flow, STANDARD)).toEqual(a.evaluate(flow, STANDARD));
      }),
      { numRuns: 200 },
    );
  });

  it('standard and strict differ only where the Default tier decided', () => {
    fc.assert(
      fc.property(stateAndFlows, ([state, flows]) => {
        const ev = new Evaluator(state);
        for (const flow of flows) {
          const s = ev.evaluate(flow, STANDARD);
          const t = ev.evaluate(flow, STRICT);
          for (const d of ['egress', 'ingress'] as const) {
            if (s[d].tier === 'Default') expect(t[d]).toMatchObject({ tier: 'Default', verdict: 'Deny' });
            else expect(t[d]).toEqual(s[d]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('scale', () => {
  it('evaluates 100k generated flows over 200 pods and 60 policies', () => {
    const state = fc.sample(stateArb({ pods: [200, 200], networkPolicies: [30, 30], clusterPolicies: [30, 30] }), { numRuns: 1, seed: 42 })[0] as ClusterState;
    const flows = fc.sample(flowArb(state), { numRuns: 100_000, seed: 7 }) as Flow[];
    const ev = new Evaluator(state);
    const start = performance.now();
    const counts = { Allow: 0, Deny: 0 };
    for (const flow of flows) counts[ev.evaluate(flow, STANDARD).verdict]++;
    const ms = performance.now() - start;
    console.log(`policy scale: 100000 flows in ${ms.toFixed(0)} ms (${Math.round(100_000 / (ms / 1000))} flows/s), ${counts.Allow} allow / ${counts.Deny} deny`);
    expect(counts.Allow + counts.Deny).toBe(100_000);
    // Generated policies must exercise both outcomes, or the run proves nothing.
    expect(counts.Allow).toBeGreaterThan(0);
    expect(counts.Deny).toBeGreaterThan(0);
  });
});
