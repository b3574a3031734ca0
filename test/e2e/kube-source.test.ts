// What only the Kubernetes mode has, on a real node whose agent reads the cluster from the API
// stand-in (over HTTPS with a kubeconfig, reached from the node namespace): it syncs before it
// programs and reads as its service account, a policy changed through the API is programmed from
// the watch, and an invalid policy gets Accepted=False and a Warning Event written by the leader
// agent. The tier and domain scenarios themselves run in both modes in tiers.test.ts, dns.test.ts
// and moon-backend-egress.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIERS_MANIFESTS, TIERS_ZONE } from './cases/tiers.js';
import { AGENT_USER, type KubeApiLink } from './kube-api.js';
import { createModeNode } from './node-modes.js';
import { needRoot, type E2eNode } from './node.js';

type Obj = Record<string, unknown>;

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

describe.skipIf(!needRoot)('e2e: Kubernetes source', () => {
  let node: E2eNode;
  let link: KubeApiLink;
  beforeAll(async () => {
    const made = await createModeNode('kube', { manifests: TIERS_MANIFESTS, zone: TIERS_ZONE, harness: { outside: { addresses: ['198.51.100.65', '198.51.100.66'] } } });
    node = made.node;
    if (!made.link) throw new Error('kube mode made no API link');
    link = made.link;
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  it('read its cluster from the API: synced first, then programmed and ready, as the service account', () => {
    const synced = node.logs.findIndex((l) => l.event === 'source_synced');
    expect(synced).toBeGreaterThanOrEqual(0);
    expect(node.logs.findIndex((l) => l.event === 'programmed')).toBeGreaterThan(synced);
    const lists = link.api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/pods'));
    expect(lists.length).toBeGreaterThan(0);
    expect(lists.every((r) => r.user === AGENT_USER && r.status === 200)).toBe(true);
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
