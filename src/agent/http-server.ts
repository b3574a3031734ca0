// /healthz (the process serves), /readyz (the first full programming has completed and nothing
// since has left the node unprogrammed) and /metrics (prom-client text format).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HostPort } from './host-port.js';

export interface HealthSources {
  healthy(): { ok: boolean; detail: string };
  ready(): { ok: boolean; detail: string };
}

export class AgentHttpServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly health: HealthSources,
  ) {}

  async listen(at: HostPort): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => {
      void (async () => {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD' }).end();
          return;
        }
        if (path === '/healthz' || path === '/readyz') {
          const s = path === '/healthz' ? this.health.healthy() : this.health.ready();
          res.writeHead(s.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${s.ok ? 'ok' : 'not ok'}: ${s.detail}\n`);
          return;
        }
        if (path === '/metrics') {
          try {
            const body = await this.registry.metrics();
            res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
          } catch (err) {
            res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
          }
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz, /metrics\n');
      })();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
