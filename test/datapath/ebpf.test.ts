// EbpfDatapath on the real kernel (root; under CI=true it must run): learning with per-key
// bookkeeping, sweeping, applying compilations incrementally, moving an endpoint between
// interfaces, adoption of pinned maps by a restarted datapath, events, counters and uninstall.
// Packets go through the loaded programs with BPF_PROG_TEST_RUN (they arrive on ifindex 1), so
// the programs are not attached anywhere here (test/bpf/differential-netns.test.ts does that).
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TcAct, openPinnedMap } from 'libbpf-ts';
import { afterEach, describe, expect, it } from 'vitest';
import type { CompiledNode } from '../../src/compile/index.js';
import { EbpfApplyError, EbpfClosedError, EbpfDatapath, EbpfLearnError } from '../../src/datapath/ebpf/index.js';
import type { EbpfDatapathOptions } from '../../src/datapath/ebpf/index.js';
import { MAP, decodeLearnedValue, encodeEndpointKey, encodeLearnedKey } from '../../src/datapath/ebpf/layout.js';
import type { DatapathEvent, LearnedEntry } from '../../src/datapath/types.js';
import { TEST_IFINDEX, builtObject, needRoot } from '../bpf/harness.js';
import { frame } from '../bpf/packets.js';
import { CLIENT, CLIENT_IP, DENIED_NET_IP, EXTERNAL, SERVER, SERVER_IP, fixtureNode, fixtureState } from './support/fixture.js';

const NOW = 5_000_000;
const pinRoot = `/sys/fs/bpf/dnsgate-test-${process.pid}-ebpf`;
const opened: EbpfDatapath[] = [];

function open(extra: Partial<EbpfDatapathOptions> = {}): EbpfDatapath {
  const dp = EbpfDatapath.open({ objectPath: builtObject('dnsgate'), pinRoot, attachPrograms: false, noCtInsert: true, events: 'manual', clock: () => NOW, ...extra });
  opened.push(dp);
  return dp;
}

afterEach(async () => {
  for (const dp of opened.splice(0)) await dp.close();
  // Whatever a failed test left: the pins go with the directory.
  rmSync(pinRoot, { recursive: true, force: true });
});

type Verdict = 'allow' | 'deny';

function run(dp: EbpfDatapath, dir: 'egress' | 'ingress', src: string, dst: string, dport: number): Verdict {
  const r = dp.programs()[dir].testRun({ data: frame({ src, dst, l4: { proto: 'tcp', sport: 40000, dport } }), dataOutSize: 0 });
  if (r.retval === TcAct.OK) return 'allow';
  if (r.retval === TcAct.SHOT) return 'deny';
  throw new Error(`tc verdict ${r.retval}`);
}

const clientOut = (dp: EbpfDatapath, dst: string, port = 443): Verdict => run(dp, 'egress', CLIENT_IP, dst, port);
const onLoopback = (endpoint: string) => (k: string) => (k === endpoint ? TEST_IFINDEX : undefined);
const learned = (name: string, ip: string, expiresAt: number): LearnedEntry => ({ pod: CLIENT, name, ip, expiresAt, rules: [] });

function kernelLearned(): Map<string, bigint> {
  const m = openPinnedMap(join(pinRoot, MAP.learned));
  try {
    return new Map(m.entries().map(([k, v]) => [k.toString('hex'), decodeLearnedValue(v)]));
  } finally {
    m.close();
  }
}

describe.skipIf(!needRoot)('EbpfDatapath on the real kernel', () => {
  const node: CompiledNode = fixtureNode();
  const slot = node.endpoints.get(CLIENT)!.slots[0]!;
  const epId = node.endpoints.get(CLIENT)!.epId;
  const keyHex = (ip: string): string => encodeLearnedKey({ epId, fqdnSlot: slot, addr: ip }).toString('hex');

  it('learn resolves with the entry in dg_learned (monotonic expiry) and the flow allowed', async () => {
    const dp = open();
    await dp.applyNode(node, onLoopback(CLIENT));
    expect(clientOut(dp, EXTERNAL)).toBe('deny');
    const before = process.hrtime.bigint();
    await dp.learn([learned('api.example.com', EXTERNAL, NOW + 30_000)]);
    const after = process.hrtime.bigint();
    const exp = kernelLearned().get(keyHex(EXTERNAL));
    expect(exp).toBeDefined();
    // 30 s after "now" on the kernel's clock, read while learn ran.
    expect(exp! - before).toBeGreaterThanOrEqual(30_000_000_000n);
    expect(exp! - after).toBeLessThanOrEqual(30_000_000_000n);
    expect(clientOut(dp, EXTERNAL)).toBe('allow');
    expect(clientOut(dp, EXTERNAL, 80)).toBe('deny');
    // Another pod's learning opens nothing for the client.
    await dp.learn([{ ...learned('api.example.com', '203.0.113.99', NOW + 30_000), pod: SERVER }]);
    expect(clientOut(dp, '203.0.113.99')).toBe('deny');
  });

  it('two names on one IP: forgetting one keeps the key (at the other expiry), forgetting both deletes it', async () => {
    const dp = open();
    await dp.applyNode(node, onLoopback(CLIENT));
    await dp.learn([learned('api.example.com', EXTERNAL, NOW + 10_000), learned('www.example.com', EXTERNAL, NOW + 60_000)]);
    expect(dp.counters()).toMatchObject({ learnedEntries: 2, learnedKeys: 1 });
    const long = kernelLearned().get(keyHex(EXTERNAL))!;
    await dp.forget([{ pod: CLIENT, name: 'www.example.com', ip: EXTERNAL }]);
    const short = kernelLearned().get(keyHex(EXTERNAL))!;
    expect(Number((long - short) / 1_000_000n)).toBeGreaterThan(49_000);
    expect(clientOut(dp, EXTERNAL)).toBe('allow');
    await dp.forget([{ pod: CLIENT, name: 'api.example.com', ip: EXTERNAL }]);
    expect(kernelLearned().has(keyHex(EXTERNAL))).toBe(false);
    expect(clientOut(dp, EXTERNAL)).toBe('deny');
  });

  it('an entry already expired is written expired; sweep removes expired entries, bounded', async () => {
    const dp = open();
    await dp.applyNode(node, onLoopback(CLIENT));
    await dp.learn([learned('a.example.com', '203.0.113.1', NOW - 1), learned('b.example.com', '203.0.113.2', NOW + 1_000), learned('c.example.com', '203.0.113.3', NOW + 2_000)]);
    expect(clientOut(dp, '203.0.113.1')).toBe('deny');
    expect(clientOut(dp, '203.0.113.2')).toBe('allow');
    expect((await dp.sweep(NOW + 5_000, 2)).map((r) => r.name)).toEqual(['a.example.com', 'b.example.com']);
    expect(kernelLearned().size).toBe(1);
    expect((await dp.sweep(NOW + 5_000, 2)).map((r) => r.name)).toEqual(['c.example.com']);
    expect(kernelLearned().size).toBe(0);
  });

  it('a learn that cannot be programmed rejects with a typed error and leaves nothing behind', async () => {
    const dp = open({ maxEntries: { learned: 2 } });
    await dp.applyNode(node, onLoopback(CLIENT));
    const batch = ['203.0.113.1', '203.0.113.2', '203.0.113.3'].map((ip) => learned('api.example.com', ip, NOW + 10_000));
    await expect(dp.learn(batch)).rejects.toBeInstanceOf(EbpfLearnError);
    expect(kernelLearned().size).toBe(0);
    expect(dp.counters()).toMatchObject({ learnedEntries: 0, learnFailures: 1 });
    await expect(dp.learn([learned('api.example.com', 'nope', NOW + 1)])).rejects.toBeInstanceOf(EbpfLearnError);
  });

  it('applies changed compilations incrementally: a removed rule stops deciding, an added one starts', async () => {
    const dp = open();
    await dp.applyNode(node, onLoopback(SERVER));
    expect(run(dp, 'ingress', CLIENT_IP, SERVER_IP, 8080)).toBe('allow');
    expect(run(dp, 'ingress', CLIENT_IP, SERVER_IP, 9090)).toBe('deny');
    const widened = fixtureNode(fixtureState(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: server-9090, namespace: a}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{ports: [{protocol: TCP, port: 9090}]}]`));
    const r = await dp.applyNode(widened, onLoopback(SERVER));
    expect(r.prefixesWritten).toBeGreaterThan(0);
    expect(run(dp, 'ingress', CLIENT_IP, SERVER_IP, 9090)).toBe('allow');
    expect(run(dp, 'ingress', '192.0.2.50', SERVER_IP, 9090)).toBe('allow');
    expect(run(dp, 'ingress', '192.0.2.50', SERVER_IP, 8080)).toBe('deny');
    const back = await dp.applyNode(node, onLoopback(SERVER));
    expect(back.prefixesDeleted + back.prefixesWritten).toBeGreaterThan(0);
    expect(run(dp, 'ingress', '192.0.2.50', SERVER_IP, 9090)).toBe('deny');
    expect(dp.counters().policyEntries).toBe([...node.endpoints.values()].reduce((n, e) => n + e.egress.prefixes.size + e.ingress.prefixes.size, 0));
  });

  it('moves an endpoint between interfaces, leaves one without an ifindex pending, refuses a shared ifindex', async () => {
    const dp = open();
    const r = await dp.applyNode(node, onLoopback(CLIENT));
    expect(r.pending).toEqual([SERVER]);
    expect(clientOut(dp, DENIED_NET_IP)).toBe('deny');
    // The client moves away from the loopback: packets there belong to no endpoint and pass.
    await dp.applyNode(node, (k) => (k === CLIENT ? 4242 : undefined));
    expect(clientOut(dp, DENIED_NET_IP)).toBe('allow');
    const eps = openPinnedMap(join(pinRoot, MAP.endpoints));
    try {
      expect(eps.keys().map((k) => k.readUInt32LE(0))).toEqual([4242]);
    } finally {
      eps.close();
    }
    expect(dp.enforcedEndpoints()).toEqual(new Map([[CLIENT, 4242]]));
    await expect(dp.applyNode(node, () => 9)).rejects.toBeInstanceOf(EbpfApplyError);
  });

  it('an endpoint whose interface vanished before attach is left pending, not failing the node', async () => {
    const dp = open({ attachPrograms: true });
    const r = await dp.applyNode(node, (k) => (k === CLIENT ? 987_654 : undefined));
    expect(r).toMatchObject({ enforced: 0, pending: expect.arrayContaining([CLIENT, SERVER]) as unknown });
    const eps = openPinnedMap(join(pinRoot, MAP.endpoints));
    try {
      expect(eps.keys()).toEqual([]);
    } finally {
      eps.close();
    }
  });

  it('a restarted datapath adopts the pinned maps: enforcement continues, the first apply removes what the new compilation lacks', async () => {
    const first = open();
    await first.applyNode(node, onLoopback(CLIENT));
    await first.learn([learned('api.example.com', EXTERNAL, NOW + 60_000), learned('api.example.com', '203.0.113.8', NOW + 1_000)]);
    await first.close();
    expect(existsSync(join(pinRoot, MAP.policyV4))).toBe(true);

    const second = open({ keepAdoptedLearned: true });
    expect(second.adopted).toBe(true);
    expect(second.adoptedEndpoints()).toEqual(new Map([[TEST_IFINDEX, epId]]));
    // Before the restarted agent applies anything, the kernel still enforces the old state.
    expect(clientOut(second, DENIED_NET_IP)).toBe('deny');
    expect(clientOut(second, EXTERNAL)).toBe('allow');
    expect(second.counters().learnedKeys).toBe(2);
    // The new compilation has no Admin deny: its entries must go, the FQDN learning stays.
    const events: DatapathEvent[] = [];
    second.onEvent((e) => events.push(e));
    await second.applyNode(fixtureNode(withoutAdminDeny()), onLoopback(CLIENT));
    expect(clientOut(second, DENIED_NET_IP)).toBe('deny');
    second.pollEvents();
    expect(events.at(-1)).toMatchObject({ reason: 'default', verdict: 'deny' });
    expect(clientOut(second, EXTERNAL)).toBe('allow');
    // Adopted learned keys without a name behind them expire through sweep.
    await second.sweep(NOW + 2_000);
    expect(second.counters().learnedKeys).toBe(1);
    expect(clientOut(second, EXTERNAL)).toBe('allow');
  });

  it('by default a restarted datapath drops adopted learned entries at its first apply (slot numbers may mean other rules now)', async () => {
    const first = open();
    await first.applyNode(node, onLoopback(CLIENT));
    await first.learn([learned('api.example.com', EXTERNAL, NOW + 60_000)]);
    await first.close();
    const second = open();
    expect(clientOut(second, EXTERNAL)).toBe('allow');
    await second.applyNode(node, onLoopback(CLIENT));
    expect(kernelLearned().size).toBe(0);
    expect(clientOut(second, EXTERNAL)).toBe('deny');
    await second.learn([learned('api.example.com', EXTERNAL, NOW + 60_000)]);
    expect(clientOut(second, EXTERNAL)).toBe('allow');
  });

  it('events name the endpoint, the policy rule and the tier; counters count per endpoint', async () => {
    const dp = open({ allowSample: 1 });
    const events: DatapathEvent[] = [];
    dp.onEvent((e) => events.push(e));
    await dp.applyNode(node, onLoopback(CLIENT));
    expect(clientOut(dp, DENIED_NET_IP)).toBe('deny');
    expect(run(dp, 'egress', CLIENT_IP, SERVER_IP, 5353)).toBe('allow');
    expect(dp.pollEvents()).toBe(2);
    expect(events[0]).toMatchObject({ endpoint: CLIENT, direction: 'egress', verdict: 'deny', reason: 'rule', tier: 'Admin', src: CLIENT_IP, dst: DENIED_NET_IP, peer: DENIED_NET_IP, proto: 6, dport: 443, rule: { policy: 'ClusterNetworkPolicy/admin-deny', rule: 'no-doc-net' } });
    expect(events[1]).toMatchObject({ verdict: 'allow', tier: 'Baseline', rule: { policy: 'ClusterNetworkPolicy/baseline', rule: 'pods' } });
    expect(Math.abs(events[0]!.at - NOW)).toBeLessThan(5_000);
    expect(dp.endpointCounters(CLIENT)?.egress).toMatchObject({ deniedPackets: 1, allowedPackets: 1 });
    expect(dp.counters()).toMatchObject({ allowed: 1, denied: 1, endpoints: 1 });
  });

  it('events are delivered on the event loop in auto mode', async () => {
    const dp = open({ allowSample: 0, events: 'auto' });
    await dp.applyNode(node, onLoopback(CLIENT));
    const got = new Promise<DatapathEvent>((resolve) => dp.onEvent(resolve));
    clientOut(dp, DENIED_NET_IP);
    await expect(got).resolves.toMatchObject({ verdict: 'deny', endpoint: CLIENT });
  });

  it('uninstall removes every pin and endpoint; a closed datapath refuses work', async () => {
    const dp = open();
    await dp.applyNode(node, onLoopback(CLIENT));
    await dp.uninstall();
    expect(existsSync(pinRoot)).toBe(false);
    await expect(dp.learn([learned('api.example.com', EXTERNAL, NOW + 1)])).rejects.toBeInstanceOf(EbpfClosedError);
    // A fresh load starts empty: nothing enforces the loopback any more.
    const fresh = open();
    expect(fresh.adopted).toBe(false);
    expect(clientOut(fresh, DENIED_NET_IP)).toBe('allow');
    const eps = openPinnedMap(join(pinRoot, MAP.endpoints));
    try {
      expect(eps.lookup(encodeEndpointKey(TEST_IFINDEX))).toBeUndefined();
    } finally {
      eps.close();
    }
  });
});

function withoutAdminDeny(): ReturnType<typeof fixtureState> {
  const s = fixtureState();
  s.clusterNetworkPolicies = s.clusterNetworkPolicies.filter((p) => p.metadata.name !== 'admin-deny');
  return s;
}
