// The reconciler's incremental path: generated sequences of changes of every kind (pods, policies,
// Namespaces, Services, EndpointSlices, Nodes; in standalone mode the local pod set follows the
// pods) fed in batches as a source delivers them must leave, after every batch, the datapath
// holding exactly what a fresh full compile of the same state gives, without any pass after the
// first compiling from scratch; and each kind of change, one at a time, is programmed
// incrementally with its change-to-programmed latency observed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/api/load.js';
import type { ClusterState, Node, Pod } from '../../src/api/types.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { Reconciler, type ProgrammedPass } from '../../src/agent/reconciler.js';
import { type LocalPods, compile } from '../../src/compile/index.js';
import type { CompiledNode } from '../../src/compile/types.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import type { ApplyResult, IfindexOf } from '../../src/datapath/types.js';
import { diffStates } from '../../src/sources/files/index.js';
import { type Op, applyOp, backendView, objectChange, opsBetween, podKey } from '../compile/support/changes.js';
import { nodesArb, stateArb } from '../compile/support/generate.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const silent = pino({ level: 'silent' });

/** The memory datapath, keeping the compilation it was last given (what it holds). */
class RecordingDatapath extends MemoryDatapath {
  held: CompiledNode | undefined;
  override async applyNode(next: CompiledNode, ifindexOf: IfindexOf): Promise<ApplyResult> {
    const r = await super.applyNode(next, ifindexOf);
    this.held = next;
    return r;
  }
}

function setup(nodeName: string | undefined, mode: 'standard' | 'strict' = 'standard'): { r: Reconciler; dp: RecordingDatapath; passes: ProgrammedPass[]; registry: Registry } {
  const dp = new RecordingDatapath();
  const registry = new Registry();
  const metrics = new AgentMetrics(registry, { datapath: () => dp.counters(), endpoints: () => ({ enforced: 0, pending: 0 }), ready: () => true });
  const passes: ProgrammedPass[] = [];
  const r = new Reconciler({ datapath: dp, mode, nodeName, debounceMs: 5, logger: silent, metrics, onProgrammed: (p) => passes.push(p) });
  return { r, dp, passes, registry };
}

/** What the reconciler compiles for: a node's pods, or (standalone) every pod with its own netns. */
function localOf(nodeName: string | undefined, state: ClusterState): LocalPods {
  return nodeName !== undefined ? { nodeName } : { pods: state.pods.filter((p) => !p.spec.hostNetwork).map(podKey) };
}

function expectFresh(dp: RecordingDatapath, state: ClusterState, nodeName: string | undefined, mode: 'standard' | 'strict', what: string): void {
  const held = dp.held;
  expect(held, what).toBeDefined();
  const fresh = compile(state, localOf(nodeName, state), { mode, previous: held as CompiledNode });
  expect(backendView(held as CompiledNode), what).toEqual(backendView(fresh));
}

async function observedLatencies(registry: Registry): Promise<number> {
  const text = await registry.getSingleMetricAsString('dnsgate_agent_change_to_programmed_seconds');
  return Number(/_count (\d+)$/m.exec(text)?.[1] ?? -1);
}

describe('Reconciler: incremental passes equal a fresh compile', () => {
  const caseArb = fc
    .tuple(stateArb(), stateArb(), fc.option(nodesArb(), { nil: undefined }), fc.constantFrom('standard' as const, 'strict' as const), fc.constantFrom<string | undefined>('n0', undefined))
    .chain(([a, b, nodes, mode, nodeName]) => {
      const ops = opsBetween(a, nodes ? { ...b, nodes } : b);
      return fc.record({
        start: fc.constant(a),
        ops: fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
        // Where the sequence is cut into batches (one pass each).
        cuts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: ops.length, maxLength: ops.length }),
        mode: fc.constant(mode),
        nodeName: fc.constant(nodeName),
      });
    });

  it('after every batch of generated changes of every kind, the datapath holds the fresh compile', async () => {
    let batches = 0;
    const kinds = new Set<Op['kind']>();
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ start, ops, cuts, mode, nodeName }) => {
        const { r, dp, passes, registry } = setup(nodeName, mode);
        r.stateChanged(start, []);
        r.interfacesChanged(new Map(start.pods.map((p, i) => [podKey(p), 10 + i])));
        await r.flush();
        expect(passes.map((p) => p.full)).toEqual([true]);
        let state = start;
        let i = 0;
        let batch = 0;
        while (i < ops.length) {
          const n = cuts[batch++] ?? 1;
          const changes = [];
          for (const op of ops.slice(i, i + n)) {
            changes.push(objectChange(state, op));
            state = applyOp(state, op);
            kinds.add(op.kind);
          }
          i += n;
          r.stateChanged(state, changes);
          await r.flush();
          const what = `batch ${batch} (${JSON.stringify(changes.map((c) => `${c.op} ${c.ref}`))})`;
          expect(passes.at(-1)?.full, what).toBe(false);
          expect(r.node, what).toBe(dp.held);
          expectFresh(dp, state, nodeName, mode, what);
          batches++;
        }
        expect(await observedLatencies(registry)).toBe(passes.length);
        await r.stop();
      }),
      { numRuns: Number(process.env.DNSGATE_RUNS ?? 120), seed: Number(process.env.DNSGATE_SEED ?? 20261121) },
    );
    expect(batches).toBeGreaterThan(300);
    expect([...kinds].sort()).toEqual(['namespace', 'node', 'pod', 'policy', 'service', 'slice']);
  }, 300_000);
});

function load(...files: string[]): ClusterState {
  const text = files.map((f) => readFileSync(join(REPO, f), 'utf8')).join('\n---\n');
  const { state, problems } = parseManifests(text, 'fixture.yaml');
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return state;
}

const FULL = load('test/e2e/fixtures/tiers.yaml', 'test/e2e/fixtures/kube-dns.yaml');
const NODE = FULL.nodes[0] as Node;

function withNode(s: ClusterState, node: Node | null): ClusterState {
  return { ...s, nodes: node ? [node] : [] };
}

/** One change to FULL; `writes`: whether it must change what the datapath holds. */
const CASES: { name: string; next: (s: ClusterState) => ClusterState; writes: boolean }[] = [
  {
    name: 'namespace relabel (teams loses delegate=true)',
    next: (s) => ({ ...s, namespaces: s.namespaces.map((n) => (n.metadata.name === 'teams' ? { ...n, metadata: { ...n.metadata, labels: { 'kubernetes.io/metadata.name': 'teams' } } } : n)) }),
    writes: true,
  },
  {
    name: 'namespace relabel (legacy gains egress=locked)',
    next: (s) => ({ ...s, namespaces: s.namespaces.map((n) => (n.metadata.name === 'legacy' ? { ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, egress: 'locked' } } } : n)) }),
    writes: true,
  },
  { name: 'namespace deleted (hybrid)', next: (s) => ({ ...s, namespaces: s.namespaces.filter((n) => n.metadata.name !== 'hybrid') }), writes: true },
  {
    name: 'Service ClusterIP changed',
    next: (s) => ({ ...s, services: s.services.map((v) => ({ ...v, spec: { ...v.spec, clusterIP: '10.96.0.11', clusterIPs: ['10.96.0.11'] } })) }),
    writes: true,
  },
  { name: 'Service deleted', next: (s) => ({ ...s, services: [] }), writes: true },
  {
    name: 'EndpointSlice backend moved off coredns',
    next: (s) => ({ ...s, endpointSlices: s.endpointSlices.map((e) => ({ ...e, endpoints: [{ addresses: ['10.244.99.1'] }] })) }),
    writes: true,
  },
  { name: 'EndpointSlice deleted', next: (s) => ({ ...s, endpointSlices: [] }), writes: true },
  { name: 'Node address changed', next: (s) => withNode(s, { ...NODE, status: { addresses: [{ type: 'InternalIP', address: '10.0.1.11' }] } }), writes: true },
  { name: 'Node gains an address', next: (s) => withNode(s, { ...NODE, status: { addresses: [...(NODE.status?.addresses ?? []), { type: 'ExternalIP', address: '198.51.100.9' }] } }), writes: true },
  { name: 'Node relabelled', next: (s) => withNode(s, { ...NODE, metadata: { ...NODE.metadata, labels: { zone: 'b' } } }), writes: false },
  { name: 'Node status heartbeat', next: (s) => withNode(s, { ...NODE, metadata: { ...NODE.metadata, resourceVersion: '999' } }), writes: false },
  { name: 'Node deleted', next: (s) => withNode(s, null), writes: true },
  {
    name: 'pod added (standalone: the local set grows)',
    next: (s) => {
      const pod: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'extra', namespace: 'locked-a', labels: { app: 'a' } }, spec: { nodeName: 'node-a', containers: [{ name: 'c' }] }, status: { podIP: '10.244.99.7' } };
      return { ...s, pods: [...s.pods, pod] };
    },
    writes: true,
  },
  { name: 'pod deleted (standalone: the local set shrinks)', next: (s) => ({ ...s, pods: s.pods.filter((p) => p.metadata.name !== 'ledger') }), writes: true },
];

describe('Reconciler: each kind of change takes the incremental path', () => {
  it.each(CASES.flatMap((c) => [{ ...c, nodeName: 'node-a' as string | undefined }, { ...c, nodeName: undefined }]))(
    '$name (node $nodeName)',
    async ({ name, next, writes, nodeName }) => {
      const { r, dp, passes, registry } = setup(nodeName);
      r.stateChanged(FULL, []);
      r.interfacesChanged(new Map(FULL.pods.map((p, i) => [podKey(p), 10 + i])));
      await r.flush();
      const before = dp.held;
      const after = next(FULL);
      const changes = diffStates(FULL, after);
      expect(changes.length).toBeGreaterThan(0);
      r.stateChanged(after, changes);
      await r.flush();
      expect(passes.map((p) => p.full)).toEqual([true, false]);
      expect(await observedLatencies(registry)).toBe(2);
      expect(passes[1]?.latencyMs).toBeGreaterThanOrEqual(0);
      expectFresh(dp, after, nodeName, 'standard', name);
      const result = passes[1]?.result as ApplyResult;
      const wrote = result.prefixesWritten + result.prefixesDeleted > 0 || JSON.stringify(backendView(before as CompiledNode).endpoints) !== JSON.stringify(backendView(dp.held as CompiledNode).endpoints);
      expect(wrote).toBe(writes);
      await r.stop();
    },
  );

  it('a batch holding an object of a kind the compiler cannot name is compiled from scratch', async () => {
    const { r, passes } = setup('node-a');
    r.stateChanged(FULL, []);
    await r.flush();
    r.stateChanged(FULL, [{ op: 'update', ref: 'Unknown/x' }]);
    await r.flush();
    expect(passes.map((p) => p.full)).toEqual([true, true]);
    await r.stop();
  });
});
