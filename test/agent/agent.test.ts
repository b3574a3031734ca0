// The agent in-process with the in-memory datapath and the file source (no root needed): start
// order and readiness, /healthz /readyz /metrics (the agent's and the proxy's metrics in one
// registry), manifests edits reprogrammed, stop; and the decision log's content and rate cap.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { resolveAgentConfig } from '../../src/agent/config.js';
import { DecisionLog } from '../../src/agent/decision-log.js';
import { AgentMetrics } from '../../src/agent/metrics.js';
import { Reconciler } from '../../src/agent/reconciler.js';
import { parseManifests } from '../../src/api/load.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { FileSource } from '../../src/sources/files/index.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A pino logger whose lines land in `lines` (parsed). */
function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function get(base: string, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${base}${path}`);
  return { status: r.status, body: await r.text() };
}

describe('Agent (memory datapath, file source)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('starts, serves health/readiness/metrics, reprograms on a manifest edit, and stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnsgate-agent-test-'));
    dirs.push(dir);
    const manifest = join(dir, 'cluster.yaml');
    copyFileSync(join(REPO, 'test/e2e/fixtures/tiers.yaml'), manifest);
    const config = resolveAgentConfig({
      file: { value: { manifests: [manifest], datapath: 'memory', dns: { listen: ['127.0.0.1:0'], upstreams: ['127.0.0.1:9'] }, http: { listen: '127.0.0.1:0' }, reconcile: { debounceMs: 10 } }, path: 'test' },
    });
    const { logger, lines } = capture();
    const datapath = new MemoryDatapath();
    const agent = new Agent({ config, source: new FileSource({ paths: [manifest], debounceMs: 20, pollIntervalMs: 200 }), datapath, logger, tracker: { pollIntervalMs: 0 } });
    await agent.start();
    try {
      expect(agent.state).toBe('running');
      const base = `http://127.0.0.1:${agent.httpListen!.port}`;
      expect(await get(base, '/healthz')).toEqual({ status: 200, body: 'ok: running\n' });
      expect(await get(base, '/readyz')).toEqual({ status: 200, body: 'ok: programmed\n' });
      expect((await get(base, '/nope')).status).toBe(404);
      const metrics = (await get(base, '/metrics')).body;
      expect(metrics).toMatch(/^dnsgate_agent_ready 1$/m);
      expect(metrics).toMatch(/^dnsgate_agent_endpoints\{state="pending"\} 6$/m);
      expect(metrics).toContain('dnsgate_dns_queries_total');
      expect(metrics).toMatch(/^dnsgate_agent_change_to_programmed_seconds_count 1$/m);
      // Every local pod is compiled; none has a local interface here, so the view knows them all.
      expect(agent.view.podBySource('10.244.70.10')?.domainRules.map((d) => d.pattern)).toEqual(['api.example.com']);
      const order = lines.map((l) => l.event).filter((e) => ['http_listening', 'programmed', 'dns_listening', 'ready'].includes(String(e)));
      expect(order).toEqual(['http_listening', 'programmed', 'dns_listening', 'ready']);

      // An edit removes teams' domain policy: reprogrammed, and the view follows.
      const text = readFileSync(manifest, 'utf8');
      writeFileSync(manifest, text.replace('name: teams-egress, namespace: teams', 'name: teams-egress, namespace: locked-a'));
      for (let i = 0; i < 100 && agent.view.podBySource('10.244.70.10')?.domainRules.length !== 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(agent.view.podBySource('10.244.70.10')?.domainRules).toEqual([]);
      expect(agent.view.podBySource('10.244.71.10')?.domainRules.map((d) => d.pattern)).toEqual(['api.example.com']);
      expect((await get(base, '/metrics')).body).toMatch(/^dnsgate_agent_change_to_programmed_seconds_count [2-9]$/m);
    } finally {
      await agent.stop();
    }
    expect(agent.state).toBe('stopped');
    expect(agent.ready().ok).toBe(false);
    await expect(fetch(`http://127.0.0.1:${agent.httpListen!.port}/healthz`)).rejects.toThrow();
  });

  it('fails start with a typed error when the DNS proxy cannot listen, and cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnsgate-agent-test-'));
    dirs.push(dir);
    const manifest = join(dir, 'cluster.yaml');
    copyFileSync(join(REPO, 'test/e2e/fixtures/tiers.yaml'), manifest);
    // 192.0.2.1 is not an address of this machine: bind fails with EADDRNOTAVAIL.
    const config = resolveAgentConfig({ file: { value: { manifests: [manifest], datapath: 'memory', dns: { listen: ['192.0.2.1:5353'], upstreams: ['127.0.0.1:9'] }, http: { listen: '127.0.0.1:0' } }, path: 'test' } });
    const agent = new Agent({ config, source: new FileSource({ paths: [manifest], pollIntervalMs: 0 }), datapath: new MemoryDatapath(), logger: pino({ level: 'silent' }), tracker: { pollIntervalMs: 0 } });
    await expect(agent.start()).rejects.toMatchObject({ name: 'AgentLifecycleError', step: 'start' });
    expect(agent.state).toBe('failed');
  });
});

describe('DecisionLog', () => {
  const state = parseManifests(readFileSync(join(REPO, 'test/e2e/fixtures/tiers.yaml'), 'utf8'), 'tiers.yaml').state;

  async function programmed(): Promise<{ dp: MemoryDatapath; lines: Record<string, unknown>[]; log: DecisionLog; registry: Registry }> {
    const dp = new MemoryDatapath();
    const registry = new Registry();
    const metrics = new AgentMetrics(registry, { datapath: () => dp.counters(), endpoints: () => ({ enforced: 0, pending: 0 }), ready: () => true });
    const r = new Reconciler({ datapath: dp, mode: 'standard', nodeName: undefined, debounceMs: 0, logger: pino({ level: 'silent' }) });
    r.stateChanged(state, []);
    r.interfacesChanged(new Map(state.pods.map((p, i) => [`${p.metadata.namespace}/${p.metadata.name}`, 10 + i])));
    await r.flush();
    const { logger, lines } = capture();
    let now = 1_000_000;
    const log = new DecisionLog(logger, metrics, 200, () => now);
    dp.onEvent((e) => log.record(e));
    Object.defineProperty(log, 'tick', { value: (ms: number) => (now += ms) });
    return { dp, lines, log, registry };
  }

  it.each([
    ['legacy/app', '169.254.169.254', 80, { decision: 'deny', tier: 'Admin', policy: 'ClusterNetworkPolicy/block-instance-metadata-service', rule: 'deny-imds' }],
    ['hybrid/ledger', '198.51.100.80', 80, { decision: 'deny', tier: 'Baseline', policy: 'ClusterNetworkPolicy/baseline-default-deny', rule: 'default-deny' }],
    ['locked-b/app', '198.51.100.65', 80, { decision: 'allow', tier: 'NetworkPolicy', policy: 'NetworkPolicy/locked-b/allow-reports', rule: 0 }],
    ['locked-b/app', '198.51.100.66', 80, { decision: 'deny', tier: 'NetworkPolicy', policy: null, rule: null }],
    ['legacy/app', '203.0.113.64', 443, { decision: 'allow', tier: 'Admin', policy: 'ClusterNetworkPolicy/accept-documentation-range', rule: 'accept-range' }],
  ] as const)('%s -> %s:%d is logged with tier, policy and rule', async (pod, peer, port, want) => {
    const { dp, lines } = await programmed();
    dp.decide(pod, 'egress', { peer, protocol: 'TCP', port });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'decision', pod, direction: 'egress', dst: peer, dport: port, protocol: 'TCP', ...want });
    expect(lines[0]!.level).toBe(want.decision === 'deny' ? 40 : 30);
  });

  it('caps lines per second and reports how many were dropped', async () => {
    const { dp, lines, log, registry } = await programmed();
    for (let i = 0; i < 250; i++) dp.decide('legacy/app', 'egress', { peer: '169.254.169.254', protocol: 'TCP', port: 80 });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(200);
    (log as unknown as { tick(ms: number): void }).tick(1000);
    dp.decide('legacy/app', 'egress', { peer: '169.254.169.254', protocol: 'TCP', port: 80 });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(201);
    expect(lines[200]).toMatchObject({ suppressed: 50 });
    expect(await registry.getSingleMetricAsString('dnsgate_agent_decision_log_suppressed_total')).toMatch(/ 50$/m);
    expect(await registry.getSingleMetricAsString('dnsgate_agent_decisions_total')).toContain('dnsgate_agent_decisions_total{direction="egress",verdict="deny",tier="Admin"} 251');
  });
});
