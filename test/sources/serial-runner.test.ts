import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SerialRunner } from '../../src/sources/serial-runner.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SerialRunner', () => {
  it('never overlaps runs, and every request is answered by a run that started after it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(3), { minLength: 1, maxLength: 12 }), async (gaps) => {
        let active = 0;
        let overlapped = false;
        const starts: number[] = [];
        let clock = 0;
        const runner = new SerialRunner(async () => {
          active++;
          if (active > 1) overlapped = true;
          starts.push(clock++);
          await tick();
          await tick();
          active--;
        }, () => false);
        const pending: Promise<void>[] = [];
        for (const gap of gaps) {
          const asked = clock++;
          pending.push(runner.run().then(() => expect(starts.some((s) => s > asked)).toBe(true)));
          for (let i = 0; i < gap; i++) await tick();
        }
        await Promise.all(pending);
        expect(overlapped).toBe(false);
        expect(runner.current).toBeUndefined();
        // Requests arriving during one run share a single repeat.
        expect(starts.length).toBeLessThanOrEqual(gaps.length);
      }),
      { numRuns: 200 },
    );
  });

  it('folds a burst into one repeat and drops the repeat once stopped', async () => {
    let runs = 0;
    let stopped = false;
    const runner = new SerialRunner(async () => {
      runs++;
      await tick();
    }, () => stopped);
    const all = [runner.run(), runner.run(), runner.run(), runner.run()];
    await Promise.all(all);
    expect(runs).toBe(2);
    const first = runner.run();
    void runner.run();
    stopped = true;
    await first;
    expect(runs).toBe(3);
  });

  it('a failing run rejects its waiters and does not wedge the runner', async () => {
    let fail = true;
    const runner = new SerialRunner(async () => {
      await tick();
      if (fail) throw new Error('boom');
    }, () => false);
    await expect(runner.run()).rejects.toThrow('boom');
    fail = false;
    await expect(runner.run()).resolves.toBeUndefined();
  });
});
