// PrefixTable against a plain Map: any sequence of versions (set, replace, remove, back to the
// base value) reads exactly like the Map it stands for, counts families right, and changedKeys
// between two versions covers every key whose entry differs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrefixTable, type Stored } from '../../src/compile/prefix-table.js';

const KEYS = ['10.0.0.0/8', '10.1.0.1/32', '10.1.0.2/32', '0.0.0.0/0', '::/0', 'fd00::1/128', 'fd00::/64', '192.168.0.1/32'];
const LISTS: Stored[] = ['a', 'b', 'c'].map((k) => ({ rules: [], key: k }));

const stepArb = fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.option(fc.constantFrom(...LISTS), { nil: null })), { maxLength: 6 });

function plain(t: PrefixTable): Record<string, string> {
  return Object.fromEntries([...t].map(([k, v]) => [k, `${v.cidr} ${v.family} ${v.addr} ${v.prefixLen} ${v.key}`]).sort());
}

describe('PrefixTable', () => {
  it('reads like the Map it stands for after any sequence of versions (generated)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...LISTS))), fc.array(stepArb, { maxLength: 40 }), (initial, steps) => {
        const model = new Map<string, Stored>(initial);
        let t = PrefixTable.of(new Map(initial));
        for (const step of steps) {
          const before = t;
          const beforeModel = new Map(model);
          t = t.with(new Map(step));
          for (const [k, v] of step) if (v) model.set(k, v);
          else model.delete(k);
          expect(t.size).toBe(model.size);
          expect(t.counts[6]).toBe([...model.keys()].filter((k) => k.includes(':')).length);
          for (const k of KEYS) {
            expect(t.has(k)).toBe(model.has(k));
            expect(t.get(k)?.key).toBe(model.get(k)?.key);
          }
          const changed = PrefixTable.changedKeys(before, t);
          for (const k of KEYS) if (beforeModel.get(k) !== model.get(k) && changed) expect(changed.has(k)).toBe(true);
        }
        expect(Object.keys(plain(t))).toEqual([...model.keys()].sort());
      }),
      { numRuns: 300, seed: 4 },
    );
  });

  it.each([
    ['10.1.0.1/32', 4, '10.1.0.1', 32],
    ['fd00::/64', 6, 'fd00::', 64],
    ['0.0.0.0/0', 4, '0.0.0.0', 0],
  ])('%s reads back as a full entry', (cidr, family, addr, len) => {
    const e = PrefixTable.of(new Map([[cidr, LISTS[0] as Stored]])).get(cidr);
    expect(e).toEqual({ cidr, family, addr, prefixLen: len, rules: [], key: 'a' });
  });

  it('a change undone leaves no delta; a large one folds into a new base', () => {
    const base = PrefixTable.of(new Map([['10.0.0.0/8', LISTS[0] as Stored]]));
    const back = base.with(new Map([['10.1.0.1/32', LISTS[1] as Stored]])).with(new Map([['10.1.0.1/32', null]]));
    expect([...(PrefixTable.changedKeys(base, back) ?? ['no shared base'])]).toEqual([]);
    const big = new Map<string, Stored>(Array.from({ length: 100 }, (_, i) => [`10.2.0.${i}/32`, LISTS[2] as Stored]));
    const folded = base.with(big);
    expect(PrefixTable.changedKeys(base, folded)).toBeNull();
    expect(folded.size).toBe(101);
  });
});
