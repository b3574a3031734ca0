// The admitted objects of every watched resource, kept per resource and per object, with the
// object-level changes since the last flush. A flush rebuilds only the arrays of the kinds that
// changed (sharing the unchanged arrays and every object with the previous snapshot), so a pod
// event in a 10k-pod cluster costs one array copy of references, not a re-admission of everything.
import type { Problem } from '../../api/load.js';
import { objectRef, type ClusterState, type KnownObject } from '../../api/types.js';
import type { ValidationError } from '../../api/errors.js';
import { admitObject } from '../../api/validate.js';
import type { ObjectChange } from '../types.js';
import type { WatchedResource } from './resources.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What validation said about one object as the API server stores it. */
export interface Admitted {
  resource: WatchedResource;
  /** The object as read from the API (status included). */
  raw: Obj;
  /** The admitted copy; undefined when invalid. */
  object?: KnownObject;
  errors: readonly ValidationError[];
}

type StateKey = keyof ClusterState;

const STATE_KEY: Record<string, StateKey> = {
  Namespace: 'namespaces',
  Pod: 'pods',
  Node: 'nodes',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  NetworkPolicy: 'networkPolicies',
  ApplicationNetworkPolicy: 'applicationNetworkPolicies',
  ClusterNetworkPolicy: 'clusterNetworkPolicies',
};

export interface Flush {
  state: ClusterState;
  changes: ObjectChange[];
}

function nameKey(raw: Obj): string | undefined {
  const meta = isObj(raw.metadata) ? raw.metadata : undefined;
  if (!meta || typeof meta.name !== 'string' || meta.name === '') return undefined;
  return `${typeof meta.namespace === 'string' ? meta.namespace : ''}/${meta.name}`;
}

function rvOf(raw: Obj): unknown {
  return isObj(raw.metadata) ? raw.metadata.resourceVersion : undefined;
}

export class ObjectStore {
  private readonly byResource = new Map<string, Map<string, Admitted>>();
  /** Per changed object (resource id + ns/name): the admitted object in the last flushed snapshot. */
  private readonly pending = new Map<string, { before?: KnownObject; resource: WatchedResource; key: string }>();
  private readonly dirtyKinds = new Set<StateKey>();
  private state: ClusterState;
  private readonly resourceProblems = new Map<string, Problem>();
  /** Objects with validation errors, by resource id + ns/name: problems() never walks every pod. */
  private readonly invalid = new Map<string, Admitted>();

  constructor(
    private readonly resources: readonly WatchedResource[],
    private readonly onAdmitted: (a: Admitted) => void = () => {},
    private readonly onRemoved: (resource: WatchedResource, raw: Obj) => void = () => {},
  ) {
    for (const r of resources) this.byResource.set(r.id, new Map());
    this.state = {
      namespaces: [],
      pods: [],
      nodes: [],
      services: [],
      endpointSlices: [],
      networkPolicies: [],
      applicationNetworkPolicies: [],
      clusterNetworkPolicies: [],
    };
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  snapshot(): ClusterState {
    return this.state;
  }

  /** Adds or replaces one object; returns false when nothing changed (same resourceVersion). */
  upsert(resource: WatchedResource, raw: unknown): boolean {
    if (!isObj(raw)) return false;
    const key = nameKey(raw);
    if (!key) return false;
    const objects = this.objects(resource);
    const old = objects.get(key);
    if (old && rvOf(old.raw) !== undefined && rvOf(old.raw) === rvOf(raw)) return false;
    // List items of built-in kinds come without apiVersion/kind; the resource says what they are.
    const typed = { ...raw, apiVersion: resource.known.apiVersion, kind: resource.known.kind };
    const { object, errors } = admitObject(typed);
    const entry: Admitted = { resource, raw: typed, object, errors };
    this.note(resource, key, old?.object);
    objects.set(key, entry);
    if (errors.length > 0) this.invalid.set(`${resource.id}|${key}`, entry);
    else this.invalid.delete(`${resource.id}|${key}`);
    this.onAdmitted(entry);
    return true;
  }

  delete(resource: WatchedResource, raw: unknown): boolean {
    if (!isObj(raw)) return false;
    const key = nameKey(raw);
    const objects = this.objects(resource);
    const old = key === undefined ? undefined : objects.get(key);
    if (!old || key === undefined) return false;
    this.note(resource, key, old.object);
    objects.delete(key);
    this.invalid.delete(`${resource.id}|${key}`);
    this.onRemoved(resource, old.raw);
    return true;
  }

  /** A full list: deletes what is gone, upserts the rest. */
  replace(resource: WatchedResource, items: readonly unknown[]): void {
    const objects = this.objects(resource);
    const present = new Set<string>();
    for (const it of items) {
      const key = isObj(it) ? nameKey(it) : undefined;
      if (key !== undefined) present.add(key);
    }
    for (const [key, old] of [...objects]) if (!present.has(key)) this.delete(resource, old.raw);
    for (const it of items) this.upsert(resource, it);
  }

  setResourceProblem(resource: WatchedResource, problem: Problem | undefined): void {
    if (problem) this.resourceProblems.set(resource.id, problem);
    else this.resourceProblems.delete(resource.id);
  }

  /** Every admission of the policy kinds (for status writing). */
  admissions(): Admitted[] {
    const out: Admitted[] = [];
    for (const r of this.resources) if (r.known.category === 'policy') out.push(...this.objects(r).values());
    return out;
  }

  problems(): Problem[] {
    const out: Problem[] = [...this.resourceProblems.values()];
    for (const a of this.invalid.values())
      for (const e of a.errors)
        out.push({ severity: 'error', source: `kube:${a.resource.id}`, ref: e.ref, field: e.field || undefined, message: e.reason });
    return out;
  }

  /** Applies the pending changes to a new snapshot; the net change per object (none if it came back as it was). */
  flush(): Flush {
    const changes: ObjectChange[] = [];
    for (const { before, resource, key } of this.pending.values()) {
      const after = this.objects(resource).get(key)?.object;
      if (before === after) continue;
      const ref = objectRef((after ?? before) as KnownObject);
      if (!before) changes.push({ op: 'add', ref, after });
      else if (!after) changes.push({ op: 'delete', ref, before });
      else changes.push({ op: 'update', ref, before, after });
    }
    this.pending.clear();
    if (this.dirtyKinds.size > 0) {
      const next = { ...this.state };
      for (const sk of this.dirtyKinds) next[sk] = this.collect(sk) as never;
      this.dirtyKinds.clear();
      this.state = next;
    }
    return { state: this.state, changes };
  }

  private collect(sk: StateKey): KnownObject[] {
    const out: KnownObject[] = [];
    for (const r of this.resources) {
      if (STATE_KEY[r.known.kind] !== sk) continue;
      for (const a of this.objects(r).values()) if (a.object) out.push(a.object);
    }
    return out;
  }

  private note(resource: WatchedResource, key: string, before: KnownObject | undefined): void {
    const id = `${resource.id}|${key}`;
    if (!this.pending.has(id)) this.pending.set(id, { before, resource, key });
    const sk = STATE_KEY[resource.known.kind];
    if (sk) this.dirtyKinds.add(sk);
  }

  private objects(resource: WatchedResource): Map<string, Admitted> {
    let m = this.byResource.get(resource.id);
    if (!m) {
      m = new Map();
      this.byResource.set(resource.id, m);
    }
    return m;
  }
}
