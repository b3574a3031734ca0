// The one interface through which the agent sees the cluster, whether the state comes from
// manifest files (standalone mode) or from the Kubernetes API (informers). Everything downstream
// (compiler, DNS proxy pod index) consumes snapshots and object-level changes, never the source.
import type { Problem } from '../api/load.js';
import type { ClusterState, KnownObject } from '../api/types.js';

export type ChangeOp = 'add' | 'update' | 'delete';

/** One object that changed; `ref` is `objectRef()` of the object ("Kind/ns/name" or "Kind/name"). */
export interface ObjectChange {
  op: ChangeOp;
  ref: string;
  before?: KnownObject;
  after?: KnownObject;
}

/** A new snapshot and the object changes that lead to it from the previous one. */
export interface StateChange {
  state: ClusterState;
  changes: readonly ObjectChange[];
  /** Validation and loading problems of the new snapshot (invalid objects are left out of it). */
  problems: readonly Problem[];
}

export interface ClusterSource {
  /** Starts watching; resolves after the first full sync (the first snapshot is complete). */
  start(): Promise<void>;
  /** True once the first full sync has completed. */
  readonly synced: boolean;
  /** The current snapshot; treat as immutable. */
  snapshot(): ClusterState;
  /** Problems of the current snapshot. */
  problems(): readonly Problem[];
  /** Called after every applied change batch; returns an unsubscribe function. */
  onChange(listener: (change: StateChange) => void): () => void;
  stop(): Promise<void>;
}
