// The in-memory datapath: learned-entry expiry and per-key bookkeeping (the same LearnedTable as
// the eBPF backend), hooks, and decisions by src/compile's interpret over an applied compilation,
// checked against the evaluator.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { LearnRefusedError } from '../../src/datapath/memory/errors.js';
import type { DatapathEvent, LearnedEntry } from '../../src/datapath/types.js';
import type { Flow, LearnedIP } from '../../src/policy/index.js';
import { CLIENT, CLIENT_IP, DENIED_NET_IP, EXTERNAL, SERVER, SERVER_IP, evaluatorSays, fixtureNode, fixtureState } from './support/fixture.js';

const entry = (over: Partial<LearnedEntry> = {}): LearnedEntry => ({
  pod: 'ns/a',
  name: 'api.example.com',
  ip: '192.0.2.1',
  expiresAt: 1_000,
  rules: [{ rule: 'r0', pattern: '*.example.com' }],
  ...over,
});

describe('MemoryDatapath learning', () => {
  it('allows new connections while now < expiresAt, per pod', () =>
    fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), async (expiresAt, now) => {
        const dp = new MemoryDatapath();
        await dp.learn([entry({ expiresAt })]);
        expect(dp.learnedAllowing('ns/a', '192.0.2.1', now) !== undefined).toBe(now < expiresAt);
        expect(dp.learnedAllowing('ns/b', '192.0.2.1', now)).toBeUndefined();
      }),
    ));

  it('re-learning extends and never shortens; forget removes one name only', async () => {
    const dp = new MemoryDatapath();
    await dp.learn([entry({ expiresAt: 5_000 })]);
    await dp.learn([entry({ expiresAt: 2_000 })]);
    expect(dp.learnedOf('ns/a')[0]!.expiresAt).toBe(5_000);
    await dp.learn([entry({ name: 'www.example.com', expiresAt: 3_000 })]);
    await dp.forget([{ pod: 'ns/a', name: 'api.example.com', ip: '192.0.2.1' }]);
    expect(dp.learnedAllowing('ns/a', '192.0.2.1', 2_500)?.name).toBe('www.example.com');
    expect(dp.counters().learnedEntries).toBe(1);
    await dp.forget([{ pod: 'ns/a', name: 'www.example.com', ip: '192.0.2.1' }, { pod: 'ns/x', name: 'n', ip: '1.1.1.1' }]);
    expect(dp.counters().learnedEntries).toBe(0);
  });

  it.each([
    ['fails', (dp: MemoryDatapath) => dp.failLearn('boom')],
    ['bad ip', () => undefined],
  ])('learn that %s rejects with a typed error and programs nothing', async (label, setup) => {
    const dp = new MemoryDatapath();
    setup(dp);
    const e = label === 'bad ip' ? entry({ ip: 'not-an-ip' }) : entry();
    await expect(dp.learn([e])).rejects.toBeInstanceOf(LearnRefusedError);
    expect(dp.counters()).toMatchObject({ learnedEntries: 0, learnFailures: 1, learnCalls: 1 });
  });

  it('delayLearn resolves only after the delay, and the entries are effective from then', async () => {
    let t = 0;
    const dp = new MemoryDatapath({ clock: () => t });
    dp.delayLearn(50);
    const p = dp.learn([entry({ expiresAt: 10 ** 12 })]);
    expect(dp.learnedAllowing('ns/a', '192.0.2.1')).toBeUndefined();
    t = 7;
    await p;
    expect(dp.learnedAllowing('ns/a', '192.0.2.1')).toBeDefined();
    expect(dp.learnLog[0]!.programmedAt).toBe(7);
  });

  it('sweep removes expired entries oldest first, at most maxWork per call', async () => {
    const dp = new MemoryDatapath();
    await dp.learn([10, 30, 20, 40].map((expiresAt, i) => entry({ name: `n${i}.example.com`, expiresAt })));
    expect((await dp.sweep(35, 2)).map((r) => r.name)).toEqual(['n0.example.com', 'n2.example.com']);
    expect((await dp.sweep(35, 2)).map((r) => r.name)).toEqual(['n1.example.com']);
    expect(dp.learnedOf('ns/a').map((e) => e.name)).toEqual(['n3.example.com']);
  });
});

describe('MemoryDatapath decisions (interpret over the applied compilation) equal the evaluator', () => {
  const NOW = 1_000_000;
  const state = fixtureState();
  const node = fixtureNode(state);
  const flow = (from: string, to: string, protocol: Flow['protocol'], port?: number): Flow => (port === undefined ? { from, to, protocol } : { from, to, protocol, port });

  type Step = [label: string, learned: LearnedIP[], flow: Flow, direction: 'egress' | 'ingress', expected: 'allow' | 'deny'];
  const live = (name: string, ip: string, expiresAt = NOW + 60_000): LearnedIP => ({ pod: CLIENT, name, ip, expiresAt });
  const steps: Step[] = [
    ['unlearned external: strict default', [], flow(CLIENT, EXTERNAL, 'TCP', 443), 'egress', 'deny'],
    ['learned name, matching port', [live('api.example.com', EXTERNAL)], flow(CLIENT, EXTERNAL, 'TCP', 443), 'egress', 'allow'],
    ['learned name, other port', [live('api.example.com', EXTERNAL)], flow(CLIENT, EXTERNAL, 'TCP', 80), 'egress', 'deny'],
    ['expired learning', [live('api.example.com', EXTERNAL, NOW)], flow(CLIENT, EXTERNAL, 'TCP', 443), 'egress', 'deny'],
    ['name outside the pattern', [live('example.com', EXTERNAL)], flow(CLIENT, EXTERNAL, 'TCP', 443), 'egress', 'deny'],
    ['admin deny beats the FQDN accept', [live('api.example.com', DENIED_NET_IP)], flow(CLIENT, DENIED_NET_IP, 'TCP', 443), 'egress', 'deny'],
    ['NP allows the client on 8080', [], flow(CLIENT, SERVER, 'TCP', 8080), 'ingress', 'allow'],
    ['NP isolates other ports', [], flow(CLIENT, SERVER, 'TCP', 9090), 'ingress', 'deny'],
    ['NP isolates ICMP', [], flow(CLIENT, SERVER, 'ICMP'), 'ingress', 'deny'],
    ['baseline allows pod to pod egress', [], flow(CLIENT, SERVER, 'UDP', 5353), 'egress', 'allow'],
  ];

  it.each(steps)('%s', async (_label, learned, f, direction, expected) => {
    const dp = new MemoryDatapath({ clock: () => NOW });
    await dp.applyNode(node, () => 1);
    await dp.learn(learned.map((l) => ({ ...l, rules: [] })));
    const local = direction === 'egress' ? f.from : f.to;
    const peer = direction === 'egress' ? (f.to === SERVER ? SERVER_IP : f.to) : f.from === CLIENT ? CLIENT_IP : f.from;
    const packet = { peer, protocol: f.protocol, ...(f.port !== undefined ? { port: f.port } : {}) };
    expect(evaluatorSays(state, f, direction, learned, NOW)).toBe(expected);
    expect(dp.decide(local, direction, packet).verdict).toBe(expected);
  });

  it('forgetting one of two names for an IP keeps the IP; forgetting both closes it', async () => {
    const dp = new MemoryDatapath({ clock: () => NOW });
    await dp.applyNode(node, () => 1);
    const pkt = { peer: EXTERNAL, protocol: 'TCP' as const, port: 443 };
    await dp.learn([
      { pod: CLIENT, name: 'api.example.com', ip: EXTERNAL, expiresAt: NOW + 1000, rules: [] },
      { pod: CLIENT, name: 'www.example.com', ip: EXTERNAL, expiresAt: NOW + 5000, rules: [] },
    ]);
    expect(dp.learnedKeys()).toHaveLength(1);
    expect(dp.learnedKeys()[0]!.expiresAt).toBe(NOW + 5000);
    await dp.forget([{ pod: CLIENT, name: 'www.example.com', ip: EXTERNAL }]);
    expect(dp.learnedKeys()[0]!.expiresAt).toBe(NOW + 1000);
    expect(dp.decide(CLIENT, 'egress', pkt).verdict).toBe('allow');
    await dp.forget([{ pod: CLIENT, name: 'api.example.com', ip: EXTERNAL }]);
    expect(dp.learnedKeys()).toHaveLength(0);
    expect(dp.decide(CLIENT, 'egress', pkt).verdict).toBe('deny');
  });

  it('learnings made before the compilation (or before a rule existed) take effect when it is applied', async () => {
    const dp = new MemoryDatapath({ clock: () => NOW });
    await dp.learn([{ pod: CLIENT, name: 'api.example.com', ip: EXTERNAL, expiresAt: NOW + 1000, rules: [] }]);
    expect(dp.learnedKeys()).toHaveLength(0);
    const r = await dp.applyNode(node, () => 1);
    expect(r.learnedWritten).toBe(1);
    expect(dp.decide(CLIENT, 'egress', { peer: EXTERNAL, protocol: 'TCP', port: 443 }).verdict).toBe('allow');
  });

  it('an endpoint without an ifindex is not enforced; events name the deciding rule', async () => {
    const dp = new MemoryDatapath({ clock: () => NOW });
    const events: DatapathEvent[] = [];
    dp.onEvent((e) => events.push(e));
    const r = await dp.applyNode(node, (k) => (k === SERVER ? 7 : undefined));
    expect(r.pending).toEqual([CLIENT]);
    expect(dp.decide(CLIENT, 'egress', { peer: DENIED_NET_IP, protocol: 'TCP', port: 1 }).reason).toBe('notEnforced');
    await dp.applyNode(node, () => 7);
    expect(dp.decide(CLIENT, 'egress', { peer: DENIED_NET_IP, protocol: 'TCP', port: 1 }).verdict).toBe('deny');
    expect(events.at(-1)).toMatchObject({ endpoint: CLIENT, verdict: 'deny', reason: 'rule', tier: 'Admin', src: CLIENT_IP, dst: DENIED_NET_IP, rule: { policy: 'ClusterNetworkPolicy/admin-deny', rule: 'no-doc-net' } });
    expect(dp.endpointCounters(CLIENT)?.egress).toMatchObject({ deniedPackets: 1, allowedPackets: 0 });
  });
});
