// Policy status and events written by the elected leader only, and leader handover.
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClusterSource, LeaderElector, PolicyStatusWriter, KubeHttp } from '../../../src/sources/kube/index.js';
import { kubeConfigFor, testCert } from '../../support/kube-apiserver/client-config.js';
import * as fx from '../../support/kube-apiserver/fixtures.js';
import { KubeApiStandIn } from '../../support/kube-apiserver/server.js';
import { FAST, waitFor } from './helpers.js';

type Obj = Record<string, unknown>;

interface Agent {
  name: string;
  source: KubeClusterSource;
  elector: LeaderElector;
  writer: PolicyStatusWriter;
  stop(release: boolean): Promise<void>;
}

const LEASE = { leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100 };
let api: KubeApiStandIn | undefined;
const agents: Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop(false);
  await api?.stop();
  api = undefined;
});

async function standIn(): Promise<KubeApiStandIn> {
  api = new KubeApiStandIn({ tls: testCert(), tokens: { 'token-a': 'agent-a', 'token-b': 'agent-b', 'token-t': 'test' } });
  await api.start();
  return api;
}

async function agent(name: string, token: string): Promise<Agent> {
  const kc = kubeConfigFor(api!.url, testCert().cert, token);
  const source = new KubeClusterSource({ kubeConfig: kc, ...FAST });
  const http = new KubeHttp(kc);
  const elector = new LeaderElector(http, { namespace: 'dnsgate-system', name: 'dnsgate-status', identity: name, ...LEASE });
  const writer = new PolicyStatusWriter(http, source, elector, { identity: name });
  writer.start();
  await source.start();
  elector.start();
  const a: Agent = {
    name,
    source,
    elector,
    writer,
    stop: async (release) => {
      await elector.stop(release);
      await writer.stop();
      await source.stop();
    },
  };
  agents.push(a);
  return a;
}

const accepted = (o: Obj | undefined): Obj | undefined =>
  ((o?.status as Obj | undefined)?.conditions as Obj[] | undefined)?.find((c) => c.type === 'Accepted');
const events = (): Obj[] => api!.list('v1', 'Event');
const badAnp = (name: string): Obj => fx.appNetworkPolicy('default', name, ['not a domain!']);

describe('policy status', () => {
  it.each([
    ['ApplicationNetworkPolicy', fx.appNetworkPolicy('default', 'ok'), badAnp('bad'), 'spec.egress[0].to[0].domainNames[0]'],
    ['ClusterNetworkPolicy (EKS)', fx.eksCnp('ok'), fx.eksCnp('bad', 5000), 'spec.priority'],
    ['ClusterNetworkPolicy (upstream)', fx.upstreamCnp('ok'), fx.upstreamCnp('bad', -1), 'spec.priority'],
  ])('%s: valid -> Accepted=True, invalid -> Accepted=False with the errors and a Warning Event', async (_kind, good, bad, field) => {
    await standIn();
    const a = await agent('agent-a', 'token-a');
    await waitFor('leader', () => a.elector.isLeader);
    const g = api!.apply(good);
    const b = api!.apply(bad);
    const get = (o: Obj): Obj | undefined => api!.get(o.apiVersion as string, o.kind as string, (o.metadata as Obj).name as string, (o.metadata as Obj).namespace as string | undefined);
    await waitFor('conditions', () => accepted(get(g)) !== undefined && accepted(get(b)) !== undefined);
    expect(accepted(get(g))).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: 1 });
    const cond = accepted(get(b));
    expect(cond).toMatchObject({ status: 'False', reason: 'Invalid', observedGeneration: 1 });
    expect(String(cond?.message)).toContain(field);
    await waitFor('event', () => events().length === 1);
    const ev = events()[0] as Obj;
    expect(ev).toMatchObject({ type: 'Warning', reason: 'InvalidPolicy', involvedObject: { kind: b.kind, apiVersion: b.apiVersion, name: 'bad', uid: (b.metadata as Obj).uid } });
    expect(String(ev.message)).toContain(field);
    // Writing the status changes the object; the writer must not loop on its own writes.
    await writerIdle(a);
    const writes = api!.writesBy('agent-a').filter((q) => !q.path.includes('/leases')).length;
    await new Promise((r) => setTimeout(r, 200));
    expect(api!.writesBy('agent-a').filter((q) => !q.path.includes('/leases')).length).toBe(writes);
    expect(writes).toBe(3); // two status patches and one event
  });

  it('a fixed policy flips to Accepted=True without another Event', async () => {
    await standIn();
    const a = await agent('agent-a', 'token-a');
    await waitFor('leader', () => a.elector.isLeader);
    api!.apply(badAnp('p'));
    await waitFor('False', () => accepted(api!.get('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'p', 'default'))?.status === 'False');
    api!.apply(fx.appNetworkPolicy('default', 'p'));
    await waitFor('True', () => accepted(api!.get('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'p', 'default'))?.status === 'True');
    expect(accepted(api!.get('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'p', 'default'))?.observedGeneration).toBe(2);
    expect(events()).toHaveLength(1);
  });
});

async function writerIdle(a: Agent): Promise<void> {
  await new Promise((r) => setTimeout(r, 100));
  await a.writer.idle();
}

describe('leader election', () => {
  it('only the leader writes; after it dies the other takes over once the lease expires', async () => {
    await standIn();
    const a = await agent('agent-a', 'token-a');
    await waitFor('a leads', () => a.elector.isLeader);
    const b = await agent('agent-b', 'token-b');
    api!.apply(badAnp('one'));
    await waitFor('status by a', () => accepted(api!.get('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'one', 'default')) !== undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.elector.isLeader).toBe(false);
    expect(api!.writesBy('agent-b')).toEqual([]);
    expect(api!.writesBy('agent-a').some((q) => q.path.endsWith('/status'))).toBe(true);

    // a crashes: no release. b must wait for the lease to expire.
    const crashedAt = Date.now();
    await a.stop(false);
    agents.splice(agents.indexOf(a), 1);
    const aRequests = api!.requests.filter((q) => q.user === 'agent-a').length;
    await waitFor('b leads', () => b.elector.isLeader, 5000);
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(LEASE.leaseDurationMs - 350);
    const lease = api!.get('coordination.k8s.io/v1', 'Lease', 'dnsgate-status', 'dnsgate-system');
    expect(lease?.spec).toMatchObject({ holderIdentity: 'agent-b', leaseTransitions: 1 });

    api!.apply(badAnp('two'));
    await waitFor('status by b', () => accepted(api!.get('networking.k8s.aws/v1alpha1', 'ApplicationNetworkPolicy', 'two', 'default')) !== undefined);
    expect(api!.writesBy('agent-b').some((q) => q.path.endsWith('/applicationnetworkpolicies/two/status'))).toBe(true);
    // b did not rewrite what a already wrote, and a made no request after it stopped.
    expect(api!.writesBy('agent-b').some((q) => q.path.endsWith('/one/status'))).toBe(false);
    expect(api!.requests.filter((q) => q.user === 'agent-a').length).toBe(aRequests);
    await waitFor('event by b', () => events().length === 2);
    expect(events().map((e) => `${(e.involvedObject as Obj).name as string} ${(e.source as Obj).host as string}`).sort()).toEqual(['one agent-a', 'two agent-b']);
  });

  it('a leader that stops cleanly releases the lease and the other takes over at once', async () => {
    await standIn();
    const a = await agent('agent-a', 'token-a');
    await waitFor('a leads', () => a.elector.isLeader);
    const b = await agent('agent-b', 'token-b');
    await new Promise((r) => setTimeout(r, 200));
    const stoppedAt = Date.now();
    await a.stop(true);
    agents.splice(agents.indexOf(a), 1);
    await waitFor('b leads', () => b.elector.isLeader, 5000);
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE.leaseDurationMs);
  });

  it('two agents racing for a fresh lease: exactly one wins', async () => {
    await standIn();
    const [a, b] = await Promise.all([agent('agent-a', 'token-a'), agent('agent-b', 'token-b')]);
    await waitFor('a leader', () => a.elector.isLeader || b.elector.isLeader);
    await new Promise((r) => setTimeout(r, 500));
    expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
  });
});
