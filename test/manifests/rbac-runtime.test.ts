// The RBAC of manifests/deploy authorizes every request the real Kubernetes source sends, and every
// grant is used: two agents (source, leader election, status writer, as in the kube source tests)
// run against the API server stand-in through sync, valid and invalid policies of every policy
// kind, and a leader handover; each logged request is turned into RBAC attributes the way the API
// server does (verb, group, resource, subresource, namespace) and checked against the ClusterRole
// and the dnsgate-system Role.
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClusterSource, KubeHttp, LeaderElector, PolicyStatusWriter } from '../../src/sources/kube/index.js';
import { kubeConfigFor, testCert } from '../support/kube-apiserver/client-config.js';
import * as fx from '../support/kube-apiserver/fixtures.js';
import { KubeApiStandIn, type LoggedRequest } from '../support/kube-apiserver/server.js';
import { findObject, type Obj } from './manifest-files.js';

const NAMESPACE = String((findObject('Role', 'dnsgate-leader-election').metadata as Obj).namespace);

interface RequestAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
}

/** RBAC attributes of a resource request, as the API server's request info derives them. */
function attributesOf(r: Pick<LoggedRequest, 'method' | 'path' | 'query'>): RequestAttributes | undefined {
  const segs = r.path.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (segs[0] === 'api' && segs.length >= 3) [group, rest] = ['', segs.slice(2)];
  else if (segs[0] === 'apis' && segs.length >= 4) [group, rest] = [segs[1]!, segs.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1], rest.slice(2)];
  const [plural, name, sub] = rest;
  const watch = r.query.watch === 'true' || r.query.watch === '1';
  const verbs: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name === undefined ? 'deletecollection' : 'delete' };
  const verb = r.method === 'GET' ? (watch ? 'watch' : name === undefined ? 'list' : 'get') : verbs[r.method];
  if (!verb || !plural) return undefined;
  return { verb, group, resource: sub ? `${plural}/${sub}` : plural!, ...(namespace !== undefined ? { namespace } : {}) };
}

function ruleAllows(rules: Obj[], a: RequestAttributes): boolean {
  return rules.some((rule) => (rule.apiGroups as string[]).includes(a.group) && (rule.resources as string[]).includes(a.resource) && (rule.verbs as string[]).includes(a.verb));
}

/** The RBAC authorizer over the shipped roles: the ClusterRole anywhere, the Role in its namespace. */
function allowed(a: RequestAttributes): boolean {
  const cluster = findObject('ClusterRole', 'dnsgate').rules as Obj[];
  const role = findObject('Role', 'dnsgate-leader-election').rules as Obj[];
  return ruleAllows(cluster, a) || (a.namespace === NAMESPACE && ruleAllows(role, a));
}

const granted = (): string[] =>
  [...(findObject('ClusterRole', 'dnsgate').rules as Obj[]), ...(findObject('Role', 'dnsgate-leader-election').rules as Obj[])].flatMap((rule) =>
    (rule.apiGroups as string[]).flatMap((g) => (rule.resources as string[]).flatMap((r) => (rule.verbs as string[]).map((v) => `${g || 'core'} ${r} ${v}`))),
  );

async function waitFor(what: string, cond: () => boolean, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Agent {
  elector: LeaderElector;
  stop(release: boolean): Promise<void>;
}

let api: KubeApiStandIn | undefined;
const running: Agent[] = [];

afterEach(async () => {
  for (const a of running.splice(0)) await a.stop(false);
  await api?.stop();
  api = undefined;
});

async function agent(name: string, token: string): Promise<Agent> {
  const kc = kubeConfigFor(api!.url, testCert().cert, token);
  const source = new KubeClusterSource({ kubeConfig: kc, backoff: { initialMs: 20, maxMs: 200 }, crdRecheckMs: 100, coalesceMs: 20 });
  const http = new KubeHttp(kc);
  const elector = new LeaderElector(http, { namespace: NAMESPACE, name: 'dnsgate-status', identity: name, leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100 });
  const writer = new PolicyStatusWriter(http, source, elector, { identity: name });
  writer.start();
  await source.start();
  elector.start();
  const a: Agent = {
    elector,
    stop: async (release) => {
      await elector.stop(release);
      await writer.stop();
      await source.stop();
    },
  };
  running.push(a);
  return a;
}

describe('RBAC at run time', () => {
  it.each([
    [{ method: 'GET', path: '/api/v1/pods', query: {} }, { verb: 'list', group: '', resource: 'pods' }],
    [{ method: 'GET', path: '/api/v1/pods', query: { watch: 'true' } }, { verb: 'watch', group: '', resource: 'pods' }],
    [{ method: 'PATCH', path: '/apis/networking.k8s.aws/v1alpha1/namespaces/a/applicationnetworkpolicies/p/status', query: {} }, { verb: 'patch', group: 'networking.k8s.aws', resource: 'applicationnetworkpolicies/status', namespace: 'a' }],
    [{ method: 'POST', path: '/api/v1/namespaces/default/events', query: {} }, { verb: 'create', group: '', resource: 'events', namespace: 'default' }],
    [{ method: 'PUT', path: '/apis/coordination.k8s.io/v1/namespaces/x/leases/l', query: {} }, { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'x' }],
    [{ method: 'DELETE', path: '/api/v1/namespaces/x/pods', query: {} }, { verb: 'deletecollection', group: '', resource: 'pods', namespace: 'x' }],
  ])('attributes of %j', (req, want) => {
    expect(attributesOf(req)).toEqual(want);
  });

  it.each([
    [{ verb: 'get', group: '', resource: 'pods' }, false],
    [{ verb: 'update', group: 'networking.k8s.aws', resource: 'applicationnetworkpolicies/status', namespace: 'a' }, false],
    [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system' }, false],
    [{ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'dnsgate-system' }, true],
    [{ verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: 'default' }, false],
    [{ verb: 'watch', group: 'policy.networking.k8s.io', resource: 'clusternetworkpolicies' }, true],
  ])('the authorizer over the shipped roles: %j -> %s', (attrs, want) => {
    expect(allowed(attrs)).toBe(want);
  });

  it('every request two agents make through sync, policy status, events and a leader handover is allowed, and every grant is used', async () => {
    api = new KubeApiStandIn({ tls: testCert(), tokens: { 'token-a': 'agent-a', 'token-b': 'agent-b' } });
    await api.start();
    api.apply(fx.namespace('default'));
    api.apply(fx.node('node-a', '10.0.0.1'));
    api.apply(fx.pod('default', 'web', '10.1.0.5', { app: 'web' }));
    api.apply(fx.service('default', 'web', '10.96.0.20'));
    api.apply(fx.endpointSlice('default', 'web', ['10.1.0.5']));

    const a = await agent('agent-a', 'token-a');
    await waitFor('a leads', () => a.elector.isLeader);
    const b = await agent('agent-b', 'token-b');
    const policies = [
      fx.appNetworkPolicy('default', 'good'),
      fx.appNetworkPolicy('default', 'bad', ['not a domain!']),
      fx.eksCnp('good'),
      fx.eksCnp('bad', 5000),
      fx.upstreamCnp('good'),
      fx.upstreamCnp('bad', -1),
      fx.networkPolicy('default', 'np-bad', { podSelector: {}, policyTypes: ['Sideways'] }),
    ];
    for (const p of policies) api.apply(p);
    const condition = (o: Obj): unknown => api!.get(String(o.apiVersion), String(o.kind), String((o.metadata as Obj).name), (o.metadata as Obj).namespace as string | undefined)?.status;
    await waitFor('every CRD policy has a status', () => policies.filter((p) => p.kind !== 'NetworkPolicy').every((p) => condition(p) !== undefined));
    await waitFor('Events for the four invalid policies', () => api!.list('v1', 'Event').length === 4);

    // Handover: a releases the Lease (GET + PUT), b takes it (PUT) and renews.
    await a.stop(true);
    running.splice(running.indexOf(a), 1);
    await waitFor('b leads', () => b.elector.isLeader);
    api.apply(fx.appNetworkPolicy('default', 'bad-2', ['also not a domain!']));
    await waitFor('status by b', () => condition(fx.appNetworkPolicy('default', 'bad-2')) !== undefined);

    const mine = api.requests.filter((r) => r.user === 'agent-a' || r.user === 'agent-b');
    const attrs = mine.map((r) => ({ r, a: attributesOf(r) }));
    expect(attrs.filter((x) => x.a === undefined).map((x) => `${x.r.method} ${x.r.path}`)).toEqual([]);
    const denied = attrs.filter((x) => !allowed(x.a!)).map((x) => `${x.r.method} ${x.r.path} -> ${JSON.stringify(x.a)}`);
    expect(denied).toEqual([]);
    const used = new Set(attrs.map((x) => `${x.a!.group || 'core'} ${x.a!.resource} ${x.a!.verb}`));
    expect([...used].sort()).toEqual([...new Set(granted())].sort());
    // The Lease is only ever touched in the agent namespace.
    expect(attrs.filter((x) => x.a!.resource === 'leases').every((x) => x.a!.namespace === NAMESPACE)).toBe(true);
  });
});
