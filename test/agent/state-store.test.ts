// The state directory: a compilation survives a save/load round trip, a damaged or foreign file is
// reported and ignored, and a compiler seeded with the loaded compilation keeps every id even when
// the cluster comes back in another order.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore, decodeCompiledNode, encodeCompiledNode } from '../../src/agent/state-store.js';
import { parseManifests } from '../../src/api/load.js';
import type { ClusterState } from '../../src/api/types.js';
import { Compiler, compile } from '../../src/compile/index.js';
import type { CompiledNode } from '../../src/compile/types.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STATE = parseManifests(readFileSync(join(REPO, 'test/e2e/fixtures/tiers.yaml'), 'utf8'), 'tiers.yaml').state;
const ALL = { pods: STATE.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`) };

/** Everything but the savedAt stamp. */
const body = (text: string): unknown => ({ ...(JSON.parse(text) as object), savedAt: undefined });

function ids(node: CompiledNode): { endpoints: [string, number][]; slots: [string, number][]; rules: [string, number][] } {
  return {
    endpoints: [...node.endpoints.values()].map((e) => [e.key, e.epId] as [string, number]).sort(),
    slots: [...node.slots.values()].map((s) => [`${s.rule}|${s.patterns.join(',')}`, s.slot] as [string, number]).sort(),
    rules: [...node.rules.values()].map((r) => [`${String(r.policy)}|${String(r.direction)}|${String(r.rule)}`, r.ruleId] as [string, number]).sort(),
  };
}

describe('state store', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('round-trips a compilation (tables, slots, rule refs)', () => {
    const node = compile(STATE, ALL, { mode: 'strict' });
    const text = encodeCompiledNode(node);
    const back = decodeCompiledNode(text);
    expect(body(encodeCompiledNode(back))).toEqual(body(text));
    expect(ids(back)).toEqual(ids(node));
    const ep = back.endpoints.get('hybrid/ledger')!;
    expect([...ep.egress.prefixes.values()]).toEqual([...node.endpoints.get('hybrid/ledger')!.egress.prefixes.values()]);
  });

  it('keeps ids for a restarted compiler that sees the cluster in another order', () => {
    const first = compile(STATE, ALL, { mode: 'standard' });
    const shuffled: ClusterState = {
      ...STATE,
      pods: [...STATE.pods].reverse(),
      clusterNetworkPolicies: [...STATE.clusterNetworkPolicies].reverse(),
      networkPolicies: [...STATE.networkPolicies].reverse(),
    };
    const fresh = compile(shuffled, { pods: [...ALL.pods].reverse() }, { mode: 'standard' });
    expect(ids(fresh)).not.toEqual(ids(first)); // without the state the ids move...
    const adopted = new Compiler(shuffled, { pods: [...ALL.pods].reverse() }, { mode: 'standard', previous: decodeCompiledNode(encodeCompiledNode(first)) }).result();
    expect(ids(adopted)).toEqual(ids(first)); // ...with it they stay
  });

  it.each([
    ['not JSON', '{nope', /JSON|Unexpected|Expected/],
    ['another format', JSON.stringify({ format: 'x', node: {} }), /not a dnsgate-compiled-node\/v1 file/],
    ['a broken endpoint', JSON.stringify({ format: 'dnsgate-compiled-node/v1', node: { endpoints: [{ key: 'a/b' }], slots: [], rules: [], maxRules: 64 } }), /malformed endpoint/],
  ])('ignores a file with %s, saying so', (_what, text, reason) => {
    const dir = mkdtempSync(join(tmpdir(), 'dnsgate-state-'));
    dirs.push(dir);
    const errors: Error[] = [];
    const store = new StateStore(dir, (e) => errors.push(e));
    writeFileSync(store.path, text);
    expect(store.load()).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(reason);
  });

  it('saves atomically, coalescing bursts, and loads what it saved', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'dnsgate-state-')), 'nested');
    dirs.push(dirname(dir));
    const errors: Error[] = [];
    let now = 0;
    const store = new StateStore(dir, (e) => errors.push(e), 1000, () => now);
    expect(store.load()).toBeUndefined();
    const a = compile(STATE, ALL, { mode: 'standard' });
    const b = compile(STATE, ALL, { mode: 'strict' });
    store.save(a);
    store.save(b);
    store.flush();
    now = 10;
    expect([...store.load()!.endpoints.values()].every((e) => e.config.mode === 'strict')).toBe(true);
    expect(errors).toEqual([]);
  });
});
