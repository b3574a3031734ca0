// RBAC grants exactly the verbs the code uses. Two sources must agree with the manifests:
//   1. CALLS, a table mirroring every Kubernetes API call of the code (file, method, path) with the
//      resources it reaches where the source alone cannot say (a reflector per WATCHED_RESOURCES
//      entry, the status writer on the CRD-served ones);
//   2. a scan of the source (kube-calls.ts) that finds each call and derives its verb.
// A new call that the table does not list fails here, and so does a grant that no call uses.
import { describe, expect, it } from 'vitest';
import { groupOf } from '../../src/api/kinds.js';
import { WATCHED_RESOURCES, type WatchedResource } from '../../src/sources/kube/resources.js';
import { pathShape, scanKubeCalls, scanSource, typedApiVerb, verbOf, type KubeCall } from './kube-calls.js';
import { findObject, manifestObjects, type Obj } from './manifest-files.js';

const NAMESPACE = 'dnsgate-system';
/** KubeHttp itself: it sends whatever its callers ask; the callers are what is checked. */
const TRANSPORT = ['src/sources/kube/http.ts'];

interface Row {
  file: string;
  method: string;
  path: string;
  /** The verb the call needs (checked against the scan's derivation). */
  verb: string;
  /** For helper paths: the resources the call is made for. Literal URLs name their own. */
  resources?: readonly WatchedResource[];
  subresource?: string;
  /** 'own' when the call stays in the agent's namespace (Role), else cluster-wide (ClusterRole). */
  namespace?: 'own';
}

const kube = (f: string): string => `src/sources/kube/${f}`;
const crdServed = WATCHED_RESOURCES.filter((r) => r.crd);

const CALLS: Row[] = [
  // One reflector per watched resource: list, then watch from the list's resourceVersion.
  { file: kube('reflector.ts'), method: 'GET', path: 'collectionPath(this.resource)', verb: 'list', resources: WATCHED_RESOURCES },
  { file: kube('reflector.ts'), method: 'WATCH', path: 'collectionPath(this.resource)', verb: 'watch', resources: WATCHED_RESOURCES },
  // The leader's Accepted condition: only CRD-served kinds have a status (NetworkPolicy gets an Event).
  { file: kube('status-writer.ts'), method: 'PATCH', path: "objectPath(a.resource, name, namespace, 'status')", verb: 'patch', resources: crdServed, subresource: 'status' },
  { file: kube('status-writer.ts'), method: 'POST', path: '`/api/v1/namespaces/${encodeURIComponent(namespace)}/events`', verb: 'create' },
  // Lease: read, create when missing, renew/take over/release.
  { file: kube('leader-election.ts'), method: 'GET', path: 'this.path(this.opts.name)', verb: 'get', namespace: 'own' },
  { file: kube('leader-election.ts'), method: 'POST', path: 'this.path()', verb: 'create', namespace: 'own' },
  { file: kube('leader-election.ts'), method: 'PUT', path: 'this.path(this.opts.name)', verb: 'update', namespace: 'own' },
];

const rowFor = (c: KubeCall): Row[] => CALLS.filter((r) => r.file === c.file && r.method === c.method && r.path === c.path);
const key = (group: string, resource: string, verb: string): string => `${group || 'core'} ${resource} ${verb}`;

/** (group, resource[/sub], verb) of one scanned call with its table row. */
function grantsOf(call: KubeCall, row: Row): string[] {
  const typed = typedApiVerb(call.method);
  if (typed) {
    // Typed client-node calls name their resource only in the method: the row must give it.
    expect(row.resources, `${call.file}:${call.line} ${call.method}: give the resources in CALLS`).toBeDefined();
    expect(typed).toBe(row.verb);
    return row.resources!.map((r) => key(r.known.group, `${r.plural}${row.subresource ? `/${row.subresource}` : ''}`, row.verb));
  }
  const shape = pathShape(call);
  if (shape.shape === 'unknown') throw new Error(`${call.file}:${call.line}: cannot tell what ${call.path} designates`);
  if (shape.shape === 'collection' || shape.shape === 'object') {
    expect(verbOf(call.method, shape.shape), `${call.file}:${call.line}`).toBe(row.verb);
    expect(row.resources, `${call.file}:${call.line}: a literal URL names its resource`).toBeUndefined();
    return [key(shape.group, `${shape.resource}${shape.subresource ? `/${shape.subresource}` : ''}`, row.verb)];
  }
  const onCollection = shape.shape === 'collection-helper' ? 'collection' : 'object';
  expect(verbOf(call.method, onCollection), `${call.file}:${call.line}`).toBe(row.verb);
  expect(shape.subresource).toBe(row.subresource);
  expect(row.resources?.length, `${call.file}:${call.line}: a helper path needs its resources in CALLS`).toBeGreaterThan(0);
  return row.resources!.map((r) => key(r.known.group, `${r.plural}${shape.subresource ? `/${shape.subresource}` : ''}`, row.verb));
}

/** What the code needs, split by where it is granted. */
function usedGrants(): { cluster: Set<string>; own: Set<string> } {
  const cluster = new Set<string>();
  const own = new Set<string>();
  for (const call of scanKubeCalls(TRANSPORT)) {
    const [row] = rowFor(call);
    for (const g of grantsOf(call, row!)) (row!.namespace === 'own' ? own : cluster).add(g);
  }
  return { cluster, own };
}

/** What a Role/ClusterRole grants, expanded; wildcards and resourceNames are refused outright. */
function granted(role: Obj): Set<string> {
  const out = new Set<string>();
  for (const rule of role.rules as Obj[]) {
    expect(rule.resourceNames, 'resourceNames').toBeUndefined();
    expect(rule.nonResourceURLs, 'nonResourceURLs').toBeUndefined();
    for (const g of rule.apiGroups as string[])
      for (const r of rule.resources as string[])
        for (const v of rule.verbs as string[]) {
          expect([g, r, v]).not.toContain('*');
          out.add(key(g, r, v));
        }
  }
  return out;
}

describe('the scan of the code', () => {
  const calls = scanKubeCalls(TRANSPORT);

  it('finds calls in the kube source (reflector, status writer, leader election)', () => {
    expect(new Set(calls.map((c) => c.file))).toEqual(new Set(CALLS.map((r) => r.file)));
  });

  it('finds each call in the CALLS table (a new call must be added there and to RBAC)', () => {
    const unlisted = calls.filter((c) => rowFor(c).length !== 1).map((c) => `${c.file}:${c.line} ${c.method} ${c.path}`);
    expect(unlisted).toEqual([]);
  });

  it('finds every call the CALLS table lists (no stale row)', () => {
    const stale = CALLS.filter((r) => !calls.some((c) => rowFor(c).includes(r))).map((r) => `${r.file} ${r.method} ${r.path}`);
    expect(stale).toEqual([]);
  });

  it.each([
    ["await this.http.request('DELETE', objectPath(r, name));", { method: 'DELETE', path: 'objectPath(r, name)', shape: 'object-helper' }],
    ["await http.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${n}`);", { method: 'GET', path: '`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${n}`', shape: 'object' }],
    ["const p = collectionPath(r);\nawait this.http.request('GET', p);", { method: 'GET', path: 'collectionPath(r)', shape: 'collection-helper' }],
    ["await this.http.request(method, '/api/v1/pods');", { method: '?', path: "'/api/v1/pods'", shape: 'collection' }],
    ["import { Watch } from '@kubernetes/client-node';\nw.watch('/api/v1/nodes', {}, cb, done);", { method: 'WATCH', path: "'/api/v1/nodes'", shape: 'collection' }],
    ["import { CoreV1Api } from '@kubernetes/client-node';\nawait api.patchNamespacedEventWithHttpInfo({ name, namespace, body });", { method: 'patchNamespacedEventWithHttpInfo', path: '', shape: 'unknown' }],
    ["import { CustomObjectsApi } from '@kubernetes/client-node';\nawait co.replaceClusterCustomObjectStatus(args);", { method: 'replaceClusterCustomObjectStatus', path: '', shape: 'unknown' }],
  ])('recognises %s', (source, want) => {
    const [call, ...rest] = scanSource(source, 'src/x.ts');
    expect(rest).toEqual([]);
    expect(call).toMatchObject({ method: want.method, path: want.path });
    expect(pathShape(call!).shape).toBe(want.shape);
    // Nothing in CALLS covers a call from another file: this is what a new call looks like.
    expect(rowFor(call!)).toEqual([]);
  });

  it.each([
    ['GET', 'collection', 'list'],
    ['GET', 'object', 'get'],
    ['WATCH', 'collection', 'watch'],
    ['POST', 'collection', 'create'],
    ['PUT', 'object', 'update'],
    ['PATCH', 'object', 'patch'],
    ['DELETE', 'object', 'delete'],
    ['DELETE', 'collection', 'deletecollection'],
  ] as const)('maps %s on a %s to %s', (method, shape, verb) => {
    expect(verbOf(method, shape)).toBe(verb);
  });

  it.each([
    ['listNamespacedPod', 'list'],
    ['readNamespacedLease', 'get'],
    ['createNamespacedEvent', 'create'],
    ['replaceNamespacedLease', 'update'],
    ['patchNamespacedEventWithHttpInfo', 'patch'],
    ['replaceClusterCustomObjectStatus', 'update'],
    ['deleteCollectionNamespacedPod', 'deletecollection'],
  ])('maps the typed API method %s to %s', (method, verb) => {
    expect(typedApiVerb(method)).toBe(verb);
  });
});

describe('RBAC', () => {
  const clusterRole = findObject('ClusterRole', 'dnsgate');
  const role = findObject('Role', 'dnsgate-leader-election');

  it('the ClusterRole grants exactly the cluster-wide verbs the code uses', () => {
    expect([...granted(clusterRole)].sort()).toEqual([...usedGrants().cluster].sort());
  });

  it('the Role grants exactly the Lease verbs, in the agent namespace', () => {
    expect((role.metadata as Obj).namespace).toBe(NAMESPACE);
    expect([...granted(role)].sort()).toEqual([...usedGrants().own].sort());
  });

  it('covers list+watch of every watched resource and status of every CRD-served one', () => {
    const cluster = usedGrants().cluster;
    for (const r of WATCHED_RESOURCES) {
      const g = groupOf(r.known.apiVersion);
      expect(cluster.has(key(g, r.plural, 'list')), r.id).toBe(true);
      expect(cluster.has(key(g, r.plural, 'watch')), r.id).toBe(true);
      expect(cluster.has(key(g, `${r.plural}/status`, 'patch')), r.id).toBe(r.crd);
    }
  });

  it.each([
    ['ClusterRoleBinding', 'dnsgate', 'ClusterRole', 'dnsgate'],
    ['RoleBinding', 'dnsgate-leader-election', 'Role', 'dnsgate-leader-election'],
  ])('%s %s binds %s %s to the DaemonSet ServiceAccount', (kind, name, roleKind, roleName) => {
    const b = findObject(kind, name);
    expect(b.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName });
    const sa = String((findObject('DaemonSet', 'dnsgate').spec as { template: { spec: Obj } }).template.spec.serviceAccountName);
    expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: NAMESPACE }]);
    if (kind === 'RoleBinding') expect((b.metadata as Obj).namespace).toBe(NAMESPACE);
  });

  it('no other role or binding is shipped', () => {
    const rbac = manifestObjects()
      .map((d) => d.value as Obj)
      .filter((o) => String(o.apiVersion).startsWith('rbac.authorization.k8s.io/'))
      .map((o) => `${String(o.kind)}/${String((o.metadata as Obj).name)}`)
      .sort();
    expect(rbac).toEqual(['ClusterRole/dnsgate', 'ClusterRoleBinding/dnsgate', 'Role/dnsgate-leader-election', 'RoleBinding/dnsgate-leader-election']);
  });

  it('an extra or a missing grant is caught (the comparison can fail)', () => {
    const used = usedGrants().cluster;
    const extra = structuredClone(clusterRole);
    (extra.rules as Obj[]).push({ apiGroups: [''], resources: ['pods'], verbs: ['get'] });
    expect([...granted(extra)].sort()).not.toEqual([...used].sort());
    const missing = structuredClone(clusterRole);
    (missing.rules as Obj[]).pop();
    expect([...granted(missing)].sort()).not.toEqual([...used].sort());
  });
});
