// Object-level difference between two cluster snapshots. Objects are identified by API group,
// kind, namespace and name (two ClusterNetworkPolicy shapes may share a name, so the group is part
// of the identity); the reported `ref` is objectRef() as every other message spells it.
import type { ClusterState, KnownObject } from '../../api/types.js';
import { objectRef } from '../../api/types.js';
import type { ObjectChange } from '../types.js';

const STATE_LISTS = [
  'namespaces',
  'pods',
  'nodes',
  'services',
  'endpointSlices',
  'networkPolicies',
  'applicationNetworkPolicies',
  'clusterNetworkPolicies',
] as const satisfies readonly (keyof ClusterState)[];

/** Identity of an object inside one snapshot (group-qualified, unlike objectRef). */
export function objectKey(obj: KnownObject): string {
  const slash = obj.apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : obj.apiVersion.slice(0, slash);
  return `${group}|${objectRef(obj)}`;
}

/** Every object of a snapshot by objectKey, in the snapshot's order. */
export function indexState(state: ClusterState): Map<string, KnownObject> {
  const out = new Map<string, KnownObject>();
  for (const list of STATE_LISTS) for (const obj of state[list] as readonly KnownObject[]) out.set(objectKey(obj), obj);
  return out;
}

/** JSON with object keys sorted, so that key order in a manifest never counts as a change. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The changes leading from `before` to `after`: deletes first (in `before` order), then adds and
 * updates (in `after` order). An object is updated only when its canonical content differs.
 */
export function diffStates(before: ClusterState, after: ClusterState): ObjectChange[] {
  const old = indexState(before);
  const next = indexState(after);
  const changes: ObjectChange[] = [];
  for (const [key, obj] of old) {
    if (!next.has(key)) changes.push({ op: 'delete', ref: objectRef(obj), before: obj });
  }
  for (const [key, obj] of next) {
    const prev = old.get(key);
    if (prev === undefined) changes.push({ op: 'add', ref: objectRef(obj), after: obj });
    else if (canonicalJson(prev) !== canonicalJson(obj)) changes.push({ op: 'update', ref: objectRef(obj), before: prev, after: obj });
  }
  return changes;
}
