// The source under the conditions a real API server produces: namespace relabels that change
// selector matches, dropped watches, 410 Gone, missing CRDs, bursts, invalid objects.
import { afterEach, describe, expect, it } from 'vitest';
import { Evaluator } from '../../../src/policy/index.js';
import * as fx from '../../support/kube-apiserver/fixtures.js';
import { rig, waitFor, type Rig } from './helpers.js';

let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const listRequests = (x: Rig): number => x.api.requests.filter((q) => q.method === 'GET' && q.query.watch === undefined).length;
const egressVerdict = (x: Rig, from: string, to: string): string =>
  new Evaluator(x.source.snapshot()).evaluate({ from, to, protocol: 'TCP', port: 443 }, { mode: 'standard', now: 0, learned: [] }).verdict;

describe('selector matches follow the cluster', () => {
  it('a namespace relabel changes which pods an Admin deny selects', async () => {
    r = await rig({
      seed: (api) => {
        api.apply(fx.namespace('a', { team: 'x' }));
        api.apply(fx.namespace('b'));
        api.apply(fx.pod('a', 'pa', '10.0.0.1'));
        api.apply(fx.pod('b', 'pb', '10.0.0.2'));
        api.apply(fx.eksCnp('deny-team-x', 10, { team: 'x' }));
      },
    });
    expect(egressVerdict(r, 'a/pa', '1.1.1.1')).toBe('Deny');
    expect(egressVerdict(r, 'b/pb', '1.1.1.1')).toBe('Allow');

    const n = r.changes.length;
    r.api.apply(fx.namespace('a'));
    r.api.apply(fx.namespace('b', { team: 'x' }));
    await waitFor('relabel', () => r!.changes.length > n && r!.source.snapshot().namespaces.every((ns) => (ns.metadata.name === 'b') === (ns.metadata.labels?.team === 'x')));
    expect(egressVerdict(r, 'a/pa', '1.1.1.1')).toBe('Allow');
    expect(egressVerdict(r, 'b/pb', '1.1.1.1')).toBe('Deny');
    // Object-level changes: only the two namespaces, not the pods whose matches changed.
    expect(r.changes.at(-1)?.changes.map((c) => c.ref).sort()).toEqual(['Namespace/a', 'Namespace/b']);
  });

  it('a burst of events becomes few StateChanges and unchanged kinds keep their arrays', async () => {
    r = await rig({ seed: (api) => api.apply(fx.namespace('a')) });
    const before = r.source.snapshot();
    const n = r.changes.length;
    for (let i = 0; i < 200; i++) r.api.apply(fx.pod('a', `p${i}`, `10.1.${i >> 8}.${i & 255}`));
    await waitFor('burst', () => r!.source.snapshot().pods.length === 200);
    await new Promise((res) => setTimeout(res, 60));
    const batches = r.changes.slice(n);
    expect(batches.reduce((s, c) => s + c.changes.length, 0)).toBe(200);
    expect(batches.length).toBeLessThanOrEqual(3);
    expect(r.source.snapshot().namespaces).toBe(before.namespaces);
  });
});

describe('watch interruptions', () => {
  it('a dropped watch resumes from its resourceVersion without a relist and misses nothing', async () => {
    r = await rig({ seed: (api) => api.apply(fx.namespace('a')) });
    await waitFor('watches', () => r!.api.openWatches === 9);
    const lists = listRequests(r);
    expect(r.api.dropWatches()).toBe(9);
    // Changes while the agent is disconnected.
    r.api.apply(fx.pod('a', 'p1', '10.0.0.1'));
    r.api.apply(fx.pod('a', 'p2', '10.0.0.2'));
    r.api.remove('v1', 'Namespace', 'a');
    r.api.apply(fx.namespace('c'));
    await waitFor('resume', () => {
      const s = r!.source.snapshot();
      return s.pods.length === 2 && s.namespaces.map((x) => x.metadata.name).join() === 'c';
    });
    expect(listRequests(r)).toBe(lists);
    await waitFor('watches again', () => r!.api.openWatches === 9);
    const resumed = r.api.requests.filter((q) => q.query.watch === 'true').slice(9);
    expect(resumed.length).toBeGreaterThanOrEqual(9);
    for (const q of resumed) expect(Number(q.query.resourceVersion)).toBeGreaterThan(1000);
  });

  it('410 Gone on resume forces a relist that also catches deletions', async () => {
    r = await rig({
      seed: (api) => {
        api.apply(fx.namespace('a'));
        api.apply(fx.pod('a', 'p1', '10.0.0.1'));
      },
    });
    await waitFor('watches', () => r!.api.openWatches === 9);
    const lists = listRequests(r);
    r.api.dropWatches();
    r.api.remove('v1', 'Pod', 'p1', 'a');
    r.api.apply(fx.pod('a', 'p2', '10.0.0.2'));
    r.api.compact();
    await waitFor('relist', () => r!.source.snapshot().pods.map((p) => p.metadata.name).join() === 'p2');
    expect(listRequests(r)).toBeGreaterThanOrEqual(lists + 9);
    const last = r.changes.flatMap((c) => c.changes).filter((c) => c.ref.startsWith('Pod/'));
    expect(last.map((c) => `${c.op} ${c.ref}`)).toEqual(['add Pod/a/p1', 'delete Pod/a/p1', 'add Pod/a/p2']);
  });

  it('an ERROR 410 event on an open watch forces a relist', async () => {
    r = await rig({ seed: (api) => api.apply(fx.namespace('a')) });
    await waitFor('watches', () => r!.api.openWatches === 9);
    const lists = listRequests(r);
    r.api.compact();
    r.api.expireWatches();
    await waitFor('relists', () => listRequests(r!) >= lists + 9);
    r.api.apply(fx.pod('a', 'p1', '10.0.0.1'));
    await waitFor('pod after relist', () => r!.source.snapshot().pods.length === 1);
  });

  it('bookmarks move the resume point, so a resume after compaction needs no relist', async () => {
    r = await rig({ seed: (api) => api.apply(fx.namespace('a')) });
    await waitFor('watches', () => r!.api.openWatches === 9);
    const lists = listRequests(r);
    r.api.apply(fx.namespace('b'));
    await waitFor('b', () => r!.source.snapshot().namespaces.length === 2);
    const rv = r.api.resourceVersion;
    r.api.compact();
    r.api.bookmark();
    await new Promise((res) => setTimeout(res, 50));
    r.api.dropWatches();
    await waitFor('watches again', () => r!.api.openWatches === 9);
    expect(listRequests(r)).toBe(lists);
    for (const q of r.api.requests.filter((x) => x.query.watch === 'true').slice(-9)) expect(q.query.resourceVersion).toBe(String(rv));
  });
});

describe('CRDs that are not installed', () => {
  it('are reported once, skipped, and watched once installed', async () => {
    const warnings: string[] = [];
    r = await rig({
      standIn: { installedCrds: ['networking.k8s.aws/v1alpha1/ApplicationNetworkPolicy'] },
      source: { logger: { info: () => {}, error: () => {}, warn: (o) => warnings.push((o as { resource?: string }).resource ?? '') } },
      seed: (api) => api.apply(fx.namespace('a')),
    });
    expect(r.source.synced).toBe(true);
    expect(r.source.problems().map((p) => `${p.severity} ${p.source}`).sort()).toEqual([
      'warning kube:networking.k8s.aws/v1alpha1/ClusterNetworkPolicy',
      'warning kube:policy.networking.k8s.io/v1alpha2/ClusterNetworkPolicy',
    ]);
    await new Promise((res) => setTimeout(res, 350)); // several re-checks
    expect(warnings.sort()).toEqual(['networking.k8s.aws/v1alpha1/ClusterNetworkPolicy', 'policy.networking.k8s.io/v1alpha2/ClusterNetworkPolicy']);

    r.api.installCrd('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy');
    r.api.apply(fx.upstreamCnp('up1'));
    await waitFor('CNP after install', () => r!.source.snapshot().clusterNetworkPolicies.length === 1);
    await waitFor('problem cleared', () => r!.source.problems().length === 1);
    r.api.apply(fx.upstreamCnp('up2'));
    await waitFor('CNP watched', () => r!.source.snapshot().clusterNetworkPolicies.length === 2);

    r.api.uninstallCrd('policy.networking.k8s.io/v1alpha2', 'ClusterNetworkPolicy');
    await waitFor('CNPs gone with their CRD', () => r!.source.snapshot().clusterNetworkPolicies.length === 0);
    expect(r.source.problems()).toHaveLength(2);
  });
});

describe('invalid objects', () => {
  it('are left out whole and reported, and enter the snapshot once fixed', async () => {
    r = await rig({ seed: (api) => api.apply(fx.namespace('default')) });
    const bad = fx.networkPolicy('default', 'np-bad', { podSelector: {}, egress: [{ ports: [{ protocol: 'TCP', port: 70000 }] }] });
    const good = fx.networkPolicy('default', 'np-good');
    r.api.apply(bad);
    r.api.apply(good);
    await waitFor('problem', () => r!.source.problems().length === 1);
    expect(r.source.snapshot().networkPolicies.map((p) => p.metadata.name)).toEqual(['np-good']);
    expect(r.source.problems()[0]).toMatchObject({ severity: 'error', ref: 'NetworkPolicy/default/np-bad', field: 'spec.egress[0].ports[0].port' });
    expect(r.changes.flatMap((c) => c.changes).some((c) => c.ref === 'NetworkPolicy/default/np-bad')).toBe(false);

    r.api.apply(fx.networkPolicy('default', 'np-bad', { podSelector: {}, egress: [{ ports: [{ protocol: 'TCP', port: 7000 }] }] }));
    await waitFor('fixed', () => r!.source.snapshot().networkPolicies.length === 2);
    expect(r.source.problems()).toEqual([]);
    expect(r.changes.at(-1)?.changes).toEqual([expect.objectContaining({ op: 'add', ref: 'NetworkPolicy/default/np-bad' })]);
  });

  it('periodic resync relists every resource and emits nothing when nothing changed', async () => {
    r = await rig({ source: { resyncMs: 150 }, seed: (api) => api.apply(fx.namespace('a')) });
    const lists = listRequests(r);
    const n = r.changes.length;
    await waitFor('resync lists', () => listRequests(r!) >= lists + 9, 3000);
    expect(r.changes.length).toBe(n);
  });
});
