// Lease-based leader election (coordination.k8s.io/v1), as client-go's leaderelection does it:
// every write is guarded by the Lease's resourceVersion, and a lease held by another agent counts
// as expired only after leaseDuration has passed on OUR clock since we last saw its record change
// (so clock skew between nodes cannot make two leaders).
import { KubeApiError } from './errors.js';
import type { KubeHttp } from './http.js';
import { silentLogger, type KubeLogger } from './logger.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** This agent's identity (the node name, typically). */
  identity: string;
  /** How long a lease is valid after its last renewal (default 15 s). */
  leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval of acquire/renew attempts (default 2 s). */
  retryPeriodMs?: number;
  logger?: KubeLogger;
  /** Monotonic clock, ms; injectable for tests. */
  now?: () => number;
}

type Obj = Record<string, unknown>;

/** RFC 3339 with microseconds, the MicroTime format of Lease times. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private leading = false;
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private observedRecord = '';
  private observedAt = 0;
  private lastRenewal = 0;
  private running?: Promise<void>;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private readonly log: KubeLogger;
  private readonly now: () => number;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;

  constructor(
    private readonly http: KubeHttp,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => performance.now());
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Called with true when this agent becomes leader and false when it stops being one. */
  onLeadershipChange(listener: (leading: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  /** Stops campaigning; with `release`, a leader hands the lease back so another takes over at once. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.leading && release) {
      try {
        await this.release();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'could not release the leader lease');
      }
    }
    this.setLeading(false);
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.tryAcquireOrRenew()
      .then((ok) => {
        if (ok) this.lastRenewal = this.now();
        if (ok) this.setLeading(true);
        else if (this.leading && this.now() - this.lastRenewal > this.renewDeadlineMs) this.setLeading(false);
      })
      .catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'leader election attempt failed');
        if (this.leading && this.now() - this.lastRenewal > this.renewDeadlineMs) this.setLeading(false);
      })
      .finally(() => {
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.retryPeriodMs * (1 + Math.random() * 0.2));
      });
  }

  private path(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.opts.namespace)}/leases`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private spec(prev: Obj | undefined): Obj {
    const now = microTime(new Date());
    const sameHolder = prev?.holderIdentity === this.opts.identity;
    const transitions = typeof prev?.leaseTransitions === 'number' ? prev.leaseTransitions : 0;
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.leaseDurationMs / 1000)),
      acquireTime: sameHolder && typeof prev?.acquireTime === 'string' ? prev.acquireTime : now,
      renewTime: now,
      leaseTransitions: prev === undefined ? 0 : sameHolder ? transitions : transitions + 1,
    };
  }

  /** One round: true when we hold the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    let lease: Obj;
    try {
      lease = await this.http.request('GET', this.path(this.opts.name));
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.statusCode !== 404) throw err;
      try {
        await this.http.request('POST', this.path(), {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.opts.name, namespace: this.opts.namespace }, spec: this.spec(undefined) },
        });
        return true;
      } catch (e) {
        if (e instanceof KubeApiError && e.statusCode === 409) return false; // another agent created it first
        throw e;
      }
    }
    const spec = (typeof lease.spec === 'object' && lease.spec !== null ? lease.spec : {}) as Obj;
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = this.now();
    }
    const holder = typeof spec.holderIdentity === 'string' ? spec.holderIdentity : '';
    const durationMs = (typeof spec.leaseDurationSeconds === 'number' ? spec.leaseDurationSeconds : 0) * 1000;
    if (holder !== '' && holder !== this.opts.identity && this.now() - this.observedAt < durationMs) return false;
    const meta = lease.metadata as Obj;
    try {
      await this.http.request('PUT', this.path(this.opts.name), {
        body: { ...lease, metadata: { ...meta, resourceVersion: meta.resourceVersion }, spec: this.spec(spec) },
      });
      return true;
    } catch (e) {
      if (e instanceof KubeApiError && e.statusCode === 409) return false; // someone else wrote in between
      throw e;
    }
  }

  private async release(): Promise<void> {
    const lease = await this.http.request('GET', this.path(this.opts.name));
    const spec = (lease.spec ?? {}) as Obj;
    if (spec.holderIdentity !== this.opts.identity) return;
    await this.http.request('PUT', this.path(this.opts.name), {
      body: { ...lease, spec: { ...spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } },
    });
    this.log.info({ lease: `${this.opts.namespace}/${this.opts.name}` }, 'released the leader lease');
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.log.info({ identity: this.opts.identity, leading }, leading ? 'became leader' : 'stopped leading');
    for (const l of this.listeners) l(leading);
  }
}
