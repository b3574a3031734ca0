// The learned bookkeeping both backends share: after any sequence of learn / forget / sweep /
// new compilation, the keys the change stream has produced (applied in order, as a backend does)
// are exactly what a from-scratch derivation gives: for every held (pod, name, ip), each slot of
// the current compilation whose patterns match the name, at the latest expiry of the names
// behind the key. So forgetting one name never cuts an IP another name still holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CompiledNode, slotsForLearned } from '../../src/compile/index.js';
import { type KeyChanges, LearnedTable } from '../../src/datapath/learned-table.js';
import type { LearnedEntry } from '../../src/datapath/types.js';
import { CLIENT, SERVER, fixtureNode, fixtureState } from './support/fixture.js';

const PODS = [CLIENT, SERVER, 'a/gone'];
const NAMES = ['api.example.com', 'www.example.com', 'a.b.example.com', 'example.com', 'db.corp.internal'];
const IPS = ['203.0.113.7', '203.0.113.8', '2001:db8::7', '2001:DB8:0::7'];

// Two compilations with different slots: the second adds a rule for *.corp.internal and moves ids.
const NODES: CompiledNode[] = [
  fixtureNode(),
  fixtureNode(
    fixtureState(`apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: corp}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  egress:
  - name: corp
    action: Accept
    to: [{domainNames: ["*.corp.internal", "api.example.com"]}]`),
  ),
];

type Op =
  | { op: 'learn'; entries: { pod: string; name: string; ip: string; expiresAt: number }[] }
  | { op: 'forget'; refs: { pod: string; name: string; ip: string }[] }
  | { op: 'sweep'; now: number; maxWork: number }
  | { op: 'node'; index: number };

const refArb = fc.record({ pod: fc.constantFrom(...PODS), name: fc.constantFrom(...NAMES), ip: fc.constantFrom(...IPS) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.record({ pod: fc.constantFrom(...PODS), name: fc.constantFrom(...NAMES), ip: fc.constantFrom(...IPS), expiresAt: fc.integer({ min: 0, max: 100 }) }), { minLength: 1, maxLength: 4 }).map((entries) => ({ op: 'learn' as const, entries })) },
  { weight: 2, arbitrary: fc.array(refArb, { minLength: 1, maxLength: 3 }).map((refs) => ({ op: 'forget' as const, refs })) },
  { weight: 1, arbitrary: fc.record({ now: fc.integer({ min: 0, max: 100 }), maxWork: fc.integer({ min: 1, max: 3 }) }).map((r) => ({ op: 'sweep' as const, ...r })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 }).map((index) => ({ op: 'node' as const, index })) },
);

const canon = (ip: string): string => (ip.toLowerCase() === '2001:db8:0::7' ? '2001:db8::7' : ip);

describe('LearnedTable', () => {
  it('the applied change stream always equals a from-scratch derivation', () =>
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
        const table = new LearnedTable();
        const applied = new Map<string, number>();
        const apply = (c: KeyChanges): void => {
          // A delete never targets a key written in the same batch (the backend writes first).
          const written = new Set(c.upsert.map((k) => `${k.epId}|${k.slot}|${k.ip}`));
          for (const k of c.remove) expect(written.has(`${k.epId}|${k.slot}|${k.ip}`)).toBe(false);
          for (const k of c.remove) expect(applied.delete(`${k.epId}|${k.slot}|${k.ip}`)).toBe(true);
          for (const k of c.upsert) applied.set(`${k.epId}|${k.slot}|${k.ip}`, k.expiresAt);
        };
        // The model: the held entries, latest expiry per (pod, name, ip).
        const held = new Map<string, LearnedEntry>();
        let node: CompiledNode | null = null;
        for (const o of ops) {
          if (o.op === 'learn') {
            apply(table.learn(o.entries.map((e) => ({ ...e, rules: [] }))).changes);
            for (const e of o.entries) {
              const k = `${e.pod}|${e.name}|${canon(e.ip)}`;
              const prev = held.get(k);
              held.set(k, { ...e, ip: canon(e.ip), expiresAt: Math.max(prev?.expiresAt ?? -1, e.expiresAt), rules: [] });
            }
          } else if (o.op === 'forget') {
            apply(table.forget(o.refs));
            for (const r of o.refs) held.delete(`${r.pod}|${r.name}|${canon(r.ip)}`);
          } else if (o.op === 'sweep') {
            const { removed, changes } = table.sweep(o.now, o.maxWork);
            apply(changes);
            const expired = [...held.values()].filter((e) => e.expiresAt <= o.now).length;
            expect(removed.length).toBe(Math.min(expired, o.maxWork));
            for (const r of removed) {
              const e = held.get(`${r.pod}|${r.name}|${r.ip}`);
              expect(e !== undefined && e.expiresAt <= o.now).toBe(true);
              held.delete(`${r.pod}|${r.name}|${r.ip}`);
            }
          } else {
            node = NODES[o.index]!;
            apply(table.setNode(node));
          }
          const want = new Map<string, number>();
          for (const e of held.values()) {
            const ep = node?.endpoints.get(e.pod);
            if (!node || !ep) continue;
            for (const s of slotsForLearned(node, e.pod, e.name)) {
              const k = `${ep.epId}|${s}|${e.ip}`;
              want.set(k, Math.max(want.get(k) ?? -1, e.expiresAt));
            }
          }
          expect(applied).toEqual(want);
          expect(table.size).toBe(held.size);
          expect(table.keyCount).toBe(want.size);
        }
      }),
      { numRuns: 400 },
    ));

  it('undo of a learn restores the previous keys', () => {
    const table = new LearnedTable();
    table.setNode(NODES[0]!);
    table.learn([{ pod: CLIENT, name: 'api.example.com', ip: '203.0.113.7', expiresAt: 50, rules: [] }]);
    const before = [...table.allKeys()];
    const { changes, undo } = table.learn([
      { pod: CLIENT, name: 'api.example.com', ip: '203.0.113.7', expiresAt: 90, rules: [] },
      { pod: CLIENT, name: 'www.example.com', ip: '203.0.113.8', expiresAt: 90, rules: [] },
    ]);
    expect(changes.upsert).toHaveLength(2);
    const reverted = undo();
    expect(reverted.upsert.map((k) => k.expiresAt)).toEqual([50]);
    expect(reverted.remove.map((k) => k.ip)).toEqual(['203.0.113.8']);
    expect([...table.allKeys()]).toEqual(before);
    expect(table.size).toBe(1);
  });
});
