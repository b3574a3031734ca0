import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/sources/kube/backoff.js';

describe('backoffDelay', () => {
  it.each([
    [0, 0, 50],
    [0, 1, 100],
    [3, 0, 400],
    [3, 1, 800],
    [20, 0, 5000],
    [20, 1, 10000],
  ])('attempt %i with random %d -> %i ms', (attempt, rnd, want) => {
    expect(backoffDelay(attempt, { initialMs: 100, maxMs: 10_000 }, () => rnd)).toBe(want);
  });

  it('stays within [ceiling/2, ceiling] and the ceiling never shrinks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 100_000 }), (attempt, rnd, initialMs, extra) => {
        const opts = { initialMs, maxMs: initialMs + extra };
        const d = backoffDelay(attempt, opts, () => rnd);
        const ceiling = Math.min(opts.maxMs, initialMs * 2 ** attempt);
        expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(d).toBeLessThanOrEqual(Math.ceil(ceiling));
        expect(backoffDelay(attempt + 1, opts, () => 1)).toBeGreaterThanOrEqual(backoffDelay(attempt, opts, () => 1));
      }),
    );
  });
});
