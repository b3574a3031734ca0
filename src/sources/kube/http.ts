// Plain JSON requests to the API server with the TLS and credentials of a KubeConfig. Lists and
// writes go through here (the wire JSON, unconverted), watches through client-node's Watch, so an
// object read by a list and by a watch has the same shape when it reaches validation.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError } from './errors.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Defaults to application/json; PATCH callers pass the patch type. */
  contentType?: string;
  timeoutMs?: number;
}

type Json = Record<string, unknown>;

export class KubeHttp {
  readonly server: string;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError('GET', '/', 0, 'the kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Json> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ro: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(ro);
    const headers: Record<string, string> = { Accept: 'application/json' };
    for (const [k, v] of Object.entries(ro.headers ?? {})) if (v !== undefined) headers[k] = String(v);
    if (ro.auth) headers.Authorization = `Basic ${Buffer.from(ro.auth).toString('base64')}`;
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    if (payload) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const mod = url.protocol === 'https:' ? https : http;
    const target = `${path}${url.search}`;
    return new Promise<Json>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: ro.agent as http.Agent | undefined, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new KubeApiError(method, target, 0, e.message)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : {};
          } catch {
            body = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && isJson(body)) return resolve(body);
          const st = isJson(body) ? body : {};
          const detail = typeof st.message === 'string' ? st.message : text.slice(0, 200) || (res.statusMessage ?? '');
          reject(new KubeApiError(method, target, status, detail, typeof st.reason === 'string' ? st.reason : undefined));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', (e) => reject(new KubeApiError(method, target, 0, e.message)));
      req.end(payload);
    });
  }
}

function isJson(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
