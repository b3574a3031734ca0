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
import type { ClusterState, EndpointSlice, Namespace, Node, Pod, PolicyObject, Service } from '../../src/api/types.js';
import { objectRef } from '../../src/api/types.js';
import { type CompiledDiff, type CompiledNode, Compiler, type LocalPods, compile, diff } from '../../src/compile/index.js';
import { nodesArb, stateArb } from './support/generate.js';

type Op =
  | { kind: 'pod'; key: string; pod: Pod | null }
  | { kind: 'policy'; ref: string; policy: PolicyObject | null }
  | { kind: 'namespace'; key: string; ns: Namespace | null }
  | { kind: 'service'; key: string; svc: Service | null }
  | { kind: 'slice'; key: string; slice: EndpointSlice | null }
  | { kind: 'node'; key: string; node: Node | null };

function nsKey(o: { metadata: { namespace?: string; name: string } }): string {
  return o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`;
}

/** Ops that turn list `a` into list `b` by key. */
function listOps<T extends { metadata: { namespace?: string; name: string } }>(a: readonly T[], b: readonly T[], make: (key: string, obj: T | null) => Op): Op[] {
  const ops: Op[] = [];
  const byA = new Map(a.map((o) => [nsKey(o), o]));
  const byB = new Map(b.map((o) => [nsKey(o), o]));
  for (const [k, o] of byB) if (JSON.stringify(byA.get(k)) !== JSON.stringify(o)) ops.push(make(k, o));
  for (const k of byA.keys()) if (!byB.has(k)) ops.push(make(k, null));
  return ops;
}

/** `list` with the object of `key` replaced (moved to the end, as a store appends updates) or removed. */
function setIn<T extends { metadata: { namespace?: string; name: string } }>(list: readonly T[], key: string, obj: T | null): T[] {
  const rest = list.filter((o) => nsKey(o) !== key);
  return obj ? [...rest, obj] : rest;
}

function podKey(p: Pod): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

function policies(s: ClusterState): PolicyObject[] {
  return [...s.clusterNetworkPolicies, ...s.networkPolicies, ...s.applicationNetworkPolicies];
}

/** The ops that turn `a`'s pods and policies into `b`'s (unchanged objects are skipped). */
function opsBetween(a: ClusterState, b: ClusterState): Op[] {
  const ops: Op[] = [];
  const podsA = new Map(a.pods.map((p) => [podKey(p), p]));
  const podsB = new Map(b.pods.map((p) => [podKey(p), p]));
  for (const [k, p] of podsB) if (JSON.stringify(podsA.get(k)) !== JSON.stringify(p)) ops.push({ kind: 'pod', key: k, pod: p });
  for (const k of podsA.keys()) if (!podsB.has(k)) ops.push({ kind: 'pod', key: k, pod: null });
  const polA = new Map(policies(a).map((p) => [objectRef(p), p]));
  const polB = new Map(policies(b).map((p) => [objectRef(p), p]));
  for (const [r, p] of polB) if (JSON.stringify(polA.get(r)) !== JSON.stringify(p)) ops.push({ kind: 'policy', ref: r, policy: p });
  for (const r of polA.keys()) if (!polB.has(r)) ops.push({ kind: 'policy', ref: r, policy: null });
  ops.push(...listOps(a.namespaces, b.namespaces, (key, ns) => ({ kind: 'namespace', key, ns })));
  ops.push(...listOps(a.services, b.services, (key, svc) => ({ kind: 'service', key, svc })));
  ops.push(...listOps(a.endpointSlices, b.endpointSlices, (key, slice) => ({ kind: 'slice', key, slice })));
  ops.push(...listOps(a.nodes, b.nodes, (key, node) => ({ kind: 'node', key, node })));
  return ops;
}

/** `s` with one op applied (the state a fresh compile sees). */
function apply(s: ClusterState, op: Op): ClusterState {
  if (op.kind === 'namespace') return { ...s, namespaces: setIn(s.namespaces, op.key, op.ns) };
  if (op.kind === 'service') return { ...s, services: setIn(s.services, op.key, op.svc) };
  if (op.kind === 'slice') return { ...s, endpointSlices: setIn(s.endpointSlices, op.key, op.slice) };
  if (op.kind === 'node') return { ...s, nodes: setIn(s.nodes, op.key, op.node) };
  if (op.kind === 'pod') {
    const pods = s.pods.filter((p) => podKey(p) !== op.key);
    return { ...s, pods: op.pod ? [...pods, op.pod] : pods };
  }
  const keep = <T extends PolicyObject>(list: T[]): T[] => list.filter((p) => objectRef(p) !== op.ref);
  const next = { ...s, clusterNetworkPolicies: keep(s.clusterNetworkPolicies), networkPolicies: keep(s.networkPolicies), applicationNetworkPolicies: keep(s.applicationNetworkPolicies) };
  const p = op.policy;
  if (p?.kind === 'ClusterNetworkPolicy') next.clusterNetworkPolicies = [...next.clusterNetworkPolicies, p];
  else if (p?.kind === 'NetworkPolicy') next.networkPolicies = [...next.networkPolicies, p];
  else if (p?.kind === 'ApplicationNetworkPolicy') next.applicationNetworkPolicies = [...next.applicationNetworkPolicies, p];
  return next;
}

/** Everything a backend would hold: endpoint configs, slots, and per (endpoint, dir, cidr) the rule-list key. */
function view(node: CompiledNode): { endpoints: Record<string, unknown>; prefixes: Record<string, string>; diagnostics: string[] } {
  const endpoints: Record<string, unknown> = {};
  const prefixes: Record<string, string> = {};
  for (const [k, ep] of node.endpoints) {
    endpoints[k] = { config: ep.config, slots: ep.slots, egress: [ep.egress.isolated, ep.egress.fallback], ingress: [ep.ingress.isolated, ep.ingress.fallback] };
    for (const dir of ['egress', 'ingress'] as const) {
      expect(ep[dir].prefixes.size).toBe([...ep[dir].prefixes.keys()].length);
      for (const [cidr, p] of ep[dir].prefixes) {
        expect(p.cidr).toBe(cidr);
        prefixes[`${ep.epId}|${dir}|${cidr}`] = p.key;
      }
    }
  }
  return { endpoints, prefixes, diagnostics: node.diagnostics.map((d) => d.message).sort() };
}

/** The datapath's prefix maps after applying a diff. */
function applyDiff(maps: Map<string, string>, d: CompiledDiff): void {
  for (const p of d.prefixesUpsert) maps.set(`${p.epId}|${p.dir}|${p.cidr}`, p.rules.map((r) => `${r.proto}:${r.portLo}-${r.portHi}:${r.tier[0]}${r.action[0]}:${r.fqdnSlot}:${r.ruleId},`).join(''));
  const written = new Set(d.prefixesUpsert.map((p) => `${p.epId}|${p.dir}|${p.cidr}`));
  for (const p of d.prefixesRemove) {
    const k = `${p.epId}|${p.dir}|${p.cidr}`;
    if (!written.has(k)) maps.delete(k);
  }
}

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
          state = apply(state, op);
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
