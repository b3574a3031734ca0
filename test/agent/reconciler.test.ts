// The reconcile loop against the in-memory datapath (no root): after any generated sequence of
// cluster changes fed as the sources deliver them (object-level adds, updates and deletes), the
// programmed datapath decides every probe flow as the reference evaluator does on the final
// state; interface changes start and stop enforcement; the PolicyView keeps its rule arrays
// while they do not change; a failed apply is retried and nothing is lost.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/api/load.js';
import type { ClusterState, KnownObject } from '../../src/api/types.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { CompiledPolicyView } from '../../src/agent/policy-view.js';
import { Reconciler, type ProgrammedPass } from '../../src/agent/reconciler.js';
import type { CompiledNode } from '../../src/compile/types.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import type { IfindexOf } from '../../src/datapath/types.js';
import { Evaluator } from '../../src/policy/index.js';
import { diffStates } from '../../src/sources/files/index.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent = pino({ level: 'silent' });

function load(...files: string[]): ClusterState {
  const text = files.map((f) => readFileSync(join(REPO, f), 'utf8')).join('\n---\n');
  const { state, problems } = parseManifests(text, 'fixture.yaml');
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return state;
}

const FULL = load('test/e2e/fixtures/tiers.yaml', 'test/e2e/fixtures/kube-dns.yaml');
const POLICIES: KnownObject[] = [...FULL.networkPolicies, ...FULL.applicationNetworkPolicies, ...FULL.clusterNetworkPolicies];
const LOCAL_PODS = FULL.pods.filter((p) => p.metadata.namespace !== 'kube-system');
const PEERS = ['169.254.169.254', '198.51.100.65', '198.51.100.66', '203.0.113.64', '10.244.0.10', '10.96.0.10', '10.244.60.10'];
const PORTS: [protocol: 'TCP' | 'UDP', port: number][] = [['TCP', 80], ['TCP', 443], ['UDP', 53], ['TCP', 5432]];

/** The full state minus the policies and pods whose bit is off. */
function subset(policyMask: readonly boolean[], podMask: readonly boolean[]): ClusterState {
  const keepPolicy = new Set(POLICIES.filter((_, i) => policyMask[i]));
  const dropPod = new Set(LOCAL_PODS.filter((_, i) => !podMask[i]));
  return {
    ...FULL,
    pods: FULL.pods.filter((p) => !dropPod.has(p)),
    networkPolicies: FULL.networkPolicies.filter((p) => keepPolicy.has(p)),
    applicationNetworkPolicies: FULL.applicationNetworkPolicies.filter((p) => keepPolicy.has(p)),
    clusterNetworkPolicies: FULL.clusterNetworkPolicies.filter((p) => keepPolicy.has(p)),
  };
}

function allInterfaces(state: ClusterState): Map<string, number> {
  return new Map(state.pods.map((p, i) => [`${p.metadata.namespace}/${p.metadata.name}`, 100 + i]));
}

function expectAgreement(dp: MemoryDatapath, state: ClusterState, mode: 'standard' | 'strict'): number {
  const evaluator = new Evaluator(state);
  let checked = 0;
  for (const pod of state.pods) {
    if (pod.metadata.namespace === 'kube-system') continue;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    for (const peer of PEERS) {
      if (peer === pod.status?.podIP) continue;
      for (const [protocol, port] of PORTS) {
        const want = evaluator.evaluate({ from: key, to: peer, protocol, port }, { mode, now: Date.now(), learned: [] }).egress.verdict;
        const got = dp.decide(key, 'egress', { peer, protocol, port }).verdict;
        expect(`${key} -> ${peer} ${protocol}/${port}: ${got}`).toBe(`${key} -> ${peer} ${protocol}/${port}: ${want.toLowerCase()}`);
        checked++;
      }
    }
  }
  return checked;
}

function reconciler(dp: MemoryDatapath, mode: 'standard' | 'strict' = 'standard', onProgrammed?: (p: ProgrammedPass) => void, registry = new Registry()): { r: Reconciler; metrics: AgentMetrics } {
  const metrics = new AgentMetrics(registry, { datapath: () => dp.counters(), endpoints: () => ({ enforced: 0, pending: 0 }), ready: () => true });
  return { r: new Reconciler({ datapath: dp, mode, nodeName: undefined, debounceMs: 5, logger: silent, metrics, ...(onProgrammed ? { onProgrammed } : {}) }), metrics };
}

describe('Reconciler', () => {
  it('programs the first state so the datapath agrees with the evaluator, and reports the latency', async () => {
    const dp = new MemoryDatapath();
    const registry = new Registry();
    const { r } = reconciler(dp, 'standard', undefined, registry);
    r.stateChanged(FULL, []);
    r.interfacesChanged(allInterfaces(FULL));
    await r.flush();
    expect(r.applied?.enforced).toBe(FULL.pods.length);
    expect(expectAgreement(dp, FULL, 'standard')).toBeGreaterThan(100);
    expect(await registry.getSingleMetricAsString('dnsgate_agent_change_to_programmed_seconds')).toMatch(/_count 1$/m);
  });

  it('agrees with the evaluator after any sequence of incremental changes (generated)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.array(fc.boolean(), { minLength: POLICIES.length, maxLength: POLICIES.length }), fc.array(fc.boolean(), { minLength: LOCAL_PODS.length, maxLength: LOCAL_PODS.length })), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('standard' as const, 'strict' as const),
        async (steps, mode) => {
          const dp = new MemoryDatapath();
          const { r } = reconciler(dp, mode);
          let prev: ClusterState = FULL;
          r.stateChanged(FULL, []);
          r.interfacesChanged(allInterfaces(FULL));
          await r.flush();
          for (const [policyMask, podMask] of steps) {
            const next = subset(policyMask, podMask);
            r.stateChanged(next, diffStates(prev, next));
            prev = next;
            await r.flush();
          }
          expectAgreement(dp, prev, mode);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  it('enforces a pod only while its interface is known', async () => {
    const dp = new MemoryDatapath();
    const { r } = reconciler(dp);
    r.stateChanged(FULL, []);
    await r.flush();
    expect(r.applied?.enforced).toBe(0);
    expect(dp.decide('locked-a/app', 'egress', { peer: '198.51.100.66', protocol: 'TCP', port: 80 }).verdict).toBe('allow');
    r.interfacesChanged(new Map([['locked-a/app', 7]]));
    await r.flush();
    expect(r.applied?.enforced).toBe(1);
    expect(dp.decide('locked-a/app', 'egress', { peer: '198.51.100.66', protocol: 'TCP', port: 80 }).verdict).toBe('deny');
    r.interfacesChanged(new Map());
    await r.flush();
    expect(dp.decide('locked-a/app', 'egress', { peer: '198.51.100.66', protocol: 'TCP', port: 80 }).verdict).toBe('allow');
  });

  it('debounces a burst of changes into one pass', async () => {
    const dp = new MemoryDatapath();
    const passes: ProgrammedPass[] = [];
    const { r } = reconciler(dp, 'standard', (p) => passes.push(p));
    r.stateChanged(FULL, []);
    await r.flush();
    passes.length = 0;
    let prev = FULL;
    for (let i = 0; i < 5; i++) {
      const next = subset(POLICIES.map((_, j) => j !== i), LOCAL_PODS.map(() => true));
      r.stateChanged(next, diffStates(prev, next));
      prev = next;
    }
    await new Promise((res) => setTimeout(res, 100));
    expect(passes).toHaveLength(1);
    expect(passes[0]!.full).toBe(false);
  });

  it('retries a failed apply and then programs the latest state', async () => {
    class FailingOnce extends MemoryDatapath {
      failures = 1;
      override async applyNode(next: CompiledNode, ifindexOf: IfindexOf) {
        if (this.failures-- > 0) throw new Error('injected apply failure');
        return super.applyNode(next, ifindexOf);
      }
    }
    const dp = new FailingOnce();
    const passes: ProgrammedPass[] = [];
    const { r } = reconciler(dp, 'strict', (p) => passes.push(p));
    r.stateChanged(FULL, []);
    r.interfacesChanged(allInterfaces(FULL));
    await expect(r.flush()).rejects.toThrow('injected apply failure');
    await new Promise((res) => setTimeout(res, 400));
    expect(passes).toHaveLength(1);
    expectAgreement(dp, FULL, 'strict');
    await r.stop();
  });
});

describe('CompiledPolicyView', () => {
  it('maps every pod IP to its domain rules and keeps the same array while they do not change', async () => {
    const dp = new MemoryDatapath();
    const view = new CompiledPolicyView();
    const { r } = reconciler(dp, 'standard', (p) => view.rebuild(p.node, p.state));
    r.stateChanged(FULL, []);
    await r.flush();
    const teams = view.podBySource('10.244.70.10');
    expect(teams?.pod).toBe('teams/app');
    expect(teams?.egressIsolated).toBe(true);
    expect(teams?.domainRules).toEqual([{ rule: 'ApplicationNetworkPolicy/teams/teams-egress/egress/0', pattern: 'api.example.com' }]);
    const ledger = view.podBySource('10.244.60.10');
    expect(ledger?.domainRules.map((d) => d.pattern)).toEqual(['*.corp.example.com']);
    expect(ledger?.egressIsolated).toBe(false);
    expect(view.podBySource('10.244.71.10')?.domainRules).toEqual([]);
    expect(view.podBySource('192.0.2.1')).toBeUndefined();

    // An unrelated change keeps the arrays (the proxy's matcher cache stays valid) ...
    const withoutImds = subset(POLICIES.map((p) => p.metadata.name !== 'block-instance-metadata-service'), LOCAL_PODS.map(() => true));
    r.stateChanged(withoutImds, diffStates(FULL, withoutImds));
    await r.flush();
    expect(view.podBySource('10.244.70.10')?.domainRules).toBe(teams?.domainRules);
    expect(view.podBySource('10.244.60.10')?.domainRules).toBe(ledger?.domainRules);
    // ... and removing the pod's domain policy replaces them.
    const withoutTeams = subset(POLICIES.map((p) => p.metadata.name !== 'block-instance-metadata-service' && p.metadata.name !== 'teams-egress'), LOCAL_PODS.map(() => true));
    r.stateChanged(withoutTeams, diffStates(withoutImds, withoutTeams));
    await r.flush();
    expect(view.podBySource('10.244.70.10')?.domainRules).toEqual([]);
    expect(view.podBySource('10.244.70.10')?.egressIsolated).toBe(false);
  });
});
