// Real traffic through the attached programs: a "node" and a "pod" network namespace joined by a
// veth, the programs on the node side (tc clsact, attached by `tc ... object-pinned`), real TCP
// from the pod. Checks that the hooks see what test-run assumes (skb->ifindex = host veth) and
// that a flow allowed by a learned IP keeps going after the IP expires while a new one is dropped.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from 'libbpf-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtObject, needRoot } from './harness.js';
import * as L from '../../src/datapath/ebpf/layout.js';

const tag = `${process.pid % 100000}`;
const NODE_NS = `dgt${tag}n`;
const POD_NS = `dgt${tag}p`;
const HOST_IF = `dgh${tag}`;
const POD_IF = `dgp${tag}`;
const NODE_IP = '10.200.0.1';
const POD_IP = '10.200.0.2';
const EP = 1;
const SLOT = 1;

const SERVER = `
const net = require('net');
for (const port of [8080, 8081]) net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); }).listen(port, '${NODE_IP}', () => process.stdout.write('up' + port + '\\n'));
`;

// argv: mode ('probe' port | 'long' durationMs newAtMs)
const CLIENT = `
const net = require('net');
const connect = (port, ms) => new Promise((res) => {
  const s = net.connect({ host: '${NODE_IP}', port });
  const t = setTimeout(() => { s.destroy(); res(null); }, ms);
  s.on('connect', () => { clearTimeout(t); res(s); });
  s.on('error', () => { clearTimeout(t); res(null); });
});
const echo = (s, ms) => new Promise((res) => {
  const t = setTimeout(() => res(false), ms);
  s.once('data', () => { clearTimeout(t); res(true); });
  s.write('x');
});
(async () => {
  const [mode, a, b] = process.argv.slice(1);
  if (mode === 'probe') {
    const s = await connect(Number(a), 1000);
    console.log(JSON.stringify({ connected: s !== null }));
    s && s.destroy();
    return;
  }
  const s = await connect(8080, 1000);
  if (!s) { console.log(JSON.stringify({ connected: false })); return; }
  const start = Date.now();
  let ok = 0, failed = 0, newConnected = null;
  while (Date.now() - start < Number(a)) {
    if (newConnected === null && Date.now() - start >= Number(b)) {
      const n = await connect(8080, 1000);
      newConnected = n !== null;
      n && n.destroy();
    }
    (await echo(s, 1000)) ? ok++ : failed++;
    await new Promise((r) => setTimeout(r, 100));
  }
  s.destroy();
  console.log(JSON.stringify({ connected: true, ok, failed, newConnected }));
})();
`;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNs(ns: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, ...args]);
}

async function client(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn('ip', ['netns', 'exec', POD_NS, process.execPath, '-e', CLIENT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'exit');
  return JSON.parse(out.trim()) as Record<string, unknown>;
}

describe.skipIf(!needRoot)('attached to a veth, with real TCP', () => {
  const pinRoot = `/sys/fs/bpf/dnsgate-test-${process.pid}-netns`;
  let obj: BpfObject | undefined;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    rmSync(pinRoot, { recursive: true, force: true });
    mkdirSync(pinRoot, { recursive: true });
    sh('ip', ['netns', 'add', NODE_NS]);
    sh('ip', ['netns', 'add', POD_NS]);
    sh('ip', ['link', 'add', HOST_IF, 'netns', NODE_NS, 'type', 'veth', 'peer', 'name', POD_IF, 'netns', POD_NS]);
    inNs(NODE_NS, ['ip', 'addr', 'add', `${NODE_IP}/24`, 'dev', HOST_IF]);
    inNs(POD_NS, ['ip', 'addr', 'add', `${POD_IP}/24`, 'dev', POD_IF]);
    for (const [ns, dev] of [[NODE_NS, HOST_IF], [POD_NS, POD_IF], [NODE_NS, 'lo'], [POD_NS, 'lo']] as const) inNs(ns, ['ip', 'link', 'set', dev, 'up']);

    obj = BpfObject.load(builtObject('dnsgate'), { pinRoot });
    obj.program(L.PROGRAM.fromPod).pin(join(pinRoot, 'from_pod'));
    obj.program(L.PROGRAM.toPod).pin(join(pinRoot, 'to_pod'));
    inNs(NODE_NS, ['tc', 'qdisc', 'add', 'dev', HOST_IF, 'clsact']);
    // nsenter, not `ip netns exec`: the latter remounts /sys, hiding the bpffs pins.
    for (const [hook, prog] of [['ingress', 'from_pod'], ['egress', 'to_pod']] as const) {
      sh('nsenter', [`--net=/run/netns/${NODE_NS}`, 'tc', 'filter', 'add', 'dev', HOST_IF, hook, 'bpf', 'da', 'object-pinned', join(pinRoot, prog)]);
    }
    const ifindex = Number(inNs(NODE_NS, ['cat', `/sys/class/net/${HOST_IF}/ifindex`]).trim());

    obj.map(L.MAP.endpoints).update(
      L.encodeEndpointKey(ifindex),
      L.encodeEndpoint({ epId: EP, mode: 'strict', egressIsolated: false, ingressIsolated: false, allowSample: 0, podIp4: POD_IP }),
    );
    const { key } = L.encodePolicyKeyCidr(EP, 'egress', '0.0.0.0/0');
    obj.map(L.MAP.policyV4).update(key, L.encodeRuleList([
      { proto: L.Proto.tcp, portLo: 8080, portHi: 8080, tier: 'baseline', action: 'accept', fqdn: true, fqdnSlot: SLOT, ruleId: 11 },
    ]));

    server = spawn('ip', ['netns', 'exec', NODE_NS, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      server?.stdout?.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('up8080') && seen.includes('up8081')) resolve();
      });
      server?.once('exit', () => reject(new Error('server exited')));
    });
  });

  afterAll(() => {
    server?.kill();
    for (const ns of [NODE_NS, POD_NS]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // not created
      }
    }
    try {
      obj?.unpinMaps();
    } finally {
      obj?.close();
      rmSync(pinRoot, { recursive: true, force: true });
    }
  });

  function learn(ttlMs: number): void {
    const expires = process.hrtime.bigint() + BigInt(ttlMs) * 1_000_000n;
    obj?.map(L.MAP.learned).update(L.encodeLearnedKey({ epId: EP, fqdnSlot: SLOT, addr: NODE_IP }), L.encodeLearnedValue(expires));
  }

  it('drops a connection before the IP is learned', async () => {
    expect(await client(['probe', '8080'])).toEqual({ connected: false });
  });

  it('an established connection outlives its learned IP; a new one after expiry is dropped', async () => {
    learn(2_500);
    expect(await client(['probe', '8081'])).toEqual({ connected: false });
    const r = await client(['long', '5000', '3500']);
    expect(r).toEqual({ connected: true, ok: r.ok, failed: 0, newConnected: false });
    expect(Number(r.ok)).toBeGreaterThan(10);
  }, 20_000);

  it('counted the flows and denials on the veth\'s endpoint', () => {
    const c = L.decodeCounters(obj?.map(L.MAP.counters).lookupPerCpu(L.encodeCounterKey(EP, 'egress')) ?? []);
    expect(c.newFlows).toBeGreaterThanOrEqual(1n);
    expect(c.deniedPackets).toBeGreaterThanOrEqual(3n);
    const ci = L.decodeCounters(obj?.map(L.MAP.counters).lookupPerCpu(L.encodeCounterKey(EP, 'ingress')) ?? []);
    expect(ci.allowedPackets).toBeGreaterThan(10n);
  });
});
