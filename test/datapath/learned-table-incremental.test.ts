// LearnedTable.learn updates keys incrementally (a refreshed name keeps its slots, a new name's
// slots come from a per-pod pattern index, keys only rise) and reverts through a journal. Checked
// here against the readable derivation (src/compile slotsForLearned over every slot) on generated
// compilations with many overlapping exact and wildcard patterns, and undo against the state
// before the learn.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CompiledNode, compile, slotsForLearned } from '../../src/compile/index.js';
import { type KeyChanges, LearnedTable, StaleUndoError } from '../../src/datapath/learned-table.js';
import type { LearnedEntry } from '../../src/datapath/types.js';
import { stateFromYaml } from '../policy/support/state.js';

const POD = 'a/client';
const LABELS = ['a', 'b', 'c'];
const IPS = ['203.0.113.7', '203.0.113.8', '2001:db8::7', '2001:DB8:0::7'];

const label = fc.constantFrom(...LABELS);
const patternArb = fc
  .tuple(fc.boolean(), fc.array(label, { minLength: 2, maxLength: 3 }))
  .map(([wild, ls]) => (wild ? `*.${ls.join('.')}` : ls.join('.')));
// Names as the contract has them, and now and then with capitals or a trailing dot (the index
// leaves those to slotsForLearned, which normalizes) or an empty first label (no wildcard matches).
const nameArb = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.constantFrom('', '', '', 'upper', 'dot', 'lead'))
  .map(([ls, form]) => {
    const n = ls.join('.');
    return form === 'upper' ? n.toUpperCase() : form === 'dot' ? `${n}.` : form === 'lead' ? `.${n}` : n;
  });

function nodeWith(rules: readonly (readonly string[])[]): CompiledNode {
  const policies = rules.map(
    (patterns, i) => `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: p${i}}
spec:
  tier: Baseline
  priority: ${i}
  subject: {namespaces: {}}
  egress:
  - name: r
    action: Accept
    to: [{domainNames: [${patterns.map((p) => JSON.stringify(p)).join(', ')}]}]`,
  );
  const state = stateFromYaml(
    [
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}',
      'apiVersion: v1\nkind: Node\nmetadata: {name: n0}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.1}]}',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: a}\nspec: {nodeName: n0, containers: [{name: c}]}\nstatus: {podIP: 10.1.0.1, podIPs: [{ip: 10.1.0.1}]}',
      ...policies,
    ].join('\n---\n'),
  );
  return compile(state, { nodeName: 'n0' }, { mode: 'strict' });
}

const canon = (ip: string): string => (ip.toLowerCase() === '2001:db8:0::7' ? '2001:db8::7' : ip);

/** The keys a from-scratch derivation gives for the held entries. */
function derive(node: CompiledNode, held: ReadonlyMap<string, { name: string; ip: string; expiresAt: number }>): Map<string, number> {
  const want = new Map<string, number>();
  const ep = node.endpoints.get(POD)!;
  for (const e of held.values()) {
    for (const s of slotsForLearned(node, POD, e.name)) {
      const k = `${ep.epId}|${s}|${e.ip}`;
      want.set(k, Math.max(want.get(k) ?? -1, e.expiresAt));
    }
  }
  return want;
}

function applyTo(applied: Map<string, number>, c: KeyChanges): void {
  for (const k of c.remove) expect(applied.delete(`${k.epId}|${k.slot}|${k.ip}`)).toBe(true);
  for (const k of c.upsert) applied.set(`${k.epId}|${k.slot}|${k.ip}`, k.expiresAt);
}

const batchArb = fc.array(fc.record({ name: nameArb, ip: fc.constantFrom(...IPS), expiresAt: fc.integer({ min: 1, max: 8 }) }), { minLength: 1, maxLength: 4 });

describe('LearnedTable incremental learn', () => {
  it('keys after any learns equal slotsForLearned over every slot, with overlapping exact and wildcard patterns', () =>
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(patternArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }), fc.array(batchArb, { maxLength: 12 }), (rules, batches) => {
        const node = nodeWith(rules);
        const table = new LearnedTable();
        applyTo(new Map(), table.setNode(node));
        const applied = new Map<string, number>();
        const held = new Map<string, { name: string; ip: string; expiresAt: number }>();
        for (const batch of batches) {
          const { changes } = table.learn(batch.map((e) => ({ pod: POD, ...e, rules: [] })));
          expect(changes.remove).toEqual([]);
          applyTo(applied, changes);
          for (const e of batch) {
            const k = `${e.name}|${canon(e.ip)}`;
            held.set(k, { name: e.name, ip: canon(e.ip), expiresAt: Math.max(held.get(k)?.expiresAt ?? -1, e.expiresAt) });
          }
          expect(applied).toEqual(derive(node, held));
          expect(table.keyCount).toBe(applied.size);
          expect(table.size).toBe(held.size);
        }
      }),
      { numRuns: 60 },
    ));

  it('undo restores the entries and keys as they were before the learn, whatever the learn did', () =>
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 6 }), batchArb, fc.integer({ min: 0, max: 8 }), (history, last, sweepAt) => {
        const node = nodeWith([['*.a.b', 'b.c'], ['*.c.b', '*.a.c'], ['a.a.b']]);
        const table = new LearnedTable();
        table.setNode(node);
        const applied = new Map<string, number>();
        for (const batch of history) applyTo(applied, table.learn(batch.map((e) => ({ pod: POD, ...e, rules: [{ rule: 'h', pattern: 'h' }] }))).changes);
        applyTo(applied, table.sweep(sweepAt, 100).changes);
        const entries = (): LearnedEntry[] => table.entriesOf(POD).sort((x, y) => `${x.name}|${x.ip}`.localeCompare(`${y.name}|${y.ip}`));
        const before = { entries: entries(), keys: new Map(applied), size: table.size, keyCount: table.keyCount };
        const { changes, undo } = table.learn(last.map((e) => ({ pod: POD, ...e, rules: [{ rule: 'r', pattern: 'p' }] })));
        applyTo(applied, changes);
        applyTo(applied, undo());
        expect(applied).toEqual(before.keys);
        expect(entries()).toEqual(before.entries);
        expect(table.size).toBe(before.size);
        expect(table.keyCount).toBe(before.keyCount);
        expect(new Map([...table.allKeys()].map((k) => [`${k.epId}|${k.slot}|${k.ip}`, k.expiresAt]))).toEqual(before.keys);
        // The table works on after an undo: sweeping everything leaves no key.
        applyTo(applied, table.sweep(1000, 1000).changes);
        expect(applied.size).toBe(0);
        expect(table.size).toBe(0);
      }),
      { numRuns: 200 },
    ));

  it('a refresh of one name among many on one IP writes only that name\'s keys, and sweep still removes by the latest expiry', () => {
    const node = nodeWith([['*.a.b'], ['*.c.b']]);
    const table = new LearnedTable();
    table.setNode(node);
    const names = Array.from({ length: 200 }, (_, i) => `n${i}.${i % 2 === 0 ? 'a' : 'c'}.b`);
    for (const name of names) table.learn([{ pod: POD, name, ip: '203.0.113.7', expiresAt: 10, rules: [] }]);
    expect(table.keyCount).toBe(2);
    const { changes } = table.learn([{ pod: POD, name: names[0]!, ip: '203.0.113.7', expiresAt: 20, rules: [] }]);
    expect(changes.upsert.map((k) => k.expiresAt)).toEqual([20]);
    expect(table.learn([{ pod: POD, name: names[2]!, ip: '203.0.113.7', expiresAt: 15, rules: [] }]).changes.upsert).toEqual([]);
    const swept = table.sweep(10, 1000);
    expect(swept.removed).toHaveLength(198);
    // Both refreshed names keep the *.a.b key at the later expiry; the *.c.b key is gone.
    expect([...table.allKeys()].map((k) => k.expiresAt)).toEqual([20]);
    expect(swept.changes.remove).toHaveLength(1);
    expect(table.sweep(20, 1000).removed.map((r) => r.name).sort()).toEqual([names[0], names[2]].sort());
  });

  it('an undo is refused once another learn has changed the table, and runs only once', () => {
    const table = new LearnedTable();
    table.setNode(nodeWith([['*.a.b']]));
    const first = table.learn([{ pod: POD, name: 'x.a.b', ip: '203.0.113.7', expiresAt: 5, rules: [] }]);
    const second = table.learn([{ pod: POD, name: 'y.a.b', ip: '203.0.113.7', expiresAt: 6, rules: [] }]);
    expect(() => first.undo()).toThrow(StaleUndoError);
    expect(second.undo().upsert.map((k) => k.expiresAt)).toEqual([5]);
    expect(() => second.undo()).toThrow(StaleUndoError);
    expect(table.entriesOf(POD).map((e) => e.name)).toEqual(['x.a.b']);
  });
});
