import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DomainMatcher } from '../../src/fqdn/matcher.js';
import { patternMatchesName } from '../../src/fqdn/pattern.js';

describe('DomainMatcher: tables', () => {
  const matcher = new DomainMatcher<string>([
    ['example.com', 'apex'],
    ['*.example.com', 'wild'],
    ['api.example.com', 'api'],
    ['*.api.example.com', 'wild-api'],
    ['*.Deep.Example.ORG.', 'deep'],
    ['api.example.com', 'api-again'],
  ]);

  it('counts every entry', () => {
    expect(matcher.size).toBe(6);
  });

  it.each<[string, string[]]>([
    ['example.com', ['apex']],
    ['EXAMPLE.com.', ['apex']],
    ['a.example.com', ['wild']],
    ['A.EXAMPLE.COM', ['wild']],
    ['api.example.com', ['api', 'api-again', 'wild']],
    ['Api.Example.Com.', ['api', 'api-again', 'wild']],
    ['x.api.example.com', ['wild-api', 'wild']],
    ['deep.x.y.z.example.com', ['wild']],
    ['v.w.x.y.z.api.example.com', ['wild-api', 'wild']],
    ['s.deep.example.org', ['deep']],
    ['deep.example.org', []],
    ['example.com..', []],
    ['.example.com', []],
    ['..example.com', ['wild']],
    ['notexample.com', []],
    ['aexample.com', []],
    ['example.com.evil.net', []],
    ['com', []],
    ['example', []],
    ['', []],
    ['.', []],
    ['\u212Api.example.com', ['wild']],
  ])('%j -> %j', (name, expected) => {
    expect([...matcher.match(name)]).toEqual(expected);
    expect(matcher.matches(name)).toBe(expected.length > 0);
  });

  it('returns results the caller cannot corrupt', () => {
    const first = matcher.match('a.example.com');
    expect(Object.isFrozen(first)).toBe(true);
    expect([...matcher.match('a.example.com')]).toEqual(['wild']);
  });

  it('an empty matcher matches nothing', () => {
    const empty = new DomainMatcher<number>([]);
    expect(empty.size).toBe(0);
    expect(empty.match('example.com')).toEqual([]);
    expect(empty.matches('')).toBe(false);
  });
});

// Small alphabets so generated names often share labels with generated patterns.
const patternLabel = fc.constantFrom('a', 'b', 'ab', 'c-d', 'e_f', 'x1', 'com');
const nameLabel = fc.constantFrom('a', 'b', 'ab', 'AB', 'c-d', 'C-D', 'e_f', 'x1', 'com', 'COM', '', 'ba', '\u212A');
const patternArb = fc
  .tuple(fc.boolean(), fc.array(patternLabel, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean())
  .map(([wild, labels, upper, dot]) => {
    const base = labels.join('.');
    const p = (wild ? `*.${base}` : base) + (dot ? '.' : '');
    return upper ? p.toUpperCase() : p;
  });
const nameArb = fc
  .tuple(fc.array(nameLabel, { minLength: 0, maxLength: 6 }), fc.constantFrom('', '.', '..'))
  .map(([labels, tail]) => labels.join('.') + tail);

// Most specific first: exact, then wildcards by longer pattern; equal patterns keep input order.
function naiveMatch(patterns: readonly string[], name: string): number[] {
  return patterns
    .map((p, i) => ({ p: p.toLowerCase().replace(/\.$/, ''), i }))
    .filter(({ p }) => patternMatchesName(p, name))
    .sort((x, y) => {
      const xw = x.p.startsWith('*.') ? 1 : 0;
      const yw = y.p.startsWith('*.') ? 1 : 0;
      return xw - yw || y.p.length - x.p.length || x.i - y.i;
    })
    .map(({ i }) => i);
}

describe('DomainMatcher agrees with the O(patterns) reference', () => {
  it('on generated patterns and names', () => {
    fc.assert(
      fc.property(fc.array(patternArb, { maxLength: 30 }), fc.array(nameArb, { minLength: 1, maxLength: 20 }), (patterns, names) => {
        const matcher = new DomainMatcher<number>(patterns.map((p, i) => [p, i] as const));
        for (const name of names) {
          const expected = naiveMatch(patterns, name);
          expect([...matcher.match(name)]).toEqual(expected);
          expect(matcher.matches(name)).toBe(expected.length > 0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('on names built from the patterns themselves (hits, apexes, subdomains)', () => {
    fc.assert(
      fc.property(fc.array(patternArb, { minLength: 1, maxLength: 30 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom('', 'q.', 'Q.r.', 'x'))), (patterns, picks) => {
        const matcher = new DomainMatcher<number>(patterns.map((p, i) => [p, i] as const));
        for (const [pick, prefix] of picks) {
          const base = patterns[pick % patterns.length]!.replace(/^\*\./, '');
          const name = prefix + base;
          expect([...matcher.match(name)]).toEqual(naiveMatch(patterns, name));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
