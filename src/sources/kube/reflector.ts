// List + watch of one resource, kept running: resumes a dropped watch from the last resourceVersion
// (no missed events), relists on 410 Gone and on the periodic resync, backs off with jitter on
// errors, and treats a 404 on the list as "this CRD is not installed", re-checked periodically.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { backoffDelay, Sleeper, type BackoffOptions } from './backoff.js';
import { isGone, KubeApiError, KubeProtocolError } from './errors.js';
import type { KubeHttp } from './http.js';
import { collectionPath, type WatchedResource } from './resources.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ReflectorHandler {
  /** A full list: the complete current set of objects of the resource. */
  replace(resource: WatchedResource, items: unknown[]): void;
  event(resource: WatchedResource, type: WatchEventType, obj: unknown): void;
  /** The resource is not served (CRD not installed); called on each transition to missing. */
  missing(resource: WatchedResource, err: KubeApiError): void;
  /** The resource is served again after having been missing. */
  installed(resource: WatchedResource): void;
  /** A failed list or watch; the reflector retries after `retryInMs`. */
  error(resource: WatchedResource, err: Error, retryInMs: number): void;
}

export interface ReflectorOptions {
  backoff: BackoffOptions;
  /** Relist this often even when the watch is healthy (jittered by up to +10%). */
  resyncMs: number;
  /** How often a missing CRD is looked for again. */
  crdRecheckMs: number;
  /** Server-side watch timeout; the watch is simply re-opened after it. */
  watchTimeoutSeconds: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function resourceVersionOf(obj: unknown): string | undefined {
  const meta = isObj(obj) && isObj(obj.metadata) ? obj.metadata : undefined;
  return meta && typeof meta.resourceVersion === 'string' && meta.resourceVersion ? meta.resourceVersion : undefined;
}

export class Reflector {
  /** Last resourceVersion seen; '' forces a list. */
  private resourceVersion = '';
  private stopped = false;
  private isMissing = false;
  private attempt = 0;
  private listedOnce = false;
  private abort?: AbortController;
  private resyncDue = false;
  private resyncTimer?: NodeJS.Timeout;
  private readonly sleeper = new Sleeper();
  private readonly watch: Watch;
  private firstSync!: () => void;
  /** Resolves after the first successful list, or the first finding that the CRD is missing. */
  readonly synced: Promise<void> = new Promise((resolve) => (this.firstSync = resolve));
  private loop?: Promise<void>;

  constructor(
    readonly resource: WatchedResource,
    kc: KubeConfig,
    private readonly http: KubeHttp,
    private readonly handler: ReflectorHandler,
    private readonly opts: ReflectorOptions,
  ) {
    this.watch = new Watch(kc);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.abort?.abort();
    this.sleeper.cancel();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '' || this.resyncDue) {
          if (!(await this.list())) continue;
        }
        await this.watchOnce();
        // A watch that ends cleanly (server timeout, drop without error) is resumed at once.
        this.attempt = 0;
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.resourceVersion = '';
          continue;
        }
        if (err instanceof KubeApiError && err.statusCode === 404 && this.resource.crd) {
          // The CRD went away under a running watch: the list finds out and reports it.
          this.resourceVersion = '';
          continue;
        }
        const delay = backoffDelay(this.attempt++, this.opts.backoff);
        this.handler.error(this.resource, err as Error, delay);
        await this.sleeper.sleep(delay);
      }
    }
  }

  /** Lists; false when the resource is missing (after waiting for the recheck). */
  private async list(): Promise<boolean> {
    let body: Obj;
    try {
      body = await this.http.request('GET', collectionPath(this.resource));
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404 && this.resource.crd) {
        if (!this.isMissing) {
          this.isMissing = true;
          this.handler.missing(this.resource, err);
        }
        // Nothing served means nothing to enforce from it: an uninstalled CRD's objects are gone.
        this.handler.replace(this.resource, []);
        this.resourceVersion = '';
        this.markListed();
        await this.sleeper.sleep(this.opts.crdRecheckMs);
        return false;
      }
      throw err;
    }
    const items = body.items;
    const meta = isObj(body.metadata) ? body.metadata : {};
    if (!Array.isArray(items)) throw new KubeProtocolError(collectionPath(this.resource), 'list response has no items array');
    if (typeof meta.resourceVersion !== 'string' || meta.resourceVersion === '')
      throw new KubeProtocolError(collectionPath(this.resource), 'list response has no metadata.resourceVersion');
    if (this.isMissing) {
      this.isMissing = false;
      this.handler.installed(this.resource);
    }
    this.handler.replace(this.resource, items);
    this.resourceVersion = meta.resourceVersion;
    this.resyncDue = false;
    this.attempt = 0;
    this.armResync();
    this.markListed();
    return true;
  }

  private markListed(): void {
    if (!this.listedOnce) {
      this.listedOnce = true;
      this.firstSync();
    }
  }

  private armResync(): void {
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    const ms = Math.round(this.opts.resyncMs * (1 + Math.random() * 0.1));
    this.resyncTimer = setTimeout(() => {
      this.resyncDue = true;
      this.abort?.abort();
    }, ms);
    this.resyncTimer.unref();
  }

  /** One watch request; resolves when the stream ends cleanly, rejects on an error or 410. */
  private watchOnce(): Promise<void> {
    const path = collectionPath(this.resource);
    return new Promise<void>((resolve, reject) => {
      let gone: Error | undefined;
      let failure: Error | undefined;
      const done = (err: unknown): void => {
        this.abort = undefined;
        if (this.stopped || this.resyncDue) return resolve();
        if (gone) return reject(gone);
        if (failure) return reject(failure);
        if (err) return reject(normalizeWatchError(path, err));
        resolve();
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (this.stopped) return;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
          case 'DELETED':
            this.handler.event(this.resource, type, obj);
            break;
          case 'BOOKMARK':
            break;
          case 'ERROR': {
            const st = isObj(obj) ? obj : {};
            const code = typeof st.code === 'number' ? st.code : 0;
            const message = typeof st.message === 'string' ? st.message : 'watch error';
            const e = new KubeApiError('WATCH', path, code, message, typeof st.reason === 'string' ? st.reason : undefined);
            if (code === 410) gone = e;
            else failure = e;
            // The server ends the stream after an ERROR; do not move the resourceVersion.
            return;
          }
          default:
            return;
        }
        const rv = resourceVersionOf(obj);
        if (rv) this.resourceVersion = rv;
      };
      const bookmarkAware = (type: string, obj: unknown): void => {
        onEvent(type, obj);
        if (type === 'BOOKMARK') {
          const rv = resourceVersionOf(obj);
          if (rv) this.resourceVersion = rv;
        }
      };
      const query = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.opts.watchTimeoutSeconds,
      };
      this.watch.watch(path, query, bookmarkAware, done).then(
        (controller) => {
          this.abort = controller;
          if (this.stopped || this.resyncDue) controller.abort();
        },
        (err: unknown) => reject(normalizeWatchError(path, err)),
      );
    });
  }
}

function normalizeWatchError(path: string, err: unknown): Error {
  if (err instanceof KubeApiError) return err;
  const e = err as { statusCode?: unknown; message?: unknown } | null;
  const status = e && typeof e.statusCode === 'number' ? e.statusCode : 0;
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  return new KubeApiError('WATCH', path, status, message);
}
