// Map operations on the real kernel: element ops and flags, size checks, LPM tries, per-CPU
// values, batches (kernel and fallback), iteration, and a generated model check.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BpfError, MapType, numPossibleCpus, sumPerCpuU64 } from '../src/index.js';
import type { BpfMap, BpfObject } from '../src/index.js';
import { lpmKey, needRoot, u32, u64, loadFixture } from './helpers.js';

describe.skipIf(!needRoot)('BpfMap', () => {
  let obj: BpfObject;
  let hash: BpfMap;
  let lpm: BpfMap;
  let pcpu: BpfMap;
  beforeAll(() => {
    obj = loadFixture();
    hash = obj.map('hash_map');
    lpm = obj.map('lpm_v4');
    pcpu = obj.map('pcpu_counts');
  });
  afterAll(() => obj?.close());
  const reset = (): void => {
    hash.clear();
    lpm.clear();
  };

  it('reports map info', () => {
    expect(hash.info).toMatchObject({ type: MapType.HASH, typeName: 'hash', keySize: 4, valueSize: 8, maxEntries: 1024, perCpu: false });
    expect(lpm.info).toMatchObject({ type: MapType.LPM_TRIE, typeName: 'lpm_trie', keySize: 8, valueSize: 4, flags: 1 });
    expect(pcpu.info).toMatchObject({ type: MapType.PERCPU_ARRAY, perCpu: true, possibleCpus: numPossibleCpus() });
    expect(obj.map('events').info).toMatchObject({ type: MapType.RINGBUF, maxEntries: 256 * 1024 });
    expect(hash.info.id).toBeGreaterThan(0);
    expect(hash.fd).toBeGreaterThan(2);
  });

  it('looks up, updates and deletes', () => {
    reset();
    expect(hash.lookup(u32(1))).toBeUndefined();
    hash.update(u32(1), u64(10));
    expect(hash.lookup(u32(1))).toEqual(u64(10));
    hash.update(u32(1), u64(11));
    expect(hash.lookup(u32(1))).toEqual(u64(11));
    expect(hash.delete(u32(1))).toBe(true);
    expect(hash.delete(u32(1))).toBe(false);
    hash.update(u32(2), u64(5));
    expect(hash.lookupAndDelete(u32(2))).toEqual(u64(5));
    expect(hash.lookup(u32(2))).toBeUndefined();
  });

  it.each([
    ['any', false, null],
    ['any', true, null],
    ['noexist', false, null],
    ['noexist', true, 'EEXIST'],
    ['exist', false, 'ENOENT'],
    ['exist', true, null],
  ] as const)('update flag %s with key present=%s -> %s', (flag, present, code) => {
    reset();
    if (present) hash.update(u32(9), u64(1));
    if (code === null) {
      hash.update(u32(9), u64(2), flag);
      expect(hash.lookup(u32(9))).toEqual(u64(2));
    } else {
      expect(() => hash.update(u32(9), u64(2), flag)).toThrow(BpfError);
      expect(catchError(() => hash.update(u32(9), u64(2), flag))).toMatchObject({ op: 'bpf_map_update_elem', code, map: 'hash_map' });
      expect(hash.lookup(u32(9))).toEqual(present ? u64(1) : undefined);
    }
  });

  const sizeCases: Array<[string, () => unknown, string]> = [
    ['short key lookup', () => hash.lookup(Buffer.alloc(3)), 'key is 3 bytes'],
    ['long key update', () => hash.update(Buffer.alloc(5), u64(1)), 'key is 5 bytes'],
    ['short value update', () => hash.update(u32(1), u32(1)), 'value is 4 bytes'],
    ['empty key delete', () => hash.delete(Buffer.alloc(0)), 'key is 0 bytes'],
    ['lpm key as u32', () => lpm.lookup(u32(1)), 'expects 8'],
    ['batch with a bad key', () => hash.updateBatch([[u32(1), u64(1)], [Buffer.alloc(2), u64(2)]]), 'key bytes'],
    ['per-CPU map through lookup()', () => pcpu.lookup(u32(0)), 'use lookupPerCpu'],
    ['too few per-CPU values', () => pcpu.update(u32(0), [u64(1)].slice(0, numPossibleCpus() - 1)), 'per-CPU values given'],
    ['per-CPU value of the wrong size', () => pcpu.update(u32(0), u32(1)), 'value is 4 bytes'],
    ['per-CPU array on a plain map', () => hash.update(u32(1), [u64(1)]), 'per-CPU'],
  ];
  it.each(sizeCases)('%s -> EINVAL naming the map', (_name, fn, text) => {
    const err = catchError(fn);
    expect(err).toBeInstanceOf(BpfError);
    expect(err.code).toBe('EINVAL');
    expect(err.errno).toBe(22);
    expect(err.map).toBeDefined();
    expect(err.message).toContain(err.map!);
    expect(err.message).toContain(text);
  });

  it('LPM trie lookups return the longest matching prefix', () => {
    reset();
    lpm.update(lpmKey('10.0.0.0', 8), u32(1));
    lpm.update(lpmKey('10.1.0.0', 16), u32(2));
    lpm.update(lpmKey('10.1.2.3', 32), u32(3));
    const table: Array<[string, number | undefined]> = [
      ['10.1.2.3', 3],
      ['10.1.2.4', 2],
      ['10.200.0.1', 1],
      ['11.0.0.1', undefined],
    ];
    for (const [ip, want] of table) {
      const v = lpm.lookup(lpmKey(ip, 32));
      expect(v === undefined ? undefined : v.readUInt32LE(0), ip).toBe(want);
    }
    expect(lpm.keys().map((k) => k.toString('hex')).sort()).toEqual(
      [lpmKey('10.0.0.0', 8), lpmKey('10.1.0.0', 16), lpmKey('10.1.2.3', 32)].map((k) => k.toString('hex')).sort(),
    );
    expect(lpm.delete(lpmKey('10.1.0.0', 16))).toBe(true);
    expect(lpm.lookup(lpmKey('10.1.2.4', 32))?.readUInt32LE(0)).toBe(1);
  });

  it('per-CPU values come back one Buffer per CPU', () => {
    const n = numPossibleCpus();
    const values = Array.from({ length: n }, (_, cpu) => u64(100 + cpu));
    pcpu.update(u32(3), values);
    const got = pcpu.lookupPerCpu(u32(3));
    expect(got).toHaveLength(n);
    expect(got).toEqual(values);
    expect(sumPerCpuU64(got!)).toBe(BigInt(n * 100 + (n * (n - 1)) / 2));
    pcpu.update(u32(3), u64(7)); // one value for every CPU
    expect(pcpu.lookupPerCpu(u32(3))).toEqual(Array.from({ length: n }, () => u64(7)));
    const all = pcpu.entriesPerCpu();
    expect(all.map(([k]) => k.readUInt32LE(0))).toEqual([0, 1, 2, 3]);
    expect(all[3]![1]).toEqual(Array.from({ length: n }, () => u64(7)));
    expect(pcpu.lookupPerCpu(u32(4))).toBeUndefined();
  });

  it('batch-updates and batch-deletes a hash map with the kernel batch ops', () => {
    reset();
    const entries = Array.from({ length: 500 }, (_, i) => [u32(i), u64(i * 3)] as const);
    expect(hash.updateBatch(entries)).toEqual({ batched: true });
    expect(hash.keys()).toHaveLength(500);
    expect(hash.lookup(u32(499))).toEqual(u64(1497));
    const byKey = new Map(hash.entries().map(([k, v]) => [k.readUInt32LE(0), v.readBigUInt64LE(0)]));
    expect(byKey.size).toBe(500);
    expect(byKey.get(123)).toBe(369n);
    // Keys 0..99 plus 50 absent ones: only the present ones count.
    const del = [...Array.from({ length: 100 }, (_, i) => u32(i)), ...Array.from({ length: 50 }, (_, i) => u32(10_000 + i))];
    expect(hash.deleteBatch(del)).toBe(100);
    expect(hash.keys()).toHaveLength(400);
    expect(hash.lookup(u32(50))).toBeUndefined();
    expect(hash.clear()).toBe(400);
    expect(hash.nextKey()).toBeUndefined();
  });

  it('falls back to per-element updates where the map type has no batch ops (LPM trie)', () => {
    reset();
    const entries = Array.from({ length: 20 }, (_, i) => [lpmKey(`10.${i}.0.0`, 16), u32(i)] as const);
    const { batched } = lpm.updateBatch(entries);
    expect(typeof batched).toBe('boolean');
    expect(lpm.keys()).toHaveLength(20);
    expect(lpm.lookup(lpmKey('10.7.1.1', 32))?.readUInt32LE(0)).toBe(7);
    expect(lpm.deleteBatch([lpmKey('10.7.0.0', 16), lpmKey('10.99.0.0', 16)])).toBe(1);
    expect(lpm.keys()).toHaveLength(19);
  });

  it('a failing batch names the element that failed', () => {
    reset();
    hash.update(u32(3), u64(0));
    const entries = [0, 1, 2, 3, 4].map((i) => [u32(i), u64(i)] as const);
    const err = catchError(() => hash.updateBatch(entries, 'noexist'));
    expect(err).toMatchObject({ code: 'EEXIST', map: 'hash_map', index: 3 });
    expect(hash.lookup(u32(2))).toEqual(u64(2)); // written before the failure
  });

  it('iterates keys with nextKey in the same order as keys()', () => {
    reset();
    for (let i = 0; i < 30; i++) hash.update(u32(i * 7), u64(i));
    const walked: Buffer[] = [];
    for (let k = hash.nextKey(); k !== undefined; k = hash.nextKey(k)) walked.push(k);
    expect(walked).toEqual(hash.keys());
    expect(walked.map((k) => k.readUInt32LE(0)).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i * 7));
  });

  it('matches a Map model under generated operation sequences', () => {
    type Op = { kind: 'put'; key: number; value: bigint } | { kind: 'del'; key: number } | { kind: 'get'; key: number } | { kind: 'batchPut'; items: Array<[number, bigint]> } | { kind: 'batchDel'; keys: number[] };
    const key = fc.integer({ min: 0, max: 63 });
    const value = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key, value }),
      fc.record({ kind: fc.constantFrom('del' as const, 'get' as const), key }),
      fc.record({ kind: fc.constant('batchPut' as const), items: fc.array(fc.tuple(key, value), { maxLength: 20 }) }),
      fc.record({ kind: fc.constant('batchDel' as const), keys: fc.uniqueArray(key, { maxLength: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        reset();
        const model = new Map<number, bigint>();
        for (const o of ops) {
          if (o.kind === 'put') {
            hash.update(u32(o.key), u64(o.value));
            model.set(o.key, o.value);
          } else if (o.kind === 'del') {
            expect(hash.delete(u32(o.key))).toBe(model.delete(o.key));
          } else if (o.kind === 'get') {
            expect(hash.lookup(u32(o.key))?.readBigUInt64LE(0)).toBe(model.get(o.key));
          } else if (o.kind === 'batchPut') {
            // The kernel batch applies in order, so a repeated key keeps its last value.
            hash.updateBatch(o.items.map(([k, v]) => [u32(k), u64(v)] as const));
            for (const [k, v] of o.items) model.set(k, v);
          } else if (o.kind === 'batchDel') {
            const existed = o.keys.filter((k) => model.has(k)).length;
            expect(hash.deleteBatch(o.keys.map(u32))).toBe(existed);
            for (const k of o.keys) model.delete(k);
          }
        }
        const got = new Map(hash.entries().map(([k, v]) => [k.readUInt32LE(0), v.readBigUInt64LE(0)]));
        expect(got).toEqual(model);
      }),
      { numRuns: 150 },
    );
  });
});

function catchError(fn: () => unknown): BpfError {
  try {
    fn();
  } catch (err) {
    return err as BpfError;
  }
  throw new Error('expected an error');
}
