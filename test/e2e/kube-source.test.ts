// The agent on a real node reading the cluster from the Kubernetes API (the stand-in, over HTTPS
// with a kubeconfig, reached from the node namespace) instead of files: the tier and domain
// scenarios behave as with files, a policy changed through the API is programmed from the watch,
// and an invalid policy gets Accepted=False and a Warning Event written by the leader agent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_USER, KubeApiLink } from './kube-api.js';
import { E2eNode, KUBE_DNS, REPO, needRoot } from './node.js';

type Obj = Record<string, unknown>;
const TIERS = join(REPO, 'test/e2e/fixtures/tiers.yaml');
const DNS = join(REPO, 'test/e2e/fixtures/dns.yaml');

async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const accepted = (o: Obj | undefined): Obj | undefined => ((o?.status as Obj | undefined)?.conditions as Obj[] | undefined)?.find((c) => c.type === 'Accepted');

async function kubeNode(manifests: string[], zone: { name: string; type: 'A'; data: string }[], outside?: string[]): Promise<{ node: E2eNode; link: KubeApiLink; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dnsgate-e2e-kube-'));
  const link = await KubeApiLink.create(manifests, dir);
  try {
    const node = await E2eNode.create({ manifests, zone, nodeName: 'node-a', kube: link.endpoint, ...(outside ? { harness: { outside: { addresses: outside } } } : {}) });
    return { node, link, dir };
  } catch (err) {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

describe.skipIf(!needRoot)('e2e: Kubernetes source, tiers', () => {
  let node: E2eNode;
  let link: KubeApiLink;
  let dir: string;
  beforeAll(async () => {
    ({ node, link, dir } = await kubeNode([TIERS, KUBE_DNS], [{ name: 'api.example.com', type: 'A', data: '203.0.113.60' }], ['169.254.169.254', '198.51.100.65', '198.51.100.66']));
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('read its cluster from the API: synced first, then programmed and ready, as the service account', () => {
    const synced = node.logs.findIndex((l) => l.event === 'source_synced');
    expect(synced).toBeGreaterThanOrEqual(0);
    expect(node.logs.findIndex((l) => l.event === 'programmed')).toBeGreaterThan(synced);
    const lists = link.api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/pods'));
    expect(lists.length).toBeGreaterThan(0);
    expect(lists.every((r) => r.user === AGENT_USER && r.status === 200)).toBe(true);
  });

  it.each([
    ['IMDS: Admin Deny beats the namespace allow-all', 'http://169.254.169.254:80/', '169.254.169.254', 80, 'deny', 'Admin', 'ClusterNetworkPolicy/block-instance-metadata-service', 'deny-imds'],
    ['IMDS: the namespace allow-all opens the rest', 'http://198.51.100.65:80/', '198.51.100.65', 80, 'allow', 'NetworkPolicy', 'NetworkPolicy/legacy/allow-all-ipv4-egress', 0],
  ] as const)('%s', async (_what, url, dst, dport, verdict, tier, policy, rule) => {
    const pod = 'legacy/app';
    const r = await node.curl(pod, url);
    if (verdict === 'allow') expect(r.body).toBe(`outside ${dst} port ${dport} from ${node.h.pod(pod).ipv4}`);
    else expect(r.code).toBe(28);
    const d = await node.decision({ pod, dst, dport, decision: verdict });
    expect({ tier: d.tier, policy: d.policy, rule: d.rule }).toEqual({ tier, policy, rule });
  });

  it('programs a policy added through the API (watch event): a NetworkPolicy opens a Baseline-denied flow', async () => {
    const pod = 'locked-a/app';
    expect((await node.curl(pod, 'http://198.51.100.66:80/')).code).toBe(28);
    const programmedBefore = node.logs.filter((l) => l.event === 'programmed').length;
    link.api.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-reports', namespace: 'locked-a' },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '198.51.100.66/32' } }], ports: [{ protocol: 'TCP', port: 80 }] }] },
    });
    await eventually('a programming pass after the watch event', () => (node.logs.filter((l) => l.event === 'programmed').length > programmedBefore ? true : undefined));
    const r = await node.curl(pod, 'http://198.51.100.66:80/');
    expect(r.body).toBe(`outside 198.51.100.66 port 80 from ${node.h.pod(pod).ipv4}`);
    const d = await node.decision({ pod, dst: '198.51.100.66', dport: 80, decision: 'allow' });
    expect({ tier: d.tier, policy: d.policy }).toEqual({ tier: 'NetworkPolicy', policy: 'NetworkPolicy/locked-a/allow-reports' });
  });

  it('the leader agent marks valid policies Accepted=True, and an invalid one Accepted=False with a Warning Event, not enforcing it', async () => {
    await node.waitLog((l) => l.event === 'leadership' && l.leading === true, 15_000);
    const lease = link.api.get('coordination.k8s.io/v1', 'Lease', 'dnsgate-status', 'dnsgate-system');
    expect((lease?.spec as Obj | undefined)?.holderIdentity).toBe('node-a');
    const imds = link.api.get('networking.k8s.aws/v1alpha1', 'ClusterNetworkPolicy', 'block-instance-metadata-service') ?? link.api.get('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy', 'block-instance-metadata-service');
    expect(imds).toBeDefined();
    const good = await eventually('Accepted=True on the IMDS policy', () => accepted(link.get(imds!)));
    expect(good).toMatchObject({ status: 'True', reason: 'Accepted' });

    // teams/app may reach api.example.com through its ApplicationNetworkPolicy; an invalid one
    // that would open everything must change nothing.
    const bad = link.api.apply({
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ApplicationNetworkPolicy',
      metadata: { name: 'broken', namespace: 'teams' },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ domainNames: ['not a domain!'] }, { ipBlock: { cidr: '0.0.0.0/0' } }] }] },
    });
    const cond = await eventually('Accepted=False on the invalid policy', () => accepted(link.get(bad)));
    expect(cond).toMatchObject({ status: 'False', reason: 'Invalid', observedGeneration: 1 });
    expect(String(cond.message)).toContain('domainNames[0]');
    const ev = await eventually('the Warning Event', () => link.api.list('v1', 'Event').find((e) => (e.involvedObject as Obj | undefined)?.name === 'broken'));
    expect(ev).toMatchObject({ type: 'Warning', reason: 'InvalidPolicy', reportingInstance: 'node-a', involvedObject: { kind: 'ApplicationNetworkPolicy', namespace: 'teams', uid: (bad.metadata as Obj).uid } });
    const writes = link.api.requests.filter((r) => r.method !== 'GET' && (r.path.includes('/status') || r.path.includes('/events')));
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((r) => r.user === AGENT_USER)).toBe(true);
    await node.waitLog((l) => l.event === 'manifest_problem' && typeof l.ref === 'string' && l.ref.includes('broken'));
    expect((await node.curl('teams/app', 'http://198.51.100.65:80/')).code).toBe(28);
  });
});

describe.skipIf(!needRoot)('e2e: Kubernetes source, domains', () => {
  let node: E2eNode;
  let dir: string;
  beforeAll(async () => {
    ({ node, dir } = await kubeNode([DNS, KUBE_DNS], [{ name: 'bucket.s3.us-east-1.amazonaws.com', type: 'A', data: '203.0.113.90' }]));
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('a name resolved through the proxy opens its IP for that pod only', async () => {
    const r = await node.curl('storage/uploader', 'http://bucket.s3.us-east-1.amazonaws.com:443/');
    expect(r.body).toBe(`outside 203.0.113.90 port 443 from ${node.h.pod('storage/uploader').ipv4}`);
    const d = await node.decision({ pod: 'storage/uploader', decision: 'allow', dst: '203.0.113.90', dport: 443 });
    expect(d).toMatchObject({ tier: 'NetworkPolicy', policy: 'ApplicationNetworkPolicy/storage/access-to-s3', rule: 0 });
    expect((await node.curl('storage/uploader-2', 'http://203.0.113.90:443/')).code).toBe(28);
    await node.decision({ pod: 'storage/uploader-2', decision: 'deny', dst: '203.0.113.90', dport: 443 });
  });
});
