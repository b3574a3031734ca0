// Every tier on a real node (test/e2e/fixtures/tiers.yaml, cases in cases/tiers.ts): the IMDS
// Admin Deny beats a namespace allow-all, an on-premises CNP opens *.corp.example.com on 443 only,
// an Admin Pass hands a namespace to its ApplicationNetworkPolicy, and a Baseline deny-by-default
// holds where no NetworkPolicy opens the namespace. The same table runs with the agent reading the
// manifest files and reading the Kubernetes API stand-in. Each connection is a real curl inside the
// pod's namespace, resolving through its resolv.conf; each verdict is checked against the client
// (200 or timeout) and against the agent's decision log (tier, policy, rule).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIER_CASES, TIERS_MANIFESTS, TIERS_OUTSIDE, TIERS_ZONE } from './cases/tiers.js';
import { SOURCE_MODES, createModeNode } from './node-modes.js';
import { needRoot, type E2eNode } from './node.js';

describe.skipIf(!needRoot).each(SOURCE_MODES)('e2e: tiers (%s)', (mode) => {
  let node: E2eNode;
  beforeAll(async () => {
    ({ node } = await createModeNode(mode, {
      manifests: TIERS_MANIFESTS,
      zone: TIERS_ZONE,
      harness: { outside: { addresses: TIERS_OUTSIDE } },
    }));
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  it.concurrent.each(TIER_CASES)('%s', async (_what, pod, url, dst, dport, verdict, tier, policy, rule) => {
    const r = await node.curl(pod, url);
    if (verdict === 'allow') {
      expect(r.stderr).toBe('');
      expect(r.body).toBe(`outside ${dst} port ${dport} from ${node.h.pod(pod).ipv4}`);
    } else {
      expect(r.code).toBe(28); // timed out: dropped, never refused
    }
    const d = await node.decision({ pod, dst, dport, decision: verdict });
    expect({ tier: d.tier, policy: d.policy, rule: d.rule }).toEqual({ tier, policy, rule });
  });
});
