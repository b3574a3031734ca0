// The reconcile loop: cluster changes and pod interface changes in, the datapath programmed out.
// Changes are debounced into batches; a batch is fed object by object to the incremental
// compiler (pods, policies, Namespaces, Services, EndpointSlices, Nodes; in standalone mode a
// different set of local pods too), then applied with `Datapath.applyNode`, which writes only what
// differs. Only the first pass, a retry after a failed one and a change the batch cannot name (an
// object of an unknown kind, or none at all) compile from scratch. One pass runs at a time;
// changes arriving meanwhile form the next batch. A failed pass is retried with backoff, and the
// time from a batch's first change to its programming is exported as a metric.
import type { Logger } from 'pino';
import type { ClusterState, KnownObject } from '../api/types.js';
import { Compiler, type LocalPods } from '../compile/compiler.js';
import type { CompiledNode } from '../compile/types.js';
import type { ApplyResult, Datapath } from '../datapath/types.js';
import type { ObjectChange } from '../sources/types.js';
import type { AgentMetrics } from './metrics.js';

export interface ReconcilerOptions {
  readonly datapath: Datapath;
  readonly mode: 'standard' | 'strict';
  /** This node's name; undefined = standalone, every (non-host-network) pod is local. */
  readonly nodeName: string | undefined;
  readonly debounceMs: number;
  readonly logger: Logger;
  readonly metrics?: AgentMetrics;
  /** An earlier compilation whose ids are kept (restart adoption). */
  readonly previous?: CompiledNode;
  readonly clock?: () => number;
  /** After each successful pass, with what is now in force. */
  readonly onProgrammed?: (pass: ProgrammedPass) => void;
}

export interface ProgrammedPass {
  readonly node: CompiledNode;
  readonly state: ClusterState;
  readonly result: ApplyResult;
  /** Milliseconds from the batch's first change to the end of the apply. */
  readonly latencyMs: number;
  /** Whether this pass compiled from scratch. */
  readonly full: boolean;
}

const KINDS = new Set<string>(['Pod', 'Namespace', 'Node', 'Service', 'EndpointSlice', 'NetworkPolicy', 'ApplicationNetworkPolicy', 'ClusterNetworkPolicy']);
const RETRY_MS = [200, 500, 1000, 2000, 5000];

function localPodKeys(state: ClusterState): string[] {
  return state.pods.filter((p) => !p.spec.hostNetwork).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
}

export class Reconciler {
  private compiler: Compiler | undefined;
  private localKeys = '';
  private state: ClusterState | undefined;
  private changes: ObjectChange[] = [];
  private replace = false;
  private interfacesDirty = false;
  private ifindexes = new Map<string, number>();
  private firstChangeAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private failures = 0;
  private stopped = false;
  private last: CompiledNode | undefined;
  private lastResult: ApplyResult | undefined;
  private readonly clock: () => number;

  constructor(private readonly opts: ReconcilerOptions) {
    this.clock = opts.clock ?? Date.now;
    this.last = opts.previous;
  }

  /** The compilation in force (undefined before the first pass). */
  get node(): CompiledNode | undefined {
    return this.compiler ? this.last : undefined;
  }

  get applied(): ApplyResult | undefined {
    return this.lastResult;
  }

  /** True while changes are queued or a pass runs. */
  get busy(): boolean {
    return this.running !== undefined || this.timer !== undefined || this.changes.length > 0 || this.replace || this.interfacesDirty;
  }

  /** A new snapshot and the object changes leading to it. */
  stateChanged(state: ClusterState, changes: readonly ObjectChange[]): void {
    this.state = state;
    this.changes.push(...changes);
    this.mark();
  }

  /** Host interfaces of local pods (endpoint key -> ifindex), as the tracker reports them. */
  interfacesChanged(ifindexes: ReadonlyMap<string, number>): void {
    this.ifindexes = new Map(ifindexes);
    this.interfacesDirty = true;
    this.mark();
  }

  /** Runs a pass now (skipping the debounce) and resolves when nothing is left to do. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    do {
      await this.run();
    } while (!this.stopped && (this.changes.length > 0 || this.replace || this.interfacesDirty) && this.failures === 0);
    if (this.failures > 0) throw this.lastError ?? new Error('reconcile failed');
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  private lastError: Error | undefined;

  private mark(): void {
    this.firstChangeAt ??= this.clock();
    this.schedule(this.opts.debounceMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run().catch(() => undefined);
    }, ms);
  }

  private run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.failures > 0) {
        this.schedule(RETRY_MS[Math.min(this.failures - 1, RETRY_MS.length - 1)]!);
      } else if (this.again || this.changes.length > 0 || this.replace || this.interfacesDirty) {
        this.again = false;
        this.schedule(this.opts.debounceMs);
      }
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const state = this.state;
    if (state === undefined) return;
    const started = this.firstChangeAt ?? this.clock();
    this.firstChangeAt = undefined;
    const changes = this.changes;
    this.changes = [];
    const replace = this.replace;
    this.replace = false;
    this.interfacesDirty = false;
    let full = false;
    try {
      const keys = this.opts.nodeName === undefined ? localPodKeys(state) : [];
      const keysText = keys.join('\n');
      const local: LocalPods = this.opts.nodeName === undefined ? { pods: keys } : { nodeName: this.opts.nodeName };
      if (this.compiler === undefined) {
        this.compiler = new Compiler(state, local, { mode: this.opts.mode, ...(this.last ? { previous: this.last } : {}) });
        full = true;
      } else {
        if (keysText !== this.localKeys) this.compiler.setLocalPods(local);
        full = this.applyChanges(this.compiler, state, changes, replace);
      }
      this.localKeys = keysText;
      const node = this.compiler.result();
      const ifindexes = this.ifindexes;
      const result = await this.opts.datapath.applyNode(node, (key) => ifindexes.get(key));
      this.last = node;
      this.lastResult = result;
      this.failures = 0;
      this.lastError = undefined;
      const latencyMs = this.clock() - started;
      this.opts.metrics?.changeToProgrammed.observe(latencyMs / 1000);
      this.opts.metrics?.reconciles.labels('ok').inc();
      this.opts.metrics?.diagnostics.set(node.diagnostics.length);
      this.opts.logger.debug({ event: 'apply_result', full, latencyMs, enforced: result.enforced, pending: result.pending.length, prefixesWritten: result.prefixesWritten, prefixesDeleted: result.prefixesDeleted }, 'datapath apply');
      this.opts.onProgrammed?.({ node, state, result, latencyMs, full });
    } catch (err) {
      this.failures++;
      this.lastError = err as Error;
      // The batch is not lost: the next pass recompiles from the whole state.
      this.replace = true;
      this.firstChangeAt ??= started;
      this.opts.metrics?.reconciles.labels('error').inc();
      this.opts.logger.error({ event: 'reconcile_failed', err, attempt: this.failures }, 'reconcile failed; retrying');
    }
  }

  /** Feeds a batch to the incremental compiler; returns true when it had to start over. */
  private applyChanges(compiler: Compiler, state: ClusterState, changes: readonly ObjectChange[], replace: boolean): boolean {
    if (replace || changes.some((c) => !KINDS.has((c.after ?? c.before)?.kind ?? ''))) {
      compiler.replaceState(state);
      return true;
    }
    for (const c of changes) {
      if (c.op !== 'delete' && c.after) upsert(compiler, c.after);
      else remove(compiler, (c.before ?? c.after) as KnownObject);
    }
    return false;
  }
}

/** An object added or changed, routed to the compiler method for its kind. */
function upsert(compiler: Compiler, obj: KnownObject): void {
  switch (obj.kind) {
    case 'Pod':
      return compiler.upsertPod(obj);
    case 'Namespace':
      return compiler.upsertNamespace(obj);
    case 'Node':
      return compiler.upsertNode(obj);
    case 'Service':
      return compiler.upsertService(obj);
    case 'EndpointSlice':
      return compiler.upsertEndpointSlice(obj);
    default:
      return compiler.upsertPolicy(obj);
  }
}

/** An object deleted, routed to the compiler method for its kind. */
function remove(compiler: Compiler, obj: KnownObject): void {
  const key = obj.metadata.namespace === undefined ? obj.metadata.name : `${obj.metadata.namespace}/${obj.metadata.name}`;
  switch (obj.kind) {
    case 'Pod':
      return compiler.removePod(key);
    case 'Namespace':
      return compiler.removeNamespace(obj.metadata.name);
    case 'Node':
      return compiler.removeNode(obj.metadata.name);
    case 'Service':
      return compiler.removeService(key);
    case 'EndpointSlice':
      return compiler.removeEndpointSlice(key);
    default:
      return compiler.removePolicyObject(obj);
  }
}
