// Tells users what dnsgate made of their policies where they look: an `Accepted` condition on the
// policy CRDs (True, or False with the validation errors) through the status subresource, and a
// Warning Event on an invalid object. Only the elected leader writes; a new leader reconciles every
// policy once. An Event goes out when the condition changes, so a leader change does not repeat it.
import type { Admitted } from './object-store.js';
import { KubeApiError } from './errors.js';
import type { KubeHttp } from './http.js';
import { silentLogger, type KubeLogger } from './logger.js';
import { objectPath } from './resources.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const ACCEPTED = 'Accepted';
/** Condition messages longer than this are cut (the API server caps them at 32768). */
const MAX_MESSAGE = 4096;
const MAX_EVENT_MESSAGE = 1024;

export interface AdmissionFeed {
  onPolicyAdmission(listener: (a: Admitted) => void): () => void;
  policyAdmissions(): Admitted[];
}

export interface Leadership {
  readonly isLeader: boolean;
  onLeadershipChange(listener: (leading: boolean) => void): () => void;
}

export interface StatusWriterOptions {
  /** Event source component (default "dnsgate"). */
  component?: string;
  /** This agent (node name); Event reportingInstance. */
  identity: string;
  /** Namespace of Events about cluster-scoped policies (default "default", as kubectl does for Nodes). */
  clusterEventNamespace?: string;
  logger?: KubeLogger;
}

export interface AcceptedCondition {
  type: typeof ACCEPTED;
  status: 'True' | 'False';
  reason: 'Accepted' | 'Invalid';
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

const cut = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 3)}...`);

/** The condition validation asks for; lastTransitionTime kept when the status does not change. */
export function desiredCondition(a: Admitted, now: Date): AcceptedCondition {
  const meta = isObj(a.raw.metadata) ? a.raw.metadata : {};
  const valid = a.errors.length === 0;
  const message = valid
    ? 'the policy is valid and enforced by dnsgate'
    : cut(`the policy is not enforced: ${a.errors.map((e) => `${e.field || '<object>'}: ${e.reason}`).join('; ')}`, MAX_MESSAGE);
  const cond: AcceptedCondition = {
    type: ACCEPTED,
    status: valid ? 'True' : 'False',
    reason: valid ? 'Accepted' : 'Invalid',
    message,
    lastTransitionTime: now.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  if (typeof meta.generation === 'number') cond.observedGeneration = meta.generation;
  const old = currentCondition(a.raw);
  if (old && old.status === cond.status && typeof old.lastTransitionTime === 'string') cond.lastTransitionTime = old.lastTransitionTime;
  return cond;
}

export function currentCondition(raw: Obj): Obj | undefined {
  const st = isObj(raw.status) ? raw.status : {};
  return (Array.isArray(st.conditions) ? st.conditions : []).find((c): c is Obj => isObj(c) && c.type === ACCEPTED);
}

function sameCondition(old: Obj | undefined, want: AcceptedCondition): boolean {
  return !!old && old.status === want.status && old.reason === want.reason && old.message === want.message && old.observedGeneration === want.observedGeneration;
}

export class PolicyStatusWriter {
  private readonly pending = new Map<string, Admitted>();
  private draining?: Promise<void>;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly log: KubeLogger;
  /** Writes made by this writer, for metrics and tests. */
  readonly stats = { conditions: 0, events: 0, conflicts: 0 };

  constructor(
    private readonly http: KubeHttp,
    private readonly feed: AdmissionFeed,
    private readonly leadership: Leadership,
    private readonly opts: StatusWriterOptions,
  ) {
    this.log = opts.logger ?? silentLogger;
  }

  start(): void {
    this.unsubscribe.push(
      this.feed.onPolicyAdmission((a) => this.enqueue(a)),
      this.leadership.onLeadershipChange((leading) => {
        if (leading) for (const a of this.feed.policyAdmissions()) this.enqueue(a);
        else this.pending.clear();
      }),
    );
    if (this.leadership.isLeader) for (const a of this.feed.policyAdmissions()) this.enqueue(a);
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    this.pending.clear();
    await this.draining;
  }

  /** Resolves once every queued write has been attempted. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private enqueue(a: Admitted): void {
    if (!this.leadership.isLeader) return;
    // NetworkPolicy has no status condition to write; an invalid one still gets an Event.
    if (!a.resource.crd && a.errors.length === 0) return;
    const meta = isObj(a.raw.metadata) ? a.raw.metadata : {};
    this.pending.set(`${a.resource.id}|${String(meta.namespace ?? '')}/${String(meta.name)}`, a);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const [key, a] = this.pending.entries().next().value as [string, Admitted];
      this.pending.delete(key);
      if (!this.leadership.isLeader) continue;
      try {
        await this.write(a);
      } catch (err) {
        this.log.warn({ object: key, err: (err as Error).message }, 'could not write policy status');
      }
    }
  }

  private async write(a: Admitted): Promise<void> {
    const meta = isObj(a.raw.metadata) ? a.raw.metadata : {};
    const name = String(meta.name);
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;
    const want = desiredCondition(a, new Date());
    if (!a.resource.crd) {
      // Built-in NetworkPolicy: no condition to carry state, so one Event per generation.
      const key = `${String(meta.uid)}/${String(meta.generation)}`;
      if (this.evented.has(key)) return;
      this.evented.add(key);
      await this.event(a, want.message);
      return;
    }
    const old = currentCondition(a.raw);
    if (sameCondition(old, want)) return;
    const others = (Array.isArray((a.raw.status as Obj | undefined)?.conditions) ? ((a.raw.status as Obj).conditions as unknown[]) : []).filter(
      (c) => !(isObj(c) && c.type === ACCEPTED),
    );
    try {
      await this.http.request('PATCH', objectPath(a.resource, name, namespace, 'status'), {
        contentType: 'application/merge-patch+json',
        body: { metadata: { resourceVersion: meta.resourceVersion }, status: { conditions: [...others, want] } },
      });
      this.stats.conditions++;
    } catch (err) {
      // A newer version is on its way through the watch and will be written then; gone is gone.
      if (err instanceof KubeApiError && (err.statusCode === 409 || err.statusCode === 404)) {
        this.stats.conflicts++;
        return;
      }
      throw err;
    }
    if (want.status === 'False') await this.event(a, want.message);
  }

  private readonly evented = new Set<string>();

  private async event(a: Admitted, message: string): Promise<void> {
    const meta = isObj(a.raw.metadata) ? a.raw.metadata : {};
    const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : (this.opts.clusterEventNamespace ?? 'default');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const component = this.opts.component ?? 'dnsgate';
    await this.http.request('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${String(meta.name)}.`, namespace },
        involvedObject: {
          apiVersion: a.resource.known.apiVersion,
          kind: a.resource.known.kind,
          name: meta.name,
          namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
          uid: meta.uid,
          resourceVersion: meta.resourceVersion,
        },
        reason: 'InvalidPolicy',
        message: cut(message, MAX_EVENT_MESSAGE),
        type: 'Warning',
        source: { component, host: this.opts.identity },
        reportingComponent: component,
        reportingInstance: this.opts.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
    this.stats.events++;
  }
}
