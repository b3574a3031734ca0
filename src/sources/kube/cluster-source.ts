// The ClusterSource backed by the Kubernetes API: one reflector (list + watch) per resource, every
// object admitted through the policy core's validation, changes coalesced into StateChanges.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Problem } from '../../api/load.js';
import type { ClusterState } from '../../api/types.js';
import type { ClusterSource, StateChange } from '../types.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import type { KubeApiError } from './errors.js';
import { KubeHttp } from './http.js';
import { silentLogger, type KubeLogger } from './logger.js';
import { ObjectStore, type Admitted } from './object-store.js';
import { Reflector, type ReflectorHandler, type WatchEventType } from './reflector.js';
import { WATCHED_RESOURCES, type WatchedResource } from './resources.js';

export interface KubeSourceOptions {
  kubeConfig: KubeConfig;
  /** Events within this window become one StateChange (default 30 ms). */
  coalesceMs?: number;
  /** Periodic relist of every resource (default 10 min). */
  resyncMs?: number;
  /** How often a CRD that is not installed is looked for again (default 60 s). */
  crdRecheckMs?: number;
  backoff?: BackoffOptions;
  /** Server-side watch timeout (default 300 s). */
  watchTimeoutSeconds?: number;
  logger?: KubeLogger;
  /** Defaults to every resource dnsgate watches. */
  resources?: readonly WatchedResource[];
}

export class KubeSourceStoppedError extends Error {
  constructor() {
    super('the Kubernetes source was stopped before its first full sync');
    this.name = 'KubeSourceStoppedError';
  }
}

type AdmissionListener = (a: Admitted) => void;

export class KubeClusterSource implements ClusterSource {
  readonly http: KubeHttp;
  private readonly store: ObjectStore;
  private readonly reflectors: Reflector[];
  private readonly listeners = new Set<(c: StateChange) => void>();
  private readonly admissionListeners = new Set<AdmissionListener>();
  private readonly log: KubeLogger;
  private readonly coalesceMs: number;
  private flushTimer?: NodeJS.Timeout;
  private isSynced = false;
  private stopped = false;
  private starting?: Promise<void>;
  private currentProblems: readonly Problem[] = [];

  constructor(opts: KubeSourceOptions) {
    this.log = opts.logger ?? silentLogger;
    this.coalesceMs = opts.coalesceMs ?? 30;
    this.http = new KubeHttp(opts.kubeConfig);
    const resources = opts.resources ?? WATCHED_RESOURCES;
    this.store = new ObjectStore(resources, (a) => this.admitted(a));
    const handler: ReflectorHandler = {
      replace: (r, items) => this.touch(() => this.store.replace(r, items)),
      event: (r, type, obj) => this.touch(() => this.applyEvent(r, type, obj)),
      missing: (r, err) => this.missing(r, err),
      installed: (r) => {
        this.store.setResourceProblem(r, undefined);
        this.log.info({ resource: r.id }, 'CRD installed; watching it');
      },
      error: (r, err, retryInMs) => this.log.warn({ resource: r.id, err: err.message, retryInMs }, 'list/watch failed; retrying'),
    };
    const ropts = {
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      resyncMs: opts.resyncMs ?? 600_000,
      crdRecheckMs: opts.crdRecheckMs ?? 60_000,
      watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
    };
    this.reflectors = resources.map((r) => new Reflector(r, opts.kubeConfig, this.http, handler, ropts));
  }

  get synced(): boolean {
    return this.isSynced;
  }

  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    for (const r of this.reflectors) r.start();
    let stoppedWhileWaiting!: () => void;
    const stopped = new Promise<'stopped'>((resolve) => (stoppedWhileWaiting = () => resolve('stopped')));
    this.onStop = stoppedWhileWaiting;
    const result = await Promise.race([Promise.all(this.reflectors.map((r) => r.synced)), stopped]);
    if (result === 'stopped' || this.stopped) throw new KubeSourceStoppedError();
    this.isSynced = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flush();
    this.log.info({ resources: this.reflectors.length }, 'Kubernetes source synced');
  }

  private onStop?: () => void;

  snapshot(): ClusterState {
    return this.store.snapshot();
  }

  problems(): readonly Problem[] {
    return this.currentProblems;
  }

  onChange(listener: (change: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every admission of a policy object (valid or not), as it happens; for the status writer. */
  onPolicyAdmission(listener: AdmissionListener): () => void {
    this.admissionListeners.add(listener);
    return () => this.admissionListeners.delete(listener);
  }

  /** The latest admission of every policy object. */
  policyAdmissions(): Admitted[] {
    return this.store.admissions();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.onStop?.();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  private applyEvent(r: WatchedResource, type: WatchEventType, obj: unknown): void {
    if (type === 'DELETED') this.store.delete(r, obj);
    else this.store.upsert(r, obj);
  }

  private missing(r: WatchedResource, err: KubeApiError): void {
    const message = `${r.known.kind} (${r.known.apiVersion}) is not served by the API server (CRD not installed?); skipped, re-checked periodically`;
    this.log.warn({ resource: r.id, status: err.statusCode }, message);
    this.store.setResourceProblem(r, { severity: 'warning', source: `kube:${r.id}`, message });
    this.touch(() => {});
  }

  private admitted(a: Admitted): void {
    if (a.resource.known.category !== 'policy') return;
    for (const l of this.admissionListeners) l(a);
  }

  /** Runs a store mutation and schedules a flush once synced (before that, start() flushes). */
  private touch(mutate: () => void): void {
    mutate();
    if (!this.isSynced || this.stopped || this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), this.coalesceMs);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const { state, changes } = this.store.flush();
    const problems = this.store.problems();
    const problemsChanged = JSON.stringify(problems) !== JSON.stringify(this.currentProblems);
    this.currentProblems = problems;
    if (changes.length === 0 && !problemsChanged) return;
    const change: StateChange = { state, changes, problems };
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'a state change listener threw');
      }
    }
  }
}
