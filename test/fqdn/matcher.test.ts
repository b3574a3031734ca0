import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DomainMatcher, hashLabel } from '../../src/fqdn/matcher.js';
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

// Two different labels with the same 32-bit label hash, found by a birthday search.
function collidingLabels(): [string, string] {
  const seen = new Map<number, string>();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (let i = 0; ; i++) {
    let label = '';
    for (let n = i, k = 0; k < 7; k++, n = Math.floor(n / alphabet.length)) label += alphabet[n % alphabet.length];
    const h = hashLabel(label, 0, label.length);
    const other = seen.get(h);
    if (other !== undefined) return [other, label];
    seen.set(h, label);
  }
}

describe('DomainMatcher: hash collisions never decide a match', () => {
  const [a, b] = collidingLabels();

  it(`found colliding labels ${a} and ${b}`, () => {
    expect(a).not.toBe(b);
    expect(hashLabel(a, 0, a.length)).toBe(hashLabel(b, 0, b.length));
  });

  it.each<[string, [string, number][], string, number[]]>([
    ['exact, only the other label stored', [[`${a}.example.com`, 1]], `${b}.example.com`, []],
    ['exact, upper case', [[`${a}.example.com`, 1]], `${b.toUpperCase()}.example.com.`, []],
    ['exact, both stored (first)', [[`${a}.example.com`, 1], [`${b}.example.com`, 2]], `${a}.example.com`, [1]],
    ['exact, both stored (second)', [[`${a}.example.com`, 1], [`${b}.example.com`, 2]], `${b}.example.com`, [2]],
    ['wildcard below the colliding label', [[`*.${a}.example.com`, 1], ['*.example.com', 3]], `x.${b}.example.com`, [3]],
    ['wildcard at the colliding label', [[`*.${a}.example.com`, 1], [`*.${b}.example.com`, 2]], `x.y.${b}.example.com`, [2]],
    ['colliding top-level label', [[`example.${a}`, 1]], `example.${b}`, []],
  ])('%s', (_what, patterns, name, expected) => {
    const matcher = new DomainMatcher<number>(patterns);
    expect([...matcher.match(name)]).toEqual(expected);
    expect([...matcher.match(name)]).toEqual(naiveMatch(patterns.map(([p]) => p), name).map((i) => patterns[i]![1]));
  });
});

describe('DomainMatcher at table sizes where probes collide and chains form', () => {
  it('agrees with the reference on 3000 patterns sharing suffixes', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rnd = fc.sample(fc.array(fc.constantFrom('a', 'b', 'c', 'ab', 'ba', 'x-1', 'Q', 'com', 'net'), { minLength: 1, maxLength: 5 }), { seed, numRuns: 3500 });
        const patterns = rnd.slice(0, 3000).map((labels, i) => (i % 3 === 0 ? `*.${labels.join('.')}` : labels.join('.')));
        const matcher = new DomainMatcher<number>(patterns.map((p, i) => [p, i] as const));
        for (const labels of rnd.slice(3000)) {
          const name = labels.join('.');
          expect([...matcher.match(name)]).toEqual(naiveMatch(patterns, name));
        }
      }),
      { numRuns: 3 },
    );
  });
});
