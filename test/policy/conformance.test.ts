// The upstream network-policy-api conformance suite, re-stated as 62 snapshots / 301 probes: the
// evaluator must reproduce every expected verdict.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { Evaluator, type Flow } from '../../src/policy/index.js';
import { stateFromYaml } from './support/state.js';

const root = fileURLToPath(new URL('../conformance/network-policy-api/', import.meta.url));
const snapshots = readdirSync(root).sort();

describe('network-policy-api conformance snapshots', () => {
  it('has all 62 snapshots and 301 probes', () => {
    const probes = snapshots.reduce((n, s) => n + (JSON.parse(readFileSync(join(root, s, 'expected.json'), 'utf8')) as unknown[]).length, 0);
    expect(snapshots.length).toBe(62);
    expect(probes).toBe(301);
  });

  it.each(snapshots)('%s', (snapshot) => {
    const state = stateFromYaml(readFileSync(join(root, snapshot, 'manifests.yaml'), 'utf8'));
    const flows = parse(readFileSync(join(root, snapshot, 'flows.yaml'), 'utf8')) as Flow[];
    const expected = JSON.parse(readFileSync(join(root, snapshot, 'expected.json'), 'utf8')) as string[];
    const evaluator = new Evaluator(state);
    const got = flows.map((f) => evaluator.evaluate(f, { mode: 'standard', now: 0, learned: [] }));
    const mismatches = got
      .map((v, i) => ({ i, flow: v.flow, want: expected[i], got: v.verdict, egress: v.egress.reason, ingress: v.ingress.reason }))
      .filter((m) => m.want !== m.got);
    expect(mismatches).toEqual([]);
  });
});
