// Object-level changes between two cluster states, applied one at a time the way a store applies
// them (an updated object moves to the end of its list: "last updated wins" for shared addresses),
// and what a backend holds of a compilation, for comparing incremental and fresh compiles.
import { expect } from 'vitest';
import type { ClusterState, EndpointSlice, KnownObject, Namespace, Node, Pod, PolicyObject, Service } from '../../../src/api/types.js';
import { objectRef } from '../../../src/api/types.js';
import type { CompiledDiff, CompiledNode } from '../../../src/compile/index.js';
import type { ObjectChange } from '../../../src/sources/types.js';

export type Op =
  | { kind: 'pod'; key: string; pod: Pod | null }
  | { kind: 'policy'; ref: string; policy: PolicyObject | null }
  | { kind: 'namespace'; key: string; ns: Namespace | null }
  | { kind: 'service'; key: string; svc: Service | null }
  | { kind: 'slice'; key: string; slice: EndpointSlice | null }
  | { kind: 'node'; key: string; node: Node | null };

type Named = { metadata: { namespace?: string; name: string } };

function nsKey(o: Named): string {
  return o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`;
}

/** Ops that turn list `a` into list `b` by key. */
function listOps<T extends Named>(a: readonly T[], b: readonly T[], make: (key: string, obj: T | null) => Op): Op[] {
  const ops: Op[] = [];
  const byA = new Map(a.map((o) => [nsKey(o), o]));
  const byB = new Map(b.map((o) => [nsKey(o), o]));
  for (const [k, o] of byB) if (JSON.stringify(byA.get(k)) !== JSON.stringify(o)) ops.push(make(k, o));
  for (const k of byA.keys()) if (!byB.has(k)) ops.push(make(k, null));
  return ops;
}

/** `list` with the object of `key` replaced (moved to the end, as a store appends updates) or removed. */
function setIn<T extends Named>(list: readonly T[], key: string, obj: T | null): T[] {
  const rest = list.filter((o) => nsKey(o) !== key);
  return obj ? [...rest, obj] : rest;
}

export function podKey(p: Pod): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

function policies(s: ClusterState): PolicyObject[] {
  return [...s.clusterNetworkPolicies, ...s.networkPolicies, ...s.applicationNetworkPolicies];
}

/** The ops that turn `a` into `b` (unchanged objects are skipped). */
export function opsBetween(a: ClusterState, b: ClusterState): Op[] {
  const ops: Op[] = [];
  ops.push(...listOps(a.pods, b.pods, (key, pod) => ({ kind: 'pod', key, pod })));
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
export function applyOp(s: ClusterState, op: Op): ClusterState {
  switch (op.kind) {
    case 'namespace':
      return { ...s, namespaces: setIn(s.namespaces, op.key, op.ns) };
    case 'service':
      return { ...s, services: setIn(s.services, op.key, op.svc) };
    case 'slice':
      return { ...s, endpointSlices: setIn(s.endpointSlices, op.key, op.slice) };
    case 'node':
      return { ...s, nodes: setIn(s.nodes, op.key, op.node) };
    case 'pod':
      return { ...s, pods: setIn(s.pods, op.key, op.pod) };
    case 'policy': {
      const keep = <T extends PolicyObject>(list: T[]): T[] => list.filter((p) => objectRef(p) !== op.ref);
      const next = { ...s, clusterNetworkPolicies: keep(s.clusterNetworkPolicies), networkPolicies: keep(s.networkPolicies), applicationNetworkPolicies: keep(s.applicationNetworkPolicies) };
      const p = op.policy;
      if (p?.kind === 'ClusterNetworkPolicy') next.clusterNetworkPolicies = [...next.clusterNetworkPolicies, p];
      else if (p?.kind === 'NetworkPolicy') next.networkPolicies = [...next.networkPolicies, p];
      else if (p?.kind === 'ApplicationNetworkPolicy') next.applicationNetworkPolicies = [...next.applicationNetworkPolicies, p];
      return next;
    }
  }
}

function objectOf(op: Op): KnownObject | null {
  switch (op.kind) {
    case 'pod':
      return op.pod;
    case 'policy':
      return op.policy;
    case 'namespace':
      return op.ns;
    case 'service':
      return op.svc;
    case 'slice':
      return op.slice;
    case 'node':
      return op.node;
  }
}

/** All objects of a state by objectRef. */
function objects(s: ClusterState): Map<string, KnownObject> {
  const all: KnownObject[] = [...s.namespaces, ...s.pods, ...s.nodes, ...s.services, ...s.endpointSlices, ...policies(s)];
  return new Map(all.map((o) => [objectRef(o), o]));
}

/** The op as a source reports it, given the state it applies to. */
export function objectChange(before: ClusterState, op: Op): ObjectChange {
  const after = objectOf(op);
  const was = [...objects(before).values()].find((o) => {
    if (op.kind === 'policy') return objectRef(o) === op.ref;
    const kind = { pod: 'Pod', namespace: 'Namespace', service: 'Service', slice: 'EndpointSlice', node: 'Node' }[op.kind];
    return o.kind === kind && nsKey(o) === op.key;
  });
  const ref = after ? objectRef(after) : objectRef(was as KnownObject);
  if (!after) return { op: 'delete', ref, ...(was ? { before: was } : {}) };
  return was ? { op: 'update', ref, before: was, after } : { op: 'add', ref, after };
}

/** Everything a backend would hold: endpoint configs, slots, and per (endpoint, dir, cidr) the rule-list key. */
export function backendView(node: CompiledNode): { endpoints: Record<string, unknown>; prefixes: Record<string, string>; diagnostics: string[] } {
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
export function applyDiff(maps: Map<string, string>, d: CompiledDiff): void {
  for (const p of d.prefixesUpsert) maps.set(`${p.epId}|${p.dir}|${p.cidr}`, p.rules.map((r) => `${r.proto}:${r.portLo}-${r.portHi}:${r.tier[0]}${r.action[0]}:${r.fqdnSlot}:${r.ruleId},`).join(''));
  const written = new Set(d.prefixesUpsert.map((p) => `${p.epId}|${p.dir}|${p.cidr}`));
  for (const p of d.prefixesRemove) {
    const k = `${p.epId}|${p.dir}|${p.cidr}`;
    if (!written.has(k)) maps.delete(k);
  }
}
