import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DOMAIN_NAME_REGEX, normalizeName, parseDomainPattern, patternMatchesName } from '../../src/fqdn/pattern.js';

const label63 = 'a'.repeat(63);
const label64 = 'a'.repeat(64);
// 4 labels of 63 + 3 dots = 255; trimmed to exactly 253 / 254 characters.
const name253 = `${'a'.repeat(61)}.${label63}.${label63}.${label63}`;
const name254 = `b${name253}`;

describe('parseDomainPattern: valid patterns', () => {
  it.each([
    ['example.com', 'example.com', false],
    ['*.example.com', '*.example.com', true],
    ['API.Example.COM.', 'api.example.com', false],
    ['*.S3.Amazonaws.com.', '*.s3.amazonaws.com', true],
    ['a_b.example.com', 'a_b.example.com', false],
    ['a-b--c.example.com', 'a-b--c.example.com', false],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example', false],
    ['1.2.3.4', '1.2.3.4', false],
    ['*.a.b', '*.a.b', true],
    [`${label63}.com`, `${label63}.com`, false],
    [name253, name253, false],
    [`${name253}.`, name253, false],
  ])('%s -> %s (wildcard %s)', (input, pattern, wildcard) => {
    expect(name253.length).toBe(253);
    expect(parseDomainPattern(input)).toEqual({ ok: true, pattern, wildcard });
  });
});

describe('parseDomainPattern: invalid patterns with reasons', () => {
  it.each([
    ['', 'empty'],
    ['com', 'two labels'],
    ['com.', 'two labels'],
    ['*.com', "two labels after '*.'"],
    ['*', "'*'"],
    ['*.', "'*'"],
    ['**.example.com', "'*'"],
    ['*example.com', "'*'"],
    ['a.*.example.com', "'*'"],
    ['*.*.example.com', "'*'"],
    ['example..com', 'empty label'],
    ['.example.com', 'empty label'],
    ['example.com..', 'empty label'],
    ['-a.example.com', 'start and end'],
    ['a-.example.com', 'start and end'],
    ['_dmarc.example.com', 'start and end'],
    ['a_.example.com', 'start and end'],
    ['a b.example.com', 'characters other'],
    ['ex@mple.com', 'characters other'],
    ['example.com/path', 'characters other'],
    ['http://example.com', 'characters other'],
    ['bücher.de', 'characters other'],
    // Characters the upstream `A-z` typo let through.
    ['exa[mple.com', 'characters other'],
    ['a^b.example.com', 'characters other'],
    ['a`b.example.com', 'characters other'],
    ['a\\b.example.com', 'characters other'],
    ['a]b.example.com', 'characters other'],
    [`${label64}.com`, '63'],
    [`*.${label64}.com`, '63'],
    [name254, '253'],
    [`*.${name253.slice(2)}.`, undefined],
    [`*.${name253}`, '253'],
  ])('%j is rejected (%s)', (input, reasonPart) => {
    const result = parseDomainPattern(input);
    if (reasonPart === undefined) {
      // `*.` + 251 characters is 253 long: the boundary is on the accepting side.
      expect(result.ok).toBe(true);
      return;
    }
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reasonPart);
  });

  it('agrees with the fixed upstream regex plus the length limits on generated strings', () => {
    const chars = fc.constantFrom(...'aZ09-_.*[`^\\@ '.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }).map((cs) => cs.join('')), (input) => {
        const result = parseDomainPattern(input);
        const withoutDot = input.endsWith('.') ? input.slice(0, -1) : input;
        const base = withoutDot.startsWith('*.') ? withoutDot.slice(2) : withoutDot;
        const expected = DOMAIN_NAME_REGEX.test(input) && base.split('.').every((l) => l.length <= 63) && withoutDot.length <= 253;
        expect(result.ok).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('normalizeName', () => {
  it.each([
    ['Example.COM.', 'example.com'],
    ['example.com', 'example.com'],
    ['a.com..', 'a.com.'],
    ['.', ''],
    ['', ''],
    // Only ASCII folds: the Kelvin sign and dotted I stay what they are (RFC 4343).
    ['\u212Aey.example.com', '\u212Aey.example.com'],
    ['\u0130.example.com', '\u0130.example.com'],
    ['MiXeD-Case_1.Example.', 'mixed-case_1.example'],
  ])('%j -> %j', (input, expected) => {
    expect(normalizeName(input)).toBe(expected);
  });
});

describe('patternMatchesName (the readable reference)', () => {
  it.each([
    ['example.com', 'example.com', true],
    ['example.com', 'EXAMPLE.COM.', true],
    ['example.com', 'a.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'A.Example.Com.', true],
    ['*.example.com', 'aexample.com', false],
    ['*.example.com', '.example.com', false],
    ['*.example.com', 'example.com.evil.net', false],
    ['api.example.com', 'api.example.com..', false],
  ])('%s vs %j -> %s', (pattern, name, expected) => {
    expect(patternMatchesName(pattern, name)).toBe(expected);
  });
});
