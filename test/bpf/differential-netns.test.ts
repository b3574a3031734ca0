// Real traffic through EbpfDatapath: the sandbox builds a node namespace with two pods on routed
// veths (client, server) and an outside namespace; the fixture's policies are compiled and
// applied, so the programs are attached by the backend to the pods' host veths. Allowed and
// denied TCP, UDP and ICMP flows between the pods and to the outside must match the evaluator;
// an FQDN-learned IP expiring keeps an established TCP connection going while a new one is
// dropped. Everything (filters, pins, namespaces) is removed afterwards, also on failure.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { ifIndex } from 'libbpf-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/api/types.js';
import { compile } from '../../src/compile/index.js';
import { EbpfDatapath, queryHooks } from '../../src/datapath/ebpf/index.js';
import type { Flow, LearnedIP } from '../../src/policy/index.js';
import { Harness } from '../../src/sandbox/index.js';
import { CLIENT, DENIED_NET_IP, EXTERNAL, MODE, SERVER, SERVER_IP, evaluatorSays, fixtureState } from '../datapath/support/fixture.js';
import { builtObject, needRoot } from './harness.js';

const OPEN_NET_IP = '192.0.2.1';
const EXTRA = `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: open-net}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  egress:
  - name: doc-net
    action: Accept
    to: [{networks: [192.0.2.0/24]}]`;

const SERVER_SCRIPT = `
const net = require('net'), dgram = require('dgram');
let n = 0; const up = () => { if (++n === 4) process.stdout.write('ready\\n'); };
for (const port of [8080, 9090]) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); }).listen(port, '${SERVER_IP}', up);
for (const port of [5353, 5354]) { const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(port, '${SERVER_IP}', up); }
`;

// argv: tcp host port | udp host port | long host port durationMs newAtMs
const CLIENT_SCRIPT = `
const net = require('net'), dgram = require('dgram');
const [mode, host, portText, a, b] = process.argv.slice(1);
const port = Number(portText);
const connect = (ms) => new Promise((res) => {
  const s = net.connect({ host, port });
  const t = setTimeout(() => { s.destroy(); res(null); }, ms);
  s.on('connect', () => { clearTimeout(t); res(s); });
  s.on('error', () => { clearTimeout(t); res(null); });
});
const echo = (s, ms) => new Promise((res) => {
  const t = setTimeout(() => res(false), ms);
  s.once('data', () => { clearTimeout(t); res(true); });
  s.write('x');
});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
(async () => {
  if (mode === 'tcp') { const s = await connect(1000); out({ ok: s !== null }); s && s.destroy(); return; }
  if (mode === 'udp') {
    const u = dgram.createSocket('udp4');
    const t = setTimeout(() => { out({ ok: false }); u.close(); }, 1000);
    u.on('message', () => { clearTimeout(t); out({ ok: true }); u.close(); });
    u.send('ping', port, host);
    return;
  }
  const s = await connect(1000);
  if (!s) { out({ ok: false }); return; }
  const start = Date.now();
  let echoed = 0, failed = 0, fresh = null;
  while (Date.now() - start < Number(a)) {
    if (fresh === null && Date.now() - start >= Number(b)) { const n = await connect(1000); fresh = n !== null; n && n.destroy(); }
    (await echo(s, 1000)) ? echoed++ : failed++;
    await new Promise((r) => setTimeout(r, 100));
  }
  s.destroy();
  out({ ok: true, echoed, failed, fresh });
})();
`;

describe.skipIf(!needRoot)('EbpfDatapath attached to pod veths, with real traffic', () => {
  const pinRoot = `/sys/fs/bpf/dnsgate-test-${process.pid}-netns-dp`;
  let state: ClusterState;
  let h: Harness | undefined;
  let dp: EbpfDatapath | undefined;
  let server: ChildProcess | undefined;
  const ifindexes = new Map<string, number>();
  let learned: LearnedIP[] = [];

  beforeAll(async () => {
    state = fixtureState(EXTRA);
    h = await Harness.create({ state, nodeName: 'n0', outside: { addresses: [EXTERNAL, DENIED_NET_IP, OPEN_NET_IP], tcpPorts: [443], udpPorts: [7] } });
    for (const p of h.pods) ifindexes.set(p.ref, ifIndex(p.hostIf, h.nodeNetns));
    dp = EbpfDatapath.open({ objectPath: builtObject('dnsgate'), pinRoot, ...(h.nodeNetns ? { netns: h.nodeNetns } : {}) });
    const r = await dp.applyNode(compile(state, { nodeName: 'n0' }, { mode: MODE }), (k) => ifindexes.get(k));
    expect(r).toMatchObject({ enforced: 2, pending: [] });
    server = spawn('ip', ['netns', 'exec', h.pod(SERVER).netns, process.execPath, '-e', SERVER_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      server?.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }, 60_000);

  afterAll(async () => {
    server?.kill('SIGKILL');
    try {
      await dp?.uninstall();
    } finally {
      await h?.destroy();
      rmSync(pinRoot, { recursive: true, force: true });
    }
  });

  async function client(args: string[], timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const r = await h!.exec(CLIENT, [process.execPath, '-e', CLIENT_SCRIPT, ...args], { timeoutMs });
    return JSON.parse(r.stdout.trim() || '{}') as Record<string, unknown>;
  }

  async function ping(to: string): Promise<boolean> {
    return (await h!.exec(CLIENT, ['ping', '-c', '1', '-W', '1', to])).code === 0;
  }

  /** What the evaluator says for the whole flow (both directions: the connection needs both). */
  function expected(flow: Flow): boolean {
    const now = Date.now();
    return evaluatorSays(state, flow, 'egress', learned, now) === 'allow' && evaluatorSays(state, flow, 'ingress', learned, now) === 'allow';
  }

  const to = (ip: string): string => (ip === SERVER_IP ? SERVER : ip);

  it('the programs are attached to both pods\' host veths', () => {
    for (const ifindex of ifindexes.values()) {
      const q = queryHooks(ifindex, h!.nodeNetns);
      expect(q.ingress).toBeGreaterThan(0);
      expect(q.egress).toBeGreaterThan(0);
    }
  });

  it.each([
    ['TCP to the server on its allowed port', 'tcp', SERVER_IP, 8080, true],
    ['TCP to the server on an isolated port', 'tcp', SERVER_IP, 9090, false],
    ['UDP to the server on its allowed port', 'udp', SERVER_IP, 5353, true],
    ['UDP to the server on an isolated port', 'udp', SERVER_IP, 5354, false],
    ['TCP to the Admin-denied network', 'tcp', DENIED_NET_IP, 443, false],
    ['TCP to the Admin-accepted network', 'tcp', OPEN_NET_IP, 443, true],
    ['UDP to the Admin-accepted network', 'udp', OPEN_NET_IP, 7, true],
    ['UDP to an unlearned external address (strict)', 'udp', EXTERNAL, 7, false],
  ] as const)('%s', async (_label, proto, ip, port, allowed) => {
    const flow: Flow = { from: CLIENT, to: to(ip), protocol: proto === 'tcp' ? 'TCP' : 'UDP', port };
    expect(expected(flow)).toBe(allowed);
    expect((await client([proto, ip, String(port)])).ok).toBe(allowed);
  });

  it.each([
    ['ICMP to the Admin-accepted network', OPEN_NET_IP, true],
    ['ICMP to the ingress-isolated server', SERVER_IP, false],
    ['ICMP to an unlearned external address (strict)', EXTERNAL, false],
  ] as const)('%s', async (_label, ip, allowed) => {
    expect(expected({ from: CLIENT, to: to(ip), protocol: 'ICMP' })).toBe(allowed);
    expect(await ping(ip)).toBe(allowed);
  });

  it('a learned IP opens TCP 443; after it expires the established connection keeps going and a new one is dropped', async () => {
    expect((await client(['tcp', EXTERNAL, '443'])).ok).toBe(false);
    const expiresAt = Date.now() + 2_500;
    learned = [{ pod: CLIENT, name: 'api.example.com', ip: EXTERNAL, expiresAt }];
    await dp!.learn(learned.map((l) => ({ ...l, rules: [] })));
    expect(expected({ from: CLIENT, to: EXTERNAL, protocol: 'TCP', port: 443 })).toBe(true);
    // One connection open for 5 s, a second attempt at 3.5 s (after the expiry).
    const r = await client(['long', EXTERNAL, '443', '5000', '3500'], 20_000);
    expect(Date.now()).toBeGreaterThan(expiresAt);
    expect(expected({ from: CLIENT, to: EXTERNAL, protocol: 'TCP', port: 443 })).toBe(false);
    expect(r).toMatchObject({ ok: true, failed: 0, fresh: false });
    expect(Number(r.echoed)).toBeGreaterThan(10);
  }, 30_000);

  it('counted the client\'s flows and drops on its endpoint', () => {
    const c = dp!.endpointCounters(CLIENT)!;
    expect(c.egress.newFlows).toBeGreaterThanOrEqual(4);
    expect(c.egress.deniedPackets).toBeGreaterThanOrEqual(4);
    expect(c.ingress.allowedPackets).toBeGreaterThan(10);
    const s = dp!.endpointCounters(SERVER)!;
    expect(s.ingress.deniedPackets).toBeGreaterThanOrEqual(2);
  });

  it('uninstall detaches every filter and removes the pins', async () => {
    await dp!.uninstall();
    dp = undefined;
    for (const ifindex of ifindexes.values()) expect(queryHooks(ifindex, h!.nodeNetns)).toEqual({});
    expect((await client(['tcp', SERVER_IP, '9090'])).ok).toBe(true);
  });
});
