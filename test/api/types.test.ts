import { describe, expect, it } from 'vitest';
import { objectRef } from '../../src/api/types.js';

describe('objectRef', () => {
  it.each([
    [{ kind: 'NetworkPolicy', metadata: { name: 'a', namespace: 'ns' } }, 'NetworkPolicy/ns/a'],
    [{ kind: 'ClusterNetworkPolicy', metadata: { name: 'b' } }, 'ClusterNetworkPolicy/b'],
  ])('names %j as %s', (obj, want) => {
    expect(objectRef(obj)).toBe(want);
  });
});
