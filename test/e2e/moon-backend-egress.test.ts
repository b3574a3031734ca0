// examples/moon-backend-egress on a real node: the backend reaches api.example.com and
// *.example.net on TCP 443 after resolving them through its normal resolv.conf (transparently
// redirected to dnsgate's proxy); other ports, other names and IPs it did not resolve are dropped
// (the client times out), and the decision log says which tier and policy decided. Runs with the
// agent reading the example's files and reading the Kubernetes API stand-in holding them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_MODES, createModeNode } from './node-modes.js';
import { KUBE_DNS, example, needRoot, type E2eNode } from './node.js';

const POLICY = 'ApplicationNetworkPolicy/moon/moon-backend-egress';
/** A drop by the NetworkPolicy tier: the backend is selected and no rule allows the flow. */
const UNMATCHED = { tier: 'NetworkPolicy', policy: null, rule: null };

const ZONE = [
  { name: 'api.example.com', type: 'A' as const, data: '203.0.113.60', ttl: 300 },
  { name: 'v2.api.example.com', type: 'A' as const, data: '203.0.113.61', ttl: 300 },
  { name: 'cdn.example.net', type: 'A' as const, data: '203.0.113.62', ttl: 300 },
  { name: 'example.net', type: 'A' as const, data: '203.0.113.63', ttl: 300 },
  { name: 'direct.example.org', type: 'A' as const, data: '203.0.113.64', ttl: 300 },
];

describe.skipIf(!needRoot).each(SOURCE_MODES)('e2e: moon-backend-egress (%s)', (mode) => {
  let node: E2eNode;
  beforeAll(async () => {
    ({ node } = await createModeNode(mode, {
      manifests: [example('moon-backend-egress', 'cluster.yaml'), example('moon-backend-egress', 'policy.yaml'), KUBE_DNS],
      nodeName: 'node-a',
      zone: ZONE,
    }));
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  it('is ready, with both local pods enforced and their DNS redirected', async () => {
    const ready = await node.waitLog((l) => l.event === 'ready');
    expect(ready.endpoints).toBe(2);
    const nft = await node.h.execNode(['nft', 'list', 'table', 'inet', 'dnsgate']);
    for (const p of node.h.pods) expect(nft.stdout).toContain(`"${p.hostIf}"`);
    expect(nft.stdout).toMatch(/ip daddr 10\.96\.0\.10 dnat ip to 10\.250\.255\.1:5353/);
  });

  it('drops a direct connection to an IP the pod never resolved (the client times out)', async () => {
    const r = await node.curl('moon/backend', 'http://203.0.113.64:443/');
    expect(r.code).toBe(28);
    const d = await node.decision({ pod: 'moon/backend', decision: 'deny', dst: '203.0.113.64', dport: 443 });
    expect(d).toMatchObject({ ...UNMATCHED, direction: 'egress', protocol: 'TCP' });
  });

  it('reaches the exact name on its port after a lookup through the cluster DNS address', async () => {
    const r = await node.curl('moon/backend', 'http://api.example.com:443/');
    expect(r.stderr).toBe('');
    expect(r.body).toBe('outside 203.0.113.60 port 443 from 10.244.80.10');
    const d = await node.decision({ pod: 'moon/backend', decision: 'allow', dst: '203.0.113.60', dport: 443 });
    expect(d).toMatchObject({ tier: 'NetworkPolicy', policy: POLICY, rule: 0 });
  });

  it('reaches a name under the wildcard', async () => {
    expect((await node.curl('moon/backend', 'http://cdn.example.net:443/')).body).toBe('outside 203.0.113.62 port 443 from 10.244.80.10');
    const d = await node.decision({ pod: 'moon/backend', decision: 'allow', dst: '203.0.113.62', dport: 443 });
    expect({ tier: d.tier, policy: d.policy, rule: d.rule }).toEqual({ tier: 'NetworkPolicy', policy: POLICY, rule: 0 });
  });

  it.concurrent.each([
    ['the right name on another port', 'http://api.example.com:80/', '203.0.113.60', 80],
    ['a subdomain of the exact name', 'http://v2.api.example.com:443/', '203.0.113.61', 443],
    ['the apex of the wildcard', 'http://example.net:443/', '203.0.113.63', 443],
  ])('drops %s', async (_what, url, dst, dport) => {
    const r = await node.curl('moon/backend', url);
    expect(r.code).toBe(28);
    const d = await node.decision({ pod: 'moon/backend', decision: 'deny', dst, dport });
    expect({ tier: d.tier, policy: d.policy, rule: d.rule }).toEqual(UNMATCHED);
  });

  it('leaves the unselected frontend open', async () => {
    expect((await node.curl('moon/frontend', 'http://203.0.113.64:80/')).body).toBe('outside 203.0.113.64 port 80 from 10.244.80.20');
    const d = await node.decision({ pod: 'moon/frontend', decision: 'allow', dst: '203.0.113.64', dport: 80 });
    expect({ tier: d.tier, policy: d.policy, rule: d.rule }).toEqual({ tier: 'Default', policy: null, rule: null });
  });

  it('answers the pod from the address it asked (dig @10.96.0.10, UDP and TCP)', async () => {
    for (const tcp of [false, true]) {
      const r = await node.exec('moon/backend', ['dig', '+time=2', '+tries=1', ...(tcp ? ['+tcp'] : []), '@10.96.0.10', 'api.example.com']);
      expect(r.stdout).toMatch(/status: NOERROR/);
      expect(r.stdout).toMatch(/SERVER: 10\.96\.0\.10#53/);
      expect(r.stdout).toMatch(/api\.example\.com\.\s+\d+\s+IN\s+A\s+203\.0\.113\.60/);
    }
  });
});
