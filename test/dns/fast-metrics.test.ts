// fast-metrics must be indistinguishable from prom-client's own Counter and Histogram on /metrics:
// the same updates applied to both give the same exposition text and the same JSON values.
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from '../../src/dns/fast-metrics.js';

const BUCKETS = [0.0001, 0.00025, 0.001, 0.01, 0.5, 2.5];
const TRANSPORTS = ['udp', 'tcp'] as const;
const OUTCOMES = ['ok', 'fail', 'timeout'] as const;

const observation = fc.record({
  transport: fc.constantFrom(...TRANSPORTS),
  outcome: fc.constantFrom(...OUTCOMES),
  // Values on, between, below and above the bucket bounds.
  value: fc.oneof(fc.constantFrom(0, ...BUCKETS, 10), fc.double({ min: 0, max: 5, noNaN: true })),
});

describe('FastHistogram', () => {
  it('exposes the same text and values as a prom-client Histogram fed the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 200 }), async (obs) => {
        const a = new Registry();
        const b = new Registry();
        const ref = new Histogram({ name: 'lat_seconds', help: 'h', labelNames: ['transport', 'outcome'], buckets: BUCKETS, registers: [a] });
        const fast = new FastHistogram({ name: 'lat_seconds', help: 'h', labelNames: ['transport', 'outcome'], buckets: BUCKETS, registry: b });
        for (const o of obs) {
          ref.labels(o.transport, o.outcome).observe(o.value);
          fast.labels(o.transport, o.outcome).observe(o.value);
        }
        expect(await b.metrics()).toBe(await a.metrics());
        // prom-client adds an empty `exemplar` field; everything else must be equal.
        const plain = (vs: readonly { value: number; labels: object; metricName?: string }[]): unknown[] =>
          vs.map((v) => ({ value: v.value, labels: v.labels, metricName: v.metricName }));
        expect(plain((await fast.get()).values)).toEqual(plain((await ref.get()).values));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a non-finite observation and a wrong number of label values', () => {
    const h = new FastHistogram({ name: 'x_seconds', help: 'h', labelNames: ['outcome'], buckets: BUCKETS, registry: new Registry() });
    expect(() => h.labels('ok').observe(Number.NaN)).toThrow(/cannot observe/);
    expect(() => h.labels('ok', 'extra')).toThrow(/expected 1 label values, got 2/);
  });
});

describe('FastCounter', () => {
  it('exposes the same text as a prom-client Counter after the same increments', async () => {
    const inc = fc.record({ result: fc.constantFrom('answered', 'learned', 'servfail_upstream'), by: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }) });
    await fc.assert(
      fc.asyncProperty(fc.array(inc, { maxLength: 100 }), async (incs) => {
        const a = new Registry();
        const b = new Registry();
        const ref = new Counter({ name: 'q_total', help: 'c', labelNames: ['transport', 'result'], registers: [a] });
        const fast = new FastCounter({ name: 'q_total', help: 'c', labelNames: ['transport', 'result'], registry: b });
        for (const i of incs) {
          ref.labels('udp', i.result).inc(i.by);
          fast.labels('udp', i.result).inc(i.by);
        }
        expect(await b.metrics()).toBe(await a.metrics());
      }),
      { numRuns: 200 },
    );
  });

  it('never decreases, and reset() forgets every label set', async () => {
    const c = new FastCounter({ name: 'r_total', help: 'c', labelNames: ['reason'], registry: new Registry() });
    expect(() => c.labels('x').inc(-1)).toThrow(/cannot increase/);
    c.labels('x').inc(3);
    expect((await c.get()).values).toEqual([{ value: 3, labels: { reason: 'x' } }]);
    c.reset();
    expect((await c.get()).values).toEqual([]);
  });

  it('merges into another registry like a prom-client metric', async () => {
    const own = new Registry();
    const c = new FastCounter({ name: 'm_total', help: 'c', labelNames: ['reason'], registry: own });
    c.labels('y').inc(2);
    const merged = Registry.merge([own, new Registry()]);
    expect(await merged.metrics()).toContain('m_total{reason="y"} 2');
  });
});
