// The reconcile loop: cluster changes and pod interface changes in, the datapath programmed out.
// Changes are debounced into batches; a batch is compiled incrementally where src/compile can
// (pods and policies) and from scratch otherwise (namespaces, nodes, Services, EndpointSlices,
// or a different set of local pods), then applied with `Datapath.applyNode`, which writes only
// what differs. One pass runs at a time; changes arriving meanwhile form the next batch. A failed
// pass is retried with backoff, and the time from a batch's first change to its programming is
// exported as a metric.
import type { Logger } from 'pino';
import type { ClusterState, PolicyObject, Pod } from '../api/types.js';
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

const POLICY_KINDS = new Set(['NetworkPolicy', 'ApplicationNetworkPolicy', 'ClusterNetworkPolicy']);
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
      if (this.compiler === undefined || (this.opts.nodeName === undefined && keysText !== this.localKeys)) {
        const local: LocalPods = this.opts.nodeName === undefined ? { pods: keys } : { nodeName: this.opts.nodeName };
        this.compiler = new Compiler(state, local, { mode: this.opts.mode, ...(this.last ? { previous: this.last } : {}) });
        this.localKeys = keysText;
        full = true;
      } else {
        full = this.applyChanges(this.compiler, state, changes, replace);
      }
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
    const other = replace || changes.some((c) => {
      const kind = (c.after ?? c.before)?.kind;
      return kind !== 'Pod' && !(kind !== undefined && POLICY_KINDS.has(kind));
    });
    if (other) {
      compiler.replaceState(state);
      return true;
    }
    for (const c of changes) {
      const obj = c.after ?? c.before;
      if (!obj) continue;
      if (obj.kind === 'Pod') {
        const pod = obj as Pod;
        if (c.op === 'delete' || !c.after) compiler.removePod(`${pod.metadata.namespace}/${pod.metadata.name}`);
        else compiler.upsertPod(c.after as Pod);
      } else if (c.op === 'delete' || !c.after) {
        compiler.removePolicyObject(obj as PolicyObject);
      } else {
        compiler.upsertPolicy(c.after as PolicyObject);
      }
    }
    return false;
  }
}
