// Initial sync and add/update/delete of every watched kind, through the real client-node against
// the API stand-in.
import { afterEach, describe, expect, it } from 'vitest';
import { objectRef, type ClusterState, type KnownObject } from '../../../src/api/types.js';
import * as fx from '../../support/kube-apiserver/fixtures.js';
import { rig, waitFor, type Rig } from './helpers.js';

type Obj = Record<string, unknown>;
let r: Rig | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const all = (s: ClusterState): KnownObject[] => Object.values(s).flat() as KnownObject[];
const refs = (s: ClusterState): string[] => all(s).map((o) => `${o.apiVersion}/${objectRef(o)}`).sort();

/** One object of every kind, and an update that changes something validation keeps. */
const KINDS: { kind: string; make: () => Obj; change: (o: Obj) => void; key: keyof ClusterState }[] = [
  { kind: 'Namespace', make: () => fx.namespace('team-a'), change: (o) => ((o.metadata as Obj).labels = { env: 'prod' }), key: 'namespaces' },
  { kind: 'Pod', make: () => fx.pod('default', 'p1', '10.0.0.5'), change: (o) => ((o.metadata as Obj).labels = { app: 'web' }), key: 'pods' },
  { kind: 'Node', make: () => fx.node('node-b', '192.168.0.11'), change: (o) => ((o.metadata as Obj).labels = { zone: 'b' }), key: 'nodes' },
  { kind: 'Service', make: () => fx.service('default', 'web', '10.96.0.20'), change: (o) => ((o.spec as Obj).clusterIP = '10.96.0.21'), key: 'services' },
  {
    kind: 'EndpointSlice',
    make: () => fx.endpointSlice('default', 'web', ['10.0.0.5']),
    change: (o) => (o.endpoints = [{ addresses: ['10.0.0.6'], conditions: { ready: true } }]),
    key: 'endpointSlices',
  },
  { kind: 'NetworkPolicy', make: () => fx.networkPolicy('default', 'np1'), change: (o) => ((o.spec as Obj).podSelector = { matchLabels: { app: 'web' } }), key: 'networkPolicies' },
  {
    kind: 'ApplicationNetworkPolicy',
    make: () => fx.appNetworkPolicy('default', 'anp1'),
    change: (o) => ((o.spec as Obj).podSelector = { matchLabels: { app: 'x' } }),
    key: 'applicationNetworkPolicies',
  },
  { kind: 'ClusterNetworkPolicy (EKS)', make: () => fx.eksCnp('eks1'), change: (o) => ((o.spec as Obj).priority = 20), key: 'clusterNetworkPolicies' },
  { kind: 'ClusterNetworkPolicy (upstream)', make: () => fx.upstreamCnp('up1'), change: (o) => ((o.spec as Obj).priority = 30), key: 'clusterNetworkPolicies' },
];

describe('KubeClusterSource initial sync', () => {
  it('holds every object of every kind after start(), and nothing before', async () => {
    r = await rig({
      start: false,
      seed: (api) => {
        for (const k of KINDS) api.apply(k.make());
      },
    });
    expect(r.source.synced).toBe(false);
    expect(all(r.source.snapshot())).toHaveLength(0);
    await r.source.start();
    expect(r.source.synced).toBe(true);
    const want = KINDS.map((k) => k.make()).map((o) => `${o.apiVersion as string}/${objectRef(o as unknown as KnownObject)}`);
    expect(refs(r.source.snapshot())).toEqual(want.sort());
    expect(r.source.problems()).toEqual([]);
    // One StateChange for the first sync, with every object as an add.
    expect(r.changes).toHaveLength(1);
    expect(r.changes[0]?.changes.map((c) => c.op)).toEqual(KINDS.map(() => 'add'));
  });

  it('lists, then watches with allowWatchBookmarks and the list resourceVersion', async () => {
    r = await rig({ seed: (api) => api.apply(fx.namespace('a')) });
    const listRv = String(r.api.resourceVersion);
    await waitFor('watches', () => r!.api.openWatches === 9);
    const watches = r.api.requests.filter((q) => q.query.watch === 'true');
    expect(watches).toHaveLength(9);
    for (const w of watches) {
      expect(w.query.allowWatchBookmarks).toBe('true');
      expect(w.query.resourceVersion).toBe(listRv);
    }
  });
});

describe('KubeClusterSource add/update/delete', () => {
  it.each(KINDS)('$kind', async ({ make, change, key }) => {
    r = await rig();
    const obj = make();
    const ref = objectRef(obj as unknown as KnownObject);
    const seen = (): number => r!.changes.length;

    let n = seen();
    r.api.apply(obj);
    await waitFor('add', () => r!.source.snapshot()[key].length === 1);
    await waitFor('change event', () => seen() > n);
    expect(r.changes.at(-1)?.changes).toEqual([expect.objectContaining({ op: 'add', ref })]);

    n = seen();
    const updated = structuredClone(obj);
    change(updated);
    r.api.apply(updated);
    await waitFor('update', () => seen() > n);
    const upd = r.changes.at(-1)?.changes[0];
    expect(upd).toMatchObject({ op: 'update', ref });
    expect(upd?.after).toBe(r.source.snapshot()[key][0]);
    expect(JSON.stringify(upd?.before)).not.toBe(JSON.stringify(upd?.after));

    n = seen();
    const meta = obj.metadata as Obj;
    r.api.remove(obj.apiVersion as string, obj.kind as string, meta.name as string, meta.namespace as string | undefined);
    await waitFor('delete', () => seen() > n);
    expect(r.changes.at(-1)?.changes).toEqual([expect.objectContaining({ op: 'delete', ref })]);
    expect(r.source.snapshot()[key]).toHaveLength(0);
  });
});
