// A Kubernetes API server stand-in for tests: serves list and watch the way kube-apiserver does
// (resourceVersion on lists, chunked JSON-lines watch streams, ADDED/MODIFIED/DELETED/BOOKMARK/ERROR,
// 410 Expired for compacted resourceVersions, 404 for CRDs that are not installed), plus the writes
// dnsgate makes (status subresource PATCH/PUT, Events, Leases with resourceVersion conflicts).
// Tests drive it through its methods (create/update/remove, dropWatches, compact, ...).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { isObj, mergePatch } from './merge-patch.js';
import { apiVersionOf, idOf, SERVED, servedFor, type ServedResource } from './resources.js';

type Obj = Record<string, unknown>;

export interface StandInOptions {
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** Bearer token -> user name. When set, any other request is 401. */
  tokens?: Record<string, string>;
  /** CRD-backed resources ("group/version/Kind") installed at start; default all. */
  installedCrds?: string[];
  /** Interval of BOOKMARK events on watches that allow them; 0 = only on bookmark(). */
  bookmarkIntervalMs?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  user?: string;
  status: number;
}

interface HistoryEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface OpenWatch {
  resource: ServedResource;
  namespace?: string;
  res: http.ServerResponse;
  bookmarks: boolean;
  close(): void;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const meta = (o: Obj): Obj => (isObj(o.metadata) ? o.metadata : {});
const keyOf = (o: Obj): string => `${(meta(o).namespace as string | undefined) ?? ''}/${meta(o).name as string}`;

export class KubeApiStandIn {
  private server?: http.Server;
  private rv = 1000;
  /** Oldest resourceVersion a watch may still start from (history before it was compacted). */
  private compactedRv = 0;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private readonly history = new Map<string, HistoryEvent[]>();
  private readonly installed = new Set<string>();
  private readonly watches = new Set<OpenWatch>();
  readonly requests: LoggedRequest[] = [];
  url = '';

  constructor(private readonly opts: StandInOptions = {}) {
    for (const s of SERVED) {
      this.objects.set(idOf(s), new Map());
      this.history.set(idOf(s), []);
      if (!s.crd || !opts.installedCrds || opts.installedCrds.includes(idOf(s))) this.installed.add(idOf(s));
    }
  }

  async start(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res);
    this.server = this.opts.tls ? https.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, handler) : http.createServer(handler);
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const w of [...this.watches]) w.close();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  // ------------------------------------------------------------ test controls

  get resourceVersion(): number {
    return this.rv;
  }

  /** Creates or replaces an object as a client would (new resourceVersion, uid, generation). */
  apply(obj: Obj): Obj {
    const s = servedFor(obj.apiVersion as string, obj.kind as string);
    const existing = this.objects.get(idOf(s))?.get(keyOf(obj));
    return existing ? this.write(s, obj, 'MODIFIED', existing) : this.write(s, obj, 'ADDED');
  }

  remove(apiVersion: string, kind: string, name: string, namespace?: string): void {
    const s = servedFor(apiVersion, kind);
    const map = this.objects.get(idOf(s));
    const key = `${s.namespaced ? (namespace ?? 'default') : ''}/${name}`;
    const old = map?.get(key);
    if (!old) throw new Error(`no ${kind} ${key}`);
    map?.delete(key);
    const object = structuredClone(old);
    meta(object).resourceVersion = String(++this.rv);
    this.record(s, { rv: this.rv, type: 'DELETED', object });
  }

  get(apiVersion: string, kind: string, name: string, namespace?: string): Obj | undefined {
    const s = servedFor(apiVersion, kind);
    return this.objects.get(idOf(s))?.get(`${s.namespaced ? (namespace ?? 'default') : ''}/${name}`);
  }

  list(apiVersion: string, kind: string): Obj[] {
    return [...(this.objects.get(idOf(servedFor(apiVersion, kind)))?.values() ?? [])];
  }

  installCrd(apiVersion: string, kind: string): void {
    this.installed.add(idOf(servedFor(apiVersion, kind)));
  }

  /** Removes the CRD and its objects; open watches on it end. */
  uninstallCrd(apiVersion: string, kind: string): void {
    const s = servedFor(apiVersion, kind);
    this.installed.delete(idOf(s));
    this.objects.get(idOf(s))?.clear();
    for (const w of [...this.watches]) if (w.resource === s) w.close();
  }

  /** Forgets the event history, so any watch from an older resourceVersion gets 410. */
  compact(): void {
    this.compactedRv = this.rv;
    for (const h of this.history.values()) h.length = 0;
  }

  /** Cuts every open watch connection without a proper end of stream (a network drop). */
  dropWatches(): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) {
      this.watches.delete(w);
      w.res.socket?.destroy();
    }
    return n;
  }

  /** Sends ERROR 410 on every open watch and ends them, as the server does when it expires a watch. */
  expireWatches(): void {
    for (const w of [...this.watches]) {
      this.send(w, { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${this.compactedRv}`) });
      w.close();
    }
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allows them. */
  bookmark(): void {
    for (const w of this.watches) if (w.bookmarks) this.sendBookmark(w);
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Write requests (anything but GET) made with a given user's token. */
  writesBy(user: string): LoggedRequest[] {
    return this.requests.filter((r) => r.user === user && r.method !== 'GET');
  }

  // ------------------------------------------------------------ storage

  private write(s: ServedResource, input: Obj, type: 'ADDED' | 'MODIFIED', existing?: Obj): Obj {
    const obj = structuredClone(input);
    obj.apiVersion = apiVersionOf(s);
    obj.kind = s.kind;
    const m = meta(obj);
    obj.metadata = m;
    if (s.namespaced && !m.namespace) m.namespace = 'default';
    if (!s.namespaced) delete m.namespace;
    if (existing) {
      const em = meta(existing);
      m.uid = em.uid;
      m.creationTimestamp = em.creationTimestamp;
      const specChanged = JSON.stringify(withoutMetaStatus(existing)) !== JSON.stringify(withoutMetaStatus(obj));
      m.generation = ((em.generation as number | undefined) ?? 1) + (specChanged ? 1 : 0);
    } else {
      m.uid = randomUUID();
      m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      m.generation = 1;
    }
    m.resourceVersion = String(++this.rv);
    this.objects.get(idOf(s))?.set(keyOf(obj), obj);
    this.record(s, { rv: this.rv, type, object: obj });
    return obj;
  }

  private record(s: ServedResource, ev: HistoryEvent): void {
    this.history.get(idOf(s))?.push(ev);
    for (const w of this.watches) if (w.resource === s && matchesNamespace(w, ev.object)) this.send(w, { type: ev.type, object: ev.object });
  }

  // ------------------------------------------------------------ HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0 };
    this.requests.push(entry);
    try {
      if (this.opts.tokens) {
        const auth = req.headers.authorization ?? '';
        const user = auth.startsWith('Bearer ') ? this.opts.tokens[auth.slice(7)] : undefined;
        if (!user) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
        entry.user = user;
      }
      const body = await readBody(req);
      const out = this.route(req.method ?? 'GET', url, body, res);
      if (out === 'streaming') {
        entry.status = 200;
        return;
      }
      entry.status = out.code;
      reply(res, out.code, out.body);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'InternalError', (e as Error).message);
      entry.status = err.code;
      reply(res, err.code, status(err.code, err.reason, err.message));
    }
  }

  private route(method: string, url: URL, body: unknown, res: http.ServerResponse): { code: number; body: unknown } | 'streaming' {
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (method === 'GET' && segs.length === 1 && segs[0] === 'api') return { code: 200, body: { kind: 'APIVersions', versions: ['v1'] } };
    if (method === 'GET' && segs.length === 1 && segs[0] === 'apis') return { code: 200, body: this.groups() };
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 2) [group, version, rest] = ['', segs[1] as string, segs.slice(2)];
    else if (segs[0] === 'apis' && segs.length >= 3) [group, version, rest] = [segs[1] as string, segs[2] as string, segs.slice(3)];
    else throw notFound();
    const inGroup = SERVED.filter((s) => s.group === group && s.version === version && this.installed.has(idOf(s)));
    if (inGroup.length === 0) throw notFound();
    if (rest.length === 0 && method === 'GET') return { code: 200, body: resourceList(group, version, inGroup) };
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const s = inGroup.find((x) => x.plural === plural);
    if (!s || extra.length > 0 || (sub !== undefined && sub !== 'status') || (namespace !== undefined && !s.namespaced)) throw notFound();
    if (name === undefined) {
      if (method === 'GET') {
        const w = url.searchParams.get('watch');
        if (w === 'true' || w === '1') return this.watch(s, namespace, url.searchParams, res);
        return { code: 200, body: this.listBody(s, namespace) };
      }
      if (method === 'POST') return { code: 201, body: this.create(s, namespace, body) };
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    }
    const key = `${s.namespaced ? (namespace ?? '') : ''}/${name}`;
    const existing = this.objects.get(idOf(s))?.get(key);
    if (!existing) throw new HttpError(404, 'NotFound', `${s.plural} "${name}" not found`);
    switch (method) {
      case 'GET':
        return { code: 200, body: existing };
      case 'DELETE':
        this.remove(apiVersionOf(s), s.kind, name, namespace);
        return { code: 200, body: status(200, '', 'deleted') };
      case 'PUT':
      case 'PATCH': {
        if (!isObj(body)) throw new HttpError(400, 'BadRequest', 'body must be a JSON object');
        const wantRv = meta(body).resourceVersion;
        if (wantRv !== undefined && wantRv !== meta(existing).resourceVersion)
          throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${s.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
        let next = method === 'PUT' ? structuredClone(body) : (mergePatch(existing, body) as Obj);
        if (sub === 'status') next = { ...existing, status: next.status };
        else if (s.statusSubresource) next = { ...next, status: existing.status };
        next.metadata = { ...meta(existing), ...meta(next), name, resourceVersion: meta(existing).resourceVersion };
        if (s.namespaced) meta(next).namespace = namespace;
        return { code: 200, body: this.write(s, next, 'MODIFIED', existing) };
      }
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed`);
    }
  }

  private create(s: ServedResource, namespace: string | undefined, body: unknown): Obj {
    if (!isObj(body) || !isObj(body.metadata)) throw new HttpError(400, 'BadRequest', 'body must be an object with metadata');
    const m = { ...body.metadata };
    if (typeof m.name !== 'string' || m.name === '') {
      if (typeof m.generateName === 'string') m.name = `${m.generateName}${randomUUID().slice(0, 5)}`;
      else throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
    }
    if (s.namespaced) {
      if (m.namespace !== undefined && m.namespace !== namespace) throw new HttpError(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request');
      m.namespace = namespace;
    }
    const key = `${s.namespaced ? (namespace ?? '') : ''}/${m.name as string}`;
    if (this.objects.get(idOf(s))?.has(key)) throw new HttpError(409, 'AlreadyExists', `${s.plural} "${m.name as string}" already exists`);
    delete m.resourceVersion;
    return this.write(s, { ...body, metadata: m }, 'ADDED');
  }

  private listBody(s: ServedResource, namespace?: string): Obj {
    const items = [...(this.objects.get(idOf(s))?.values() ?? [])]
      .filter((o) => namespace === undefined || meta(o).namespace === namespace)
      .map((o) => {
        // Like kube-apiserver, items of built-in kinds come without apiVersion/kind in a JSON list.
        if (s.crd) return o;
        const { apiVersion: _a, kind: _k, ...rest } = o;
        return rest;
      });
    return { apiVersion: apiVersionOf(s), kind: `${s.kind}List`, metadata: { resourceVersion: String(this.rv) }, items };
  }

  private watch(s: ServedResource, namespace: string | undefined, q: URLSearchParams, res: http.ServerResponse): 'streaming' {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    let timer: NodeJS.Timeout | undefined;
    let bookmarkTimer: NodeJS.Timeout | undefined;
    const w: OpenWatch = {
      resource: s,
      namespace,
      res,
      bookmarks,
      close: () => {
        this.watches.delete(w);
        if (timer) clearTimeout(timer);
        if (bookmarkTimer) clearInterval(bookmarkTimer);
        res.end();
      },
    };
    res.on('close', () => {
      this.watches.delete(w);
      if (timer) clearTimeout(timer);
      if (bookmarkTimer) clearInterval(bookmarkTimer);
    });
    const rvParam = q.get('resourceVersion') ?? '';
    if (rvParam === '' || rvParam === '0') {
      // No starting point: synthetic ADDED for everything there is, then live events.
      for (const o of this.objects.get(idOf(s))?.values() ?? []) if (matchesNamespace(w, o)) this.send(w, { type: 'ADDED', object: o });
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < this.compactedRv) {
        this.send(w, { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${rvParam} (${this.compactedRv})`) });
        res.end();
        return 'streaming';
      }
      for (const ev of this.history.get(idOf(s)) ?? [])
        if (ev.rv > from && matchesNamespace(w, ev.object)) this.send(w, { type: ev.type, object: ev.object });
    }
    this.watches.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? '0');
    if (timeout > 0) timer = setTimeout(() => w.close(), timeout * 1000);
    if (bookmarks && this.opts.bookmarkIntervalMs) bookmarkTimer = setInterval(() => this.sendBookmark(w), this.opts.bookmarkIntervalMs);
    return 'streaming';
  }

  private sendBookmark(w: OpenWatch): void {
    this.send(w, { type: 'BOOKMARK', object: { apiVersion: apiVersionOf(w.resource), kind: w.resource.kind, metadata: { resourceVersion: String(this.rv) } } });
  }

  private send(w: OpenWatch, event: Obj): void {
    if (!w.res.writableEnded && !w.res.destroyed) w.res.write(`${JSON.stringify(event)}\n`);
  }

  private groups(): Obj {
    const groups = new Map<string, string[]>();
    for (const s of SERVED) {
      if (!s.group || !this.installed.has(idOf(s))) continue;
      const vs = groups.get(s.group) ?? [];
      if (!vs.includes(s.version)) vs.push(s.version);
      groups.set(s.group, vs);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, vs]) => ({
        name,
        versions: vs.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${name}/${vs[0] as string}`, version: vs[0] },
      })),
    };
  }
}

function matchesNamespace(w: OpenWatch, o: Obj): boolean {
  return w.namespace === undefined || meta(o).namespace === w.namespace;
}

function withoutMetaStatus(o: Obj): Obj {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

function resourceList(group: string, version: string, served: ServedResource[]): Obj {
  const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
  const resources: Obj[] = [];
  for (const s of served) {
    resources.push({ name: s.plural, singularName: s.kind.toLowerCase(), namespaced: s.namespaced, kind: s.kind, verbs });
    if (s.statusSubresource) resources.push({ name: `${s.plural}/status`, singularName: '', namespaced: s.namespaced, kind: s.kind, verbs: ['get', 'patch', 'update'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code < 300 ? 'Success' : 'Failure', message, reason, code };
}

function notFound(): HttpError {
  return new HttpError(404, 'NotFound', 'the server could not find the requested resource');
}

function reply(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'BadRequest', 'body is not JSON'));
      }
    });
  });
}
