// Label selectors: apimachinery tables and a property test against a naive restatement.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LabelSelector, LabelSelectorRequirement } from '../../src/api/types.js';
import { selectorMatches, selectorsDisjoint } from '../../src/policy/index.js';

describe('selectorMatches (apimachinery semantics)', () => {
  it.each<[string, LabelSelector, Record<string, string>, boolean]>([
    ['empty selector matches everything', {}, {}, true],
    ['empty matchLabels/matchExpressions too', { matchLabels: {}, matchExpressions: [] }, { a: '1' }, true],
    ['matchLabels equal', { matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
    ['matchLabels other value', { matchLabels: { a: '1' } }, { a: '2' }, false],
    ['matchLabels missing key', { matchLabels: { a: '1' } }, {}, false],
    ['matchLabels empty value is a value', { matchLabels: { a: '' } }, { a: '' }, true],
    ['In', { matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '2' }, true],
    ['In missing key', { matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }, {}, false],
    ['NotIn other value', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '2' }, true],
    ['NotIn matches a missing key', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, {}, true],
    ['NotIn listed value', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '1' }, false],
    ['Exists', { matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { a: '' }, true],
    ['Exists missing', { matchExpressions: [{ key: 'a', operator: 'Exists' }] }, {}, false],
    ['DoesNotExist matches a missing key', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { b: '1' }, true],
    ['DoesNotExist present', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '1' }, false],
    ['matchLabels AND matchExpressions', { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] }, { a: '1' }, false],
    ['keys are not prototype properties', { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {}, false],
  ])('%s', (_n, sel, labels, want) => {
    expect(selectorMatches(sel, labels)).toBe(want);
  });
});

const keys = fc.constantFrom('app', 'tier', 'env', 'team');
const values = fc.constantFrom('a', 'b', 'c', '');
const labelsArb = fc.dictionary(keys, values, { maxKeys: 4 });
const requirement: fc.Arbitrary<LabelSelectorRequirement> = fc.oneof(
  fc.record({ key: keys, operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.array(values, { minLength: 1, maxLength: 3 }) }),
  fc.record({ key: keys, operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const) }),
);
const selectorArb: fc.Arbitrary<LabelSelector> = fc.record(
  { matchLabels: fc.dictionary(keys, values, { maxKeys: 2 }), matchExpressions: fc.array(requirement, { maxLength: 3 }) },
  { requiredKeys: [] },
);

/** The selector as a list of (key, predicate on value-or-undefined), all of which must hold. */
function naive(sel: LabelSelector, labels: Record<string, string>): boolean {
  const checks: [string, (v: string | undefined) => boolean][] = [];
  for (const [k, want] of Object.entries(sel.matchLabels ?? {})) checks.push([k, (v) => v === want]);
  for (const r of sel.matchExpressions ?? []) {
    const vals = r.values ?? [];
    if (r.operator === 'In') checks.push([r.key, (v) => v !== undefined && vals.includes(v)]);
    if (r.operator === 'NotIn') checks.push([r.key, (v) => v === undefined || !vals.includes(v)]);
    if (r.operator === 'Exists') checks.push([r.key, (v) => v !== undefined]);
    if (r.operator === 'DoesNotExist') checks.push([r.key, (v) => v === undefined]);
  }
  return checks.every(([k, pred]) => pred(k in labels ? labels[k] : undefined));
}

describe('selector properties', () => {
  it('agrees with a naive restatement', () => {
    fc.assert(fc.property(selectorArb, labelsArb, (sel, labels) => selectorMatches(sel, labels) === naive(sel, labels)), { numRuns: 2000 });
  });

  it('selectorsDisjoint is sound: never true when some label set matches both', () => {
    fc.assert(
      fc.property(selectorArb, selectorArb, fc.array(labelsArb, { minLength: 30, maxLength: 30 }), (a, b, sets) => {
        if (!selectorsDisjoint(a, b)) return true;
        return sets.every((l) => !(selectorMatches(a, l) && selectorMatches(b, l)));
      }),
      { numRuns: 1000 },
    );
  });

  it.each<[LabelSelector, LabelSelector, boolean]>([
    [{ matchLabels: { a: '1' } }, { matchLabels: { a: '2' } }, true],
    [{ matchLabels: { a: '1' } }, { matchLabels: { b: '2' } }, false],
    [{ matchLabels: { a: '1' } }, { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1', '2'] }] }, true],
    [{}, { matchLabels: { a: '1' } }, false],
  ])('selectorsDisjoint(%j, %j) = %s', (a, b, want) => {
    expect(selectorsDisjoint(a, b)).toBe(want);
  });
});
