// The in-memory datapath: learned-entry expiry (same rule as the eBPF backend), forget, hooks,
// and the simple reconciler side.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { LearnRefusedError, MemoryApplyError } from '../../src/datapath/memory/errors.js';
import type { LearnedEntry } from '../../src/datapath/types.js';

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
});

describe('MemoryDatapath reconciler side', () => {
  it('decides in order, falls back to learned entries for egress, emits events', async () => {
    const dp = new MemoryDatapath({ clock: () => 100 });
    const events: string[] = [];
    dp.onEvent((e) => events.push(`${e.verdict}:${e.by ?? '-'}`));
    await dp.attach({ id: 'ns/a', ips: ['10.0.0.1'], isolated: { ingress: false, egress: true } });
    await dp.apply({
      upsert: [
        { id: 'deny-db', endpoint: 'ns/a', direction: 'egress', cidr: '10.1.0.0/16', protocol: 'tcp', portStart: 5432, portEnd: 5432, verdict: 'deny', order: 1 },
        { id: 'allow-net', endpoint: 'ns/a', direction: 'egress', cidr: '10.0.0.0/8', protocol: 'any', portStart: 0, portEnd: 65535, verdict: 'allow', order: 2 },
      ],
      remove: [],
    });
    await dp.learn([entry({ pod: 'ns/a', ip: '192.0.2.1', expiresAt: 1_000 })]);
    expect(dp.decide('ns/a', 'egress', '10.1.2.3', 'tcp', 5432)).toBe('deny');
    expect(dp.decide('ns/a', 'egress', '10.1.2.3', 'tcp', 80)).toBe('allow');
    expect(dp.decide('ns/a', 'egress', '192.0.2.1', 'tcp', 443)).toBe('allow');
    expect(dp.decide('ns/a', 'egress', '192.0.2.1', 'tcp', 443, 1_000)).toBe('deny');
    expect(dp.decide('ns/a', 'ingress', '8.8.8.8', 'udp', 53)).toBe('allow');
    expect(events).toEqual(['deny:deny-db', 'allow:allow-net', 'allow:learned:api.example.com', 'deny:-', 'allow:-']);
    await dp.detach('ns/a');
    expect(dp.counters()).toMatchObject({ endpoints: 0, policyEntries: 0, learnedEntries: 0 });
  });

  it('rejects a diff with a bad CIDR without applying any of it', async () => {
    const dp = new MemoryDatapath();
    const good = { id: 'ok', endpoint: 'e', direction: 'egress' as const, cidr: '10.0.0.0/8', protocol: 'any' as const, portStart: 0, portEnd: 65535, verdict: 'allow' as const, order: 1 };
    await expect(dp.apply({ upsert: [good, { ...good, id: 'bad', cidr: '10.0.0.0/33' }], remove: [] })).rejects.toBeInstanceOf(MemoryApplyError);
    expect(dp.counters().policyEntries).toBe(0);
  });
});
