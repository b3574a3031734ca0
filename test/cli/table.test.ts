import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/cli/table.js';
import { parseAt } from '../../src/cli/time.js';

describe('renderTable', () => {
  it('aligns columns to the widest cell', () => {
    expect(renderTable(['A', 'BB'], [['xxx', 'y'], ['z', 'wwww']])).toBe('A    BB\nxxx  y\nz    wwww\n');
  });
});

describe('parseAt', () => {
  it.each([
    ['2026-01-02T03:04:05Z', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['1700000000000', 1_700_000_000_000],
  ])('parses %s', (input, want) => expect(parseAt(input)).toBe(want));
  it('defaults to now', () => expect(parseAt(undefined, () => 42)).toBe(42));
  it.each(['yesterday', '2024', '1700000000'])('rejects %s naming the flag', (v) =>
    expect(() => parseAt(v)).toThrow(new RegExp(`--at: "${v}"`)));
});
