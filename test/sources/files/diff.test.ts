// diffStates on generated snapshots: applying the changes to `before` gives `after`, and nothing
// is reported that did not change (an update always carries different content).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, diffStates, indexState, objectKey } from '../../../src/sources/files/diff.js';
import { emptyClusterState, type ClusterState, type KnownObject } from '../../../src/api/types.js';

const label = fc.constantFrom('a', 'b', 'c');
const name = fc.constantFrom('x', 'y', 'z', 'w');
const labels = fc.dictionary(label, fc.constantFrom('1', '2'), { maxKeys: 2 });

const nsObj = fc.record({ name, labels }).map(({ name, labels }) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }) as KnownObject);
const podObj = fc
  .record({ name, ns: name, labels, ip: fc.constantFrom('10.0.0.1', '10.0.0.2') })
  .map(({ name, ns, labels, ip }) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [] }, status: { podIP: ip } }) as KnownObject);
// Same name, two API groups: both must be tracked separately.
const cnpObj = fc
  .record({ name, prio: fc.integer({ min: 1, max: 3 }), group: fc.constantFrom('policy.networking.k8s.io/v1alpha2', 'networking.k8s.aws/v1alpha1') })
  .map(({ name, prio, group }) => ({ apiVersion: group, kind: 'ClusterNetworkPolicy', metadata: { name }, spec: { tier: 'Admin', priority: prio, subject: { namespaces: {} } } }) as KnownObject);

function stateOf(objs: KnownObject[]): ClusterState {
  const s = emptyClusterState();
  const seen = new Set<string>();
  for (const o of objs) {
    if (seen.has(objectKey(o))) continue;
    seen.add(objectKey(o));
    if (o.kind === 'Namespace') s.namespaces.push(o);
    else if (o.kind === 'Pod') s.pods.push(o);
    else if (o.kind === 'ClusterNetworkPolicy') s.clusterNetworkPolicies.push(o);
  }
  return s;
}
const stateArb = fc.array(fc.oneof(nsObj, podObj, cnpObj), { maxLength: 12 }).map(stateOf);

describe('diffStates', () => {
  it('changes applied to before give after; updates only for real differences (generated)', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (before, after) => {
        const changes = diffStates(before, after);
        const idx = indexState(before);
        for (const c of changes) {
          const obj = (c.after ?? c.before) as KnownObject;
          if (c.op === 'delete') {
            expect(idx.has(objectKey(obj))).toBe(true);
            idx.delete(objectKey(obj));
          } else {
            if (c.op === 'update') expect(canonicalJson(c.before)).not.toBe(canonicalJson(c.after));
            expect(idx.has(objectKey(obj))).toBe(c.op === 'update');
            idx.set(objectKey(obj), obj);
          }
        }
        const want = indexState(after);
        expect([...idx.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [k, v] of want) expect(canonicalJson(idx.get(k))).toBe(canonicalJson(v));
        expect(diffStates(after, after)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['key order only', { b: 1, a: { y: 2, x: 1 } }, { a: { x: 1, y: 2 }, b: 1 }, true],
    ['undefined field equals absent field', { a: 1, b: undefined }, { a: 1 }, true],
    ['list order counts', { a: [1, 2] }, { a: [2, 1] }, false],
    ['value type counts', { a: 1 }, { a: '1' }, false],
  ])('canonicalJson: %s', (_name, a, b, same) => {
    expect(canonicalJson(a) === canonicalJson(b)).toBe(same);
  });
});
