// Every example of examples/ (the EKS announcement and best-practice policies) through the loader
// and the reference evaluator: the loader must accept each directory without an error, and every
// flow must get the verdict derived by hand from SEMANTICS.md in that directory's expected.json.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/api/load.js';
import { Evaluator, learnedAt, type Flow, type Verdict } from '../../src/policy/index.js';

const root = fileURLToPath(new URL('../../examples/', import.meta.url));
// Fixed instant: verdicts must not depend on the wall clock.
const NOW = Date.UTC(2026, 0, 1);

interface Example {
  name: string;
  manifests: string[];
  flows: Flow[];
  expected: Verdict[];
  reasons: string[];
}

/** The example directories: those with a flows.yaml (examples/r53 and others have their own tests). */
function exampleDirs(): string[] {
  return readdirSync(root)
    .filter((d) => statSync(join(root, d)).isDirectory())
    .filter((d) => readdirSync(join(root, d)).includes('flows.yaml'))
    .sort();
}

function loadExample(name: string): Example {
  const dir = join(root, name);
  const files = readdirSync(dir).sort();
  const manifests = files
    .filter((f) => /\.(ya?ml|json)$/.test(f) && !/^(flows|expected)\./.test(f))
    .map((f) => join(dir, f));
  const flowsText = readFileSync(join(dir, 'flows.yaml'), 'utf8');
  const flows = parse(flowsText) as Flow[];
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Verdict[];
  // The hand derivation lives in the `# why:` comment above each flow; keep it in failure output.
  const reasons = [...flowsText.matchAll(/^# why: (.*)$/gm)].map((m) => m[1] ?? '');
  return { name, manifests, flows, expected, reasons };
}

/** A flow's `fqdn`: its `from` pod resolved that name to `to` now, with the default TTL (60 s). */
function learnedOf(flow: Flow): ReturnType<typeof learnedAt>[] {
  if (flow.fqdn === undefined) return [];
  const entry = learnedAt(flow.from, flow.fqdn, flow.to, NOW);
  expect(entry.expiresAt).toBe(NOW + 60_000);
  return [entry];
}

function withoutName(flow: Flow): Flow {
  const { fqdn: _learnedSeparately, ...rest } = flow;
  return rest;
}

const names = exampleDirs();

describe('examples/', () => {
  it('holds every EKS example with flows and expected verdicts', () => {
    expect(names).toEqual(
      expect.arrayContaining([
        'access-to-dynamodb',
        'access-to-s3',
        'block-instance-metadata-service',
        'cluster-wide-allow-example',
        'moon-backend-egress',
        'my-onprem-app-egress',
        'on-premises-access',
        'protect-sensitive-workload',
        'sun-moon-stars',
      ]),
    );
  });

  it.each(names)('%s: data is consistent (one verdict and one reason per flow, both verdicts present)', (name) => {
    const ex = loadExample(name);
    expect(ex.flows.length).toBeGreaterThan(0);
    expect(ex.expected).toHaveLength(ex.flows.length);
    expect(ex.reasons).toHaveLength(ex.flows.length);
    ex.reasons.forEach((r, i) => expect(r.startsWith(`${ex.expected[i]} - `), `flow ${i}: "${r}"`).toBe(true));
    // An example that only allows (or only denies) shows nothing about the policy.
    expect(new Set(ex.expected)).toEqual(new Set(['Allow', 'Deny']));
  });

  it.each(names)('%s: the loader reports no error', async (name) => {
    const { problems } = await loadManifests(loadExample(name).manifests);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it.each(names)('%s: every flow gets its expected verdict', async (name) => {
    // Twice per flow: as `dnsgate explain` passes it (the flow's own fqdn), and as the agent would
    // (the flow without fqdn plus the learned entry as data). Both must give the hand verdict.
    const ex = loadExample(name);
    const { state } = await loadManifests(ex.manifests);
    const evaluator = new Evaluator(state);
    const mismatches = ex.flows.flatMap((flow, i) => {
      const runs = [
        { path: 'fqdn field', v: evaluator.evaluate(flow, { mode: 'standard', now: NOW, learned: [] }) },
        { path: 'learned data', v: evaluator.evaluate(withoutName(flow), { mode: 'standard', now: NOW, learned: learnedOf(flow) }) },
      ];
      return runs
        .filter(({ v }) => v.verdict !== ex.expected[i])
        .map(({ path, v }) => ({ i, path, flow, want: ex.expected[i], got: v.verdict, why: ex.reasons[i], egress: v.egress.reason, ingress: v.ingress.reason }));
    });
    expect(mismatches).toEqual([]);
  });

  it.each(names)('%s: a learned name stops opening new connections when its TTL ends', async (name) => {
    // SEMANTICS.md 5: expiry is exclusive. One TTL after the lookup, every flow that had an fqdn must
    // get the verdict of the same flow with nothing learned.
    const ex = loadExample(name);
    const { state } = await loadManifests(ex.manifests);
    const evaluator = new Evaluator(state);
    const later = NOW + 60_000;
    for (const flow of ex.flows.filter((f) => f.fqdn !== undefined)) {
      const plain = withoutName(flow);
      const expired = evaluator.evaluate(plain, { mode: 'standard', now: later, learned: learnedOf(flow) }).verdict;
      const unlearned = evaluator.evaluate(plain, { mode: 'standard', now: later, learned: [] }).verdict;
      expect(expired, JSON.stringify(flow)).toBe(unlearned);
    }
  });
});
