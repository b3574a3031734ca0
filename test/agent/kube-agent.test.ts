// The agent in-process with the Kubernetes source (API stand-in, memory datapath, no root): /readyz
// stays false while the API cannot be reached (nothing new is programmed; pinned state of a previous
// run would keep enforcing), turns true after the first full sync and programming; the
// leader-elected status publisher takes the Lease and hands it back on stop.
import net, { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { resolveAgentConfig } from '../../src/agent/config.js';
import { PolicyStatusPublisher } from '../../src/agent/policy-status.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { KubeClusterSource } from '../../src/sources/kube/index.js';
import { kubeConfigFor, testCert } from '../support/kube-apiserver/client-config.js';
import * as fx from '../support/kube-apiserver/fixtures.js';
import { KubeApiStandIn } from '../support/kube-apiserver/server.js';

type Obj = Record<string, unknown>;

/** A TCP relay to `target` that refuses (resets) every connection until opened. */
async function gate(target: URL): Promise<{ url: string; open(): void; close(): Promise<void> }> {
  let isOpen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    if (!isOpen) return void c.destroy();
    const u = net.connect(Number(target.port), target.hostname);
    for (const s of [c, u]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (c.destroy(), u.destroy()));
    }
    c.pipe(u).pipe(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    open: () => (isOpen = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function readyz(agent: Agent): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${agent.httpListen!.port}/readyz`);
  return { status: r.status, body: await r.text() };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Agent with the Kubernetes source (stand-in, memory datapath)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('/readyz is false until the first full sync and programming; the leader takes the Lease and releases it on stop', async () => {
    const cert = testCert();
    const api = new KubeApiStandIn({ tls: cert, tokens: { tok: 'agent' } });
    await api.start();
    cleanups.push(() => api.stop());
    api.apply(fx.namespace('default'));
    api.apply(fx.pod('default', 'web', '10.244.0.5', { app: 'web' }));
    api.apply(fx.appNetworkPolicy('default', 'web-egress'));
    const g = await gate(new URL(api.url));
    cleanups.push(() => g.close());
    const dir = mkdtempSync(join(tmpdir(), 'dnsgate-kube-agent-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    const config = resolveAgentConfig({
      file: { value: { nodeName: 'node-a', datapath: 'memory', dns: { listen: ['127.0.0.1:0'], upstreams: ['127.0.0.1:9'] }, http: { listen: '127.0.0.1:0' }, paths: { state: dir }, reconcile: { debounceMs: 10 } }, path: 'test' },
      env: { POD_NAMESPACE: 'dnsgate-system' },
    });
    expect(config.kubernetes).toEqual({ leaseNamespace: 'dnsgate-system', leaseName: 'dnsgate-status' });
    const logger = pino({ level: 'silent' });
    const source = new KubeClusterSource({ kubeConfig: kubeConfigFor(g.url, cert.cert, 'tok'), backoff: { initialMs: 20, maxMs: 100 } });
    const publisher = new PolicyStatusPublisher(source, config, logger, { retryPeriodMs: 50, leaseDurationMs: 2000, renewDeadlineMs: 1500 });
    const agent = new Agent({ config, source, datapath: new MemoryDatapath(), logger, sidecars: [publisher], tracker: { pollIntervalMs: 0 }, previous: null });
    const started = agent.start();
    started.catch(() => {}); // awaited below; a failure before that must not go unhandled
    cleanups.push(() => agent.stop());
    await until('http listening', () => agent.httpListen !== undefined);
    await new Promise((r) => setTimeout(r, 300)); // several refused list attempts
    expect(agent.state).toBe('starting');
    expect(await readyz(agent)).toEqual({ status: 503, body: 'not ok: cluster source not synced yet\n' });
    expect(agent.reconciler.applied).toBeUndefined(); // nothing new programmed
    expect(publisher.isLeader).toBe(false); // no status written from a cluster not yet seen

    g.open();
    await started;
    expect(await readyz(agent)).toEqual({ status: 200, body: 'ok: programmed\n' });
    expect(agent.view.podBySource('10.244.0.5')?.domainRules.map((d) => d.pattern)).toEqual(['api.example.com']);
    await until('leadership', () => publisher.isLeader);
    const lease = (): Obj | undefined => api.get('coordination.k8s.io/v1', 'Lease', 'dnsgate-status', 'dnsgate-system')?.spec as Obj | undefined;
    expect(lease()?.holderIdentity).toBe('node-a');
    await until('Accepted=True', () => {
      const st = api.get('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'web-egress', 'default')?.status as Obj | undefined;
      return (st?.conditions as Obj[] | undefined)?.some((c) => c.type === 'Accepted' && c.status === 'True') === true;
    });

    await agent.stop();
    expect(lease()?.holderIdentity).toBe('');
    expect(publisher.isLeader).toBe(false);
  });
});
