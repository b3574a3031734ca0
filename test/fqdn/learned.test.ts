import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_TTL_BOUNDS, LearnedCapError, LearnedConfigError, LearnedStore, learnedExpiry } from '../../src/fqdn/learned.js';
import type { LearnedIP } from '../../src/fqdn/learned.js';

const key = (e: LearnedIP): string => `${e.pod}|${e.name}|${e.ip}`;
const sortEntries = (es: readonly LearnedIP[]): LearnedIP[] => [...es].sort((a, b) => key(a).localeCompare(key(b)));
const entry = (pod: string, name: string, ip: string, expiresAt: number): LearnedIP => ({ pod, name, ip, expiresAt });

describe('learnedExpiry', () => {
  it.each<[number, number, { minTTL: number; maxTTL: number } | undefined, number]>([
    [1000, 30, undefined, 1000 + 60_000],
    [0, 60, undefined, 60_000],
    [0, 300, undefined, 300_000],
    [0, 86_400, undefined, 86_400_000],
    [0, 100_000, undefined, 86_400_000],
    [5, 0, undefined, 5 + 60_000],
    [0, -1, undefined, 60_000],
    [0, Number.NaN, undefined, 60_000],
    // RFC 2181: a TTL with the top bit set counts as zero, not as "forever".
    [0, 2 ** 31, undefined, 60_000],
    [0, 2 ** 31 - 1, { minTTL: 0, maxTTL: 2 ** 31 - 1 }, (2 ** 31 - 1) * 1000],
    [0, 0, { minTTL: 0, maxTTL: 10 }, 0],
    [100, 7, { minTTL: 5, maxTTL: 10 }, 7100],
    [100, 70, { minTTL: 5, maxTTL: 10 }, 10_100],
  ])('arrival %d, ttl %d, bounds %j -> %d', (arrival, ttl, bounds, expected) => {
    expect(learnedExpiry(arrival, ttl, bounds)).toBe(expected);
  });

  it('defaults to minTTL 60 s and maxTTL 86400 s', () => {
    expect(DEFAULT_TTL_BOUNDS).toEqual({ minTTL: 60, maxTTL: 86400 });
  });

  it.each([
    [{ minTTL: -1, maxTTL: 10 }, 'minTTL'],
    [{ minTTL: 20, maxTTL: 10 }, 'maxTTL'],
    [{ minTTL: 0, maxTTL: Number.POSITIVE_INFINITY }, 'maxTTL'],
  ])('rejects bounds %j naming %s', (bounds, field) => {
    expect(() => learnedExpiry(0, 1, bounds)).toThrow(LearnedConfigError);
    try {
      learnedExpiry(0, 1, bounds);
    } catch (e) {
      expect((e as LearnedConfigError).field).toBe(field);
    }
  });
});

describe('LearnedStore: behaviour', () => {
  it.each([
    [{ maxIPsPerName: 0 }, 'maxIPsPerName'],
    [{ maxLearnedPerPod: 1.5 }, 'maxLearnedPerPod'],
    [{ maxLearnedPerPod: Number.NaN }, 'maxLearnedPerPod'],
  ])('rejects limits %j', (limits, field) => {
    expect(() => new LearnedStore(limits)).toThrow(field);
  });

  it('defaults to 1000 IPs per name and 10000 entries per pod', () => {
    const s = new LearnedStore();
    expect([s.maxIPsPerName, s.maxLearnedPerPod]).toEqual([1000, 10000]);
  });

  it('is live while now < expiresAt, per pod only', () => {
    const s = new LearnedStore();
    const r = s.add([entry('ns/a', 'API.Example.com.', '192.0.2.1', 1000)], 0);
    expect(r.added).toEqual([entry('ns/a', 'api.example.com', '192.0.2.1', 1000)]);
    expect(s.has('ns/a', '192.0.2.1', 999)).toBe(true);
    expect(s.has('ns/a', '192.0.2.1', 1000)).toBe(false);
    expect(s.has('ns/b', '192.0.2.1', 0)).toBe(false);
    expect(s.has('ns/a', '192.0.2.2', 0)).toBe(false);
    expect(s.namesFor('ns/a', '192.0.2.1', 0)).toEqual(['api.example.com']);
    expect(s.namesFor('ns/b', '192.0.2.1', 0)).toEqual([]);
    expect(s.size).toBe(1);
  });

  it('ignores entries already expired at now', () => {
    const s = new LearnedStore();
    expect(s.add([entry('p', 'a.com', '1', 10)], 10)).toEqual({ added: [], refreshed: [], evicted: [] });
    expect(s.size).toBe(0);
  });

  it('extends on re-learning and never shortens', () => {
    const s = new LearnedStore();
    s.add([entry('p', 'a.com', '1', 500)], 0);
    const shorter = s.add([entry('p', 'a.com', '1', 300)], 0);
    expect(shorter).toEqual({ added: [], refreshed: [], evicted: [] });
    expect(s.entries('p')).toEqual([entry('p', 'a.com', '1', 500)]);
    const longer = s.add([entry('p', 'a.com', '1', 900)], 0);
    expect(longer.refreshed).toEqual([entry('p', 'a.com', '1', 900)]);
    expect(s.has('p', '1', 800)).toBe(true);
  });

  it('lists every live name for an IP and the latest expiry over names', () => {
    const s = new LearnedStore();
    s.add([entry('p', 'b.com', '1', 100), entry('p', 'a.com', '1', 300), entry('p', 'c.com', '1', 50)], 0);
    expect(s.namesFor('p', '1', 60)).toEqual(['a.com', 'b.com']);
    expect(s.expiryFor('p', '1')).toBe(300);
    expect(s.expiryFor('p', '2')).toBeUndefined();
  });

  it('evicts the oldest-expiring IP of a name over maxIPsPerName', () => {
    const s = new LearnedStore({ maxIPsPerName: 2 });
    s.add([entry('p', 'a.com', '1', 300), entry('p', 'a.com', '2', 100)], 0);
    const r = s.add([entry('p', 'a.com', '3', 200)], 0);
    expect(r.evicted).toEqual([entry('p', 'a.com', '2', 100)]);
    expect(r.added).toEqual([entry('p', 'a.com', '3', 200)]);
    expect(sortEntries(s.entries())).toEqual([entry('p', 'a.com', '1', 300), entry('p', 'a.com', '3', 200)]);
    // Another name of the same pod has its own cap.
    s.add([entry('p', 'b.com', '1', 10), entry('p', 'b.com', '2', 10)], 0);
    expect(s.size).toBe(4);
  });

  it.each<[string, { maxIPsPerName?: number; maxLearnedPerPod?: number }, LearnedIP[], LearnedIP[], LearnedIP[], LearnedIP[]]>([
    // label, limits, stored first, batch, expected evicted, expected entries after
    [
      'a new entry expiring before the stored one evicts the stored one, not itself',
      { maxIPsPerName: 1 },
      [entry('p', 'a.com', '1', 300)],
      [entry('p', 'a.com', '2', 100)],
      [entry('p', 'a.com', '1', 300)],
      [entry('p', 'a.com', '2', 100)],
    ],
    [
      'a batch filling the name cap evicts every older entry, oldest-expiring first',
      { maxIPsPerName: 2 },
      [entry('p', 'a.com', '1', 500), entry('p', 'a.com', '2', 400)],
      [entry('p', 'a.com', '3', 10), entry('p', 'a.com', '4', 20)],
      [entry('p', 'a.com', '2', 400), entry('p', 'a.com', '1', 500)],
      [entry('p', 'a.com', '3', 10), entry('p', 'a.com', '4', 20)],
    ],
    [
      'a re-learned (refreshed) entry is part of the batch and stays',
      { maxIPsPerName: 2 },
      [entry('p', 'a.com', '1', 50), entry('p', 'a.com', '2', 400)],
      [entry('p', 'a.com', '1', 60), entry('p', 'a.com', '3', 70)],
      [entry('p', 'a.com', '2', 400)],
      [entry('p', 'a.com', '1', 60), entry('p', 'a.com', '3', 70)],
    ],
    [
      'the pod cap skips the batch and takes the oldest-expiring other name',
      { maxLearnedPerPod: 2 },
      [entry('p', 'b.com', '1', 900), entry('p', 'c.com', '2', 800)],
      [entry('p', 'a.com', '3', 5)],
      [entry('p', 'c.com', '2', 800)],
      [entry('p', 'a.com', '3', 5), entry('p', 'b.com', '1', 900)],
    ],
  ])('%s', (_label, limits, stored, batch, evicted, after) => {
    const s = new LearnedStore(limits);
    s.add(stored, 0);
    const r = s.add(batch, 0);
    expect(r.evicted).toEqual(evicted);
    expect(sortEntries(s.entries())).toEqual(sortEntries(after));
    for (const e of batch) expect(s.expiryOf(e.pod, e.name, e.ip)).toBe(e.expiresAt);
  });

  it.each<[string, { maxIPsPerName?: number; maxLearnedPerPod?: number }, LearnedIP[], 'maxIPsPerName' | 'maxLearnedPerPod']>([
    ['more addresses for one name than maxIPsPerName', { maxIPsPerName: 2 }, [entry('p', 'a.com', '1', 9), entry('p', 'a.com', '2', 9), entry('p', 'A.com.', '3', 9)], 'maxIPsPerName'],
    ['more entries for one pod than maxLearnedPerPod', { maxLearnedPerPod: 2 }, [entry('p', 'a.com', '1', 9), entry('p', 'b.com', '1', 9), entry('p', 'c.com', '1', 9)], 'maxLearnedPerPod'],
  ])('a batch alone over a cap (%s) throws LearnedCapError and changes nothing', (_label, limits, batch, limit) => {
    const s = new LearnedStore(limits);
    s.add([entry('p', 'z.com', '7', 50)], 0);
    const before = s.entries();
    expect(() => s.add(batch, 0)).toThrow(LearnedCapError);
    try {
      s.checkFits(batch, 0);
      expect.unreachable('checkFits accepted an over-cap batch');
    } catch (err) {
      expect(err).toBeInstanceOf(LearnedCapError);
      expect((err as LearnedCapError).limit).toBe(limit);
    }
    expect(s.entries()).toEqual(before);
  });

  it('duplicates and expired entries of a batch do not count against a cap', () => {
    const s = new LearnedStore({ maxIPsPerName: 1 });
    expect(() => s.add([entry('p', 'a.com', '1', 9), entry('p', 'A.com.', '1', 12), entry('p', 'a.com', '2', 0)], 0)).not.toThrow();
    expect(s.entries()).toEqual([entry('p', 'a.com', '1', 12)]);
  });

  it('evicts the oldest-expiring entry of the pod over maxLearnedPerPod, other pods untouched', () => {
    const s = new LearnedStore({ maxLearnedPerPod: 3 });
    s.add([entry('p', 'a.com', '1', 400), entry('p', 'b.com', '2', 100), entry('p', 'c.com', '3', 300), entry('q', 'a.com', '9', 1)], 0);
    const r = s.add([entry('p', 'd.com', '4', 200)], 0);
    expect(r.evicted).toEqual([entry('p', 'b.com', '2', 100)]);
    expect(s.entries('p').length).toBe(3);
    expect(s.entries('q')).toEqual([entry('q', 'a.com', '9', 1)]);
  });

  it('removes a pod entirely', () => {
    const s = new LearnedStore();
    s.add([entry('p', 'a.com', '1', 100), entry('p', 'b.com', '1', 200), entry('q', 'a.com', '1', 100)], 0);
    expect(sortEntries(s.removePod('p'))).toEqual([entry('p', 'a.com', '1', 100), entry('p', 'b.com', '1', 200)]);
    expect(s.has('p', '1', 0)).toBe(false);
    expect(s.size).toBe(1);
    expect(s.removePod('p')).toEqual([]);
    // The swept heap no longer holds the removed pod's entries.
    expect(s.sweep(1000, 10)).toEqual([entry('q', 'a.com', '1', 100)]);
  });

  it('sweeps expired entries earliest first with bounded work', () => {
    const s = new LearnedStore();
    s.add([entry('p', 'a.com', '1', 30), entry('p', 'a.com', '2', 10), entry('q', 'b.com', '3', 20), entry('q', 'b.com', '4', 99)], 0);
    expect(s.sweep(5, 10)).toEqual([]);
    expect(s.sweep(50, 2)).toEqual([entry('p', 'a.com', '2', 10), entry('q', 'b.com', '3', 20)]);
    expect(s.sweep(50, 2)).toEqual([entry('p', 'a.com', '1', 30)]);
    expect(s.entries()).toEqual([entry('q', 'b.com', '4', 99)]);
    expect(s.sweep(99, 0)).toEqual([]);
  });
});

// A readable model of the store: a flat list scanned on every operation.
interface ModelRec extends LearnedIP {
  seq: number;
}

class ModelStore {
  recs: ModelRec[] = [];
  seq = 0;
  constructor(
    readonly perName: number,
    readonly perPod: number,
  ) {}

  private oldest(filter: (r: ModelRec) => boolean): ModelRec {
    return this.recs.filter(filter).reduce((a, b) => (b.expiresAt < a.expiresAt || (b.expiresAt === a.expiresAt && b.seq < a.seq) ? b : a));
  }

  /** undefined when the batch alone exceeds a cap (the store then throws and keeps its state). */
  add(entries: readonly LearnedIP[], now: number): { added: string[]; refreshed: string[]; evicted: LearnedIP[] } | undefined {
    const live = entries.filter((e) => e.expiresAt > now).map((e) => ({ ...e, name: e.name.toLowerCase().replace(/\.$/, '') }));
    const distinct = (keys: string[]): number => new Set(keys).size;
    for (const e of live) {
      if (distinct(live.filter((x) => x.pod === e.pod && x.name === e.name).map((x) => x.ip)) > this.perName) return undefined;
      if (distinct(live.filter((x) => x.pod === e.pod).map((x) => `${x.name}|${x.ip}`)) > this.perPod) return undefined;
    }
    const added = new Set<string>();
    const refreshed = new Set<string>();
    const batch = new Set<string>();
    const evicted: LearnedIP[] = [];
    const names: string[] = [];
    const podsTouched: string[] = [];
    for (const e of live) {
      if (!names.includes(`${e.pod}|${e.name}`)) names.push(`${e.pod}|${e.name}`);
      if (!podsTouched.includes(e.pod)) podsTouched.push(e.pod);
      batch.add(key(e));
      const found = this.recs.find((r) => r.pod === e.pod && r.name === e.name && r.ip === e.ip);
      if (found) {
        if (e.expiresAt > found.expiresAt) {
          found.expiresAt = e.expiresAt;
          found.seq = ++this.seq;
          if (!added.has(key(found))) refreshed.add(key(found));
        }
        continue;
      }
      const rec: ModelRec = { pod: e.pod, name: e.name, ip: e.ip, expiresAt: e.expiresAt, seq: ++this.seq };
      this.recs.push(rec);
      added.add(key(rec));
    }
    const trim = (inScope: (r: ModelRec) => boolean, limit: number): void => {
      while (this.recs.filter(inScope).length > limit) {
        const victim = this.oldest((r) => inScope(r) && !batch.has(key(r)));
        this.recs = this.recs.filter((x) => x !== victim);
        evicted.push({ pod: victim.pod, name: victim.name, ip: victim.ip, expiresAt: victim.expiresAt });
      }
    };
    for (const pn of names) trim((r) => `${r.pod}|${r.name}` === pn, this.perName);
    for (const pod of podsTouched) trim((r) => r.pod === pod, this.perPod);
    return { added: [...added].sort(), refreshed: [...refreshed].sort(), evicted };
  }

  sweep(now: number, maxWork: number): LearnedIP[] {
    const due = this.recs
      .filter((r) => r.expiresAt <= now)
      .sort((a, b) => a.expiresAt - b.expiresAt || a.seq - b.seq)
      .slice(0, maxWork);
    this.recs = this.recs.filter((r) => !due.includes(r));
    return due.map(({ pod, name, ip, expiresAt }) => ({ pod, name, ip, expiresAt }));
  }
}

type Op =
  | { kind: 'add'; entries: LearnedIP[]; advance: number }
  | { kind: 'sweep'; advance: number; maxWork: number }
  | { kind: 'removePod'; pod: string };

const pods = ['ns/a', 'ns/b', 'other/c'];
const entryArb = fc.record({
  pod: fc.constantFrom(...pods),
  name: fc.constantFrom('a.com', 'A.com.', 'b.com', 'c.org', 'x.c.org'),
  ip: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '2001:db8::1', '2001:db8::2'),
  expiresIn: fc.integer({ min: -5, max: 60 }),
});
const opArb: fc.Arbitrary<{ kind: 'add'; entries: { pod: string; name: string; ip: string; expiresIn: number }[]; advance: number } | Exclude<Op, { kind: 'add' }>> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), entries: fc.array(entryArb, { maxLength: 8 }), advance: fc.integer({ min: 0, max: 10 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sweep' as const), advance: fc.integer({ min: 0, max: 30 }), maxWork: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removePod' as const), pod: fc.constantFrom(...pods) }) },
);

describe('LearnedStore: properties against a flat-list model', () => {
  it('caps hold, evictions go oldest-expiring first and spare the batch, expiry never shrinks, sweep removes exactly what is due', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), fc.array(opArb, { maxLength: 40 }), (perName, perPod, ops) => {
        const store = new LearnedStore({ maxIPsPerName: perName, maxLearnedPerPod: perPod });
        const model = new ModelStore(perName, perPod);
        let now = 1000;
        for (const op of ops) {
          const before = new Map(store.entries().map((e) => [key(e), e.expiresAt]));
          if (op.kind === 'add') {
            now += op.advance;
            const entries = op.entries.map((e) => ({ pod: e.pod, name: e.name, ip: e.ip, expiresAt: now + e.expiresIn }));
            const want = model.add(entries, now);
            if (want === undefined) {
              expect(() => store.add(entries, now)).toThrow(LearnedCapError);
              expect(sortEntries(store.entries())).toEqual(sortEntries([...before].map(([k, expiresAt]) => {
                const [pod, name, ip] = k.split('|') as [string, string, string];
                return { pod, name, ip, expiresAt };
              })));
              continue;
            }
            const got = store.add(entries, now);
            // Every live entry of the batch is stored after the call.
            for (const e of entries) if (e.expiresAt > now) expect(store.expiryOf(e.pod, e.name, e.ip)).toBeGreaterThanOrEqual(e.expiresAt);
            expect(got.added.map(key).sort()).toEqual(want.added);
            expect(got.refreshed.map(key).sort()).toEqual(want.refreshed);
            expect(got.evicted).toEqual(want.evicted);
            // Expiry of a surviving entry never goes down.
            for (const e of store.entries()) {
              const old = before.get(key(e));
              if (old !== undefined) expect(e.expiresAt).toBeGreaterThanOrEqual(old);
            }
          } else if (op.kind === 'sweep') {
            now += op.advance;
            const got = store.sweep(now, op.maxWork);
            expect(got).toEqual(model.sweep(now, op.maxWork));
            const dueLeft = store.entries().filter((e) => e.expiresAt <= now).length;
            if (got.length < op.maxWork) expect(dueLeft).toBe(0);
            for (const e of got) expect(e.expiresAt).toBeLessThanOrEqual(now);
          } else {
            const got = store.removePod(op.pod);
            expect(sortEntries(got)).toEqual(sortEntries(model.recs.filter((r) => r.pod === op.pod).map(({ pod, name, ip, expiresAt }) => ({ pod, name, ip, expiresAt }))));
            model.recs = model.recs.filter((r) => r.pod !== op.pod);
          }
          const all = store.entries();
          expect(sortEntries(all)).toEqual(sortEntries(model.recs.map(({ pod, name, ip, expiresAt }) => ({ pod, name, ip, expiresAt }))));
          expect(store.size).toBe(all.length);
          const perNameCount = new Map<string, number>();
          const perPodCount = new Map<string, number>();
          for (const e of all) {
            perNameCount.set(`${e.pod}|${e.name}`, (perNameCount.get(`${e.pod}|${e.name}`) ?? 0) + 1);
            perPodCount.set(e.pod, (perPodCount.get(e.pod) ?? 0) + 1);
          }
          for (const n of perNameCount.values()) expect(n).toBeLessThanOrEqual(perName);
          for (const n of perPodCount.values()) expect(n).toBeLessThanOrEqual(perPod);
          for (const e of all) {
            expect(store.has(e.pod, e.ip, now)).toBe(all.some((x) => x.pod === e.pod && x.ip === e.ip && x.expiresAt > now));
            for (const other of pods) {
              if (!all.some((x) => x.pod === other && x.ip === e.ip)) expect(store.has(other, e.ip, now - 1000)).toBe(false);
            }
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});
