import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadManifests, parseManifests } from '../../src/api/load.js';
import { np, upstreamCnp } from './fixtures.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: name } } });
const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'a', labels: { app: name } },
  spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'web', containerPort: 80 }] }] },
  status: { podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.1' }, { ip: 'fd00::1' }] },
  ...extra,
});
const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] } });
const yamlDocs = (...objs: unknown[]) => objs.map((o) => stringify(o)).join('---\n');

describe('parseManifests', () => {
  it('reads multi-document YAML into the state, with defaults applied', () => {
    const { state, problems } = parseManifests(yamlDocs(node('n1'), ns('a'), pod('p'), np(), upstreamCnp()), 'in.yaml');
    expect(problems).toEqual([]);
    expect(state.namespaces.map((n) => n.metadata.name)).toEqual(['a']);
    expect(state.pods[0]?.spec.containers[0]?.ports?.[0]).toEqual({ name: 'web', containerPort: 80, protocol: 'TCP' });
    expect(state.networkPolicies).toHaveLength(1);
    expect(state.clusterNetworkPolicies).toHaveLength(1);
  });

  it('reads JSON and a kind: List', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [ns('a'), ns('b')] };
    expect(parseManifests(JSON.stringify(list), 'l.json').state.namespaces).toHaveLength(2);
    expect(parseManifests(stringify({ apiVersion: 'v1', kind: 'PodList', items: [pod('q')] }), 'l.yaml').state.pods).toHaveLength(1);
  });

  it.each([
    ['a JSON array', JSON.stringify([ns('c'), pod('p')]), 'arr.json'],
    ['a YAML sequence', stringify([ns('c'), pod('p')]), 'arr.yaml'],
  ])('rejects %s at the top level: kubectl writes lists as kind: List', (_name, text, source) => {
    const { state, problems } = parseManifests(text, source);
    expect(state.namespaces).toEqual([]);
    expect(problems).toEqual([{ severity: 'error', source, message: expect.stringMatching(/must be a mapping, got a list.*kind: List/) }]);
  });

  it('names the document of each problem and leaves invalid objects out whole', () => {
    const { state, problems } = parseManifests(yamlDocs(ns('a'), upstreamCnp({ priority: 2000 })), 'f.yaml');
    expect(state.clusterNetworkPolicies).toEqual([]);
    expect(problems).toEqual([
      { severity: 'error', source: 'f.yaml#2', ref: 'ClusterNetworkPolicy/cnp', field: 'spec.priority', message: 'Invalid value: 2000: must be less than or equal to 1000' },
    ]);
  });

  it.each([
    ['an unknown kind (warning)', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, 'warning', /unsupported object ConfigMap/],
    ['an unsupported policy version (error)', { ...np(), apiVersion: 'networking.k8s.io/v1beta1' }, 'error', /dnsgate cannot enforce it/],
    ['an unsupported policy kind (error)', { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy', metadata: { name: 'x' } }, 'error', /AdminNetworkPolicy/],
    ['a document without kind', { apiVersion: 'v1', metadata: { name: 'x' } }, 'error', /apiVersion and kind are required/],
    ['a scalar document', 'hello', 'error', /must be a mapping/],
  ])('reports %s', (_name, obj, severity, message) => {
    const { problems } = parseManifests(stringify(obj), 'x.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.severity).toBe(severity);
    expect(problems[0]?.message).toMatch(message);
  });

  describe('YAML 1.1, as kubectl parses it', () => {
    const podYaml = (spec: string) => `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a}
spec: {${spec}containers: [{name: c}]}
`;
    it.each([
      ['yes', true],
      ['on', true],
      ['no', false],
      ['off', false],
    ])('hostNetwork: %s is a boolean', (word, value) => {
      const { state, problems } = parseManifests(podYaml(`hostNetwork: ${word}, `), 'p.yaml');
      expect(problems).toEqual([]);
      expect(state.pods[0]?.spec.hostNetwork).toBe(value);
    });

    it.each(['yes', 'on', 'n', 'Off'])('matchLabels value %s is a YAML 1.1 boolean, so not a label value', (word) => {
      const text = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {matchLabels: {a: ${word}}}}
`;
      const { state, problems } = parseManifests(text, 'np.yaml');
      expect(state.networkPolicies).toEqual([]);
      expect(problems).toEqual([expect.objectContaining({ severity: 'error', field: 'spec.podSelector.matchLabels.a', message: expect.stringMatching(/string/) })]);
    });

    it('a quoted "yes" stays a string', () => {
      const text = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec: {podSelector: {matchLabels: {a: "yes"}}}
`;
      expect(parseManifests(text, 'np.yaml').state.networkPolicies[0]?.spec.podSelector.matchLabels).toEqual({ a: 'yes' });
    });
  });

  it('reports YAML and JSON syntax errors', () => {
    expect(parseManifests('a: [1, 2', 'bad.yaml').problems[0]?.message).toMatch(/^invalid YAML/);
    expect(parseManifests('{"a": ', 'bad.json').problems[0]?.message).toMatch(/^invalid JSON/);
  });

  it.each([
    ['no Node object and no hostIP', [pod('p')], /names no Node object.*kubelet probes are not recognised/],
    ['no Node object, hostIP known', [pod('p', { status: { podIP: '10.0.0.1', hostIP: '192.168.0.1' } })], /names no Node object.*only by the pod's status\.hostIP/],
  ])('warns when a pod\'s nodeName names no Node object (%s)', (_name, objs, message) => {
    const { state, problems } = parseManifests(yamlDocs(ns('a'), ...objs), 'n.yaml');
    expect(state.pods).toHaveLength(1);
    expect(problems).toEqual([{ severity: 'warning', source: 'n.yaml#2', ref: 'Pod/a/p', field: 'spec.nodeName', message: expect.stringMatching(message) }]);
  });

  it('does not warn when the Node object exists, in any order, or when the pod has no nodeName', () => {
    expect(parseManifests(yamlDocs(pod('p'), node('n1')), 'n.yaml').problems).toEqual([]);
    expect(parseManifests(yamlDocs(pod('p', { spec: { containers: [{ name: 'c' }] } })), 'n.yaml').problems).toEqual([]);
  });

  it('maps every admitted object ref to where it was read (List items included)', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [ns('b'), pod('q')] };
    const { sources } = parseManifests(yamlDocs(node('n1'), ns('a'), list, upstreamCnp()), 's.yaml');
    expect(Object.fromEntries(sources)).toEqual({
      'Node/n1': 's.yaml#1',
      'Namespace/a': 's.yaml#2',
      'Namespace/b': 's.yaml#3/items[0]',
      'Pod/a/q': 's.yaml#3/items[1]',
      'ClusterNetworkPolicy/cnp': 's.yaml#4',
    });
  });

  it('an invalid or duplicate object does not replace the source of the admitted one', () => {
    const { sources } = parseManifests(yamlDocs(ns('a'), ns('a'), upstreamCnp({ priority: 2000 })), 'd.yaml');
    expect(Object.fromEntries(sources)).toEqual({ 'Namespace/a': 'd.yaml#1' });
  });

  it('two cluster policies that share a ref (EKS and upstream) list both sources', () => {
    const eks = { ...upstreamCnp(), apiVersion: 'networking.k8s.aws/v1alpha1' };
    expect(parseManifests(yamlDocs(upstreamCnp(), eks), 'c.yaml').sources.get('ClusterNetworkPolicy/cnp')).toBe('c.yaml#1, c.yaml#2');
  });

  it('reports duplicates and keeps the first', () => {
    const second = { ...ns('a'), metadata: { name: 'a', labels: { v: '2' } } };
    const { state, problems } = parseManifests(yamlDocs(ns('a'), second), 'd.yaml');
    expect(state.namespaces[0]?.metadata.labels).toEqual({ team: 'a' });
    expect(problems).toEqual([expect.objectContaining({ severity: 'error', source: 'd.yaml#2', ref: 'Namespace/a', message: expect.stringMatching(/duplicate object.*first defined in d.yaml#1/) })]);
  });

  it('tells the two ClusterNetworkPolicy groups apart', () => {
    const eks = { ...upstreamCnp(), apiVersion: 'networking.k8s.aws/v1alpha1' };
    const { state, problems } = parseManifests(yamlDocs(upstreamCnp(), eks), 'c.yaml');
    expect(problems).toEqual([]);
    expect(state.clusterNetworkPolicies.map((c) => c.apiVersion).sort()).toEqual(['networking.k8s.aws/v1alpha1', 'policy.networking.k8s.io/v1alpha2']);
  });

  it('defaults the namespace of namespaced objects to "default"', () => {
    const p = pod('p');
    delete (p.metadata as Record<string, unknown>).namespace;
    expect(parseManifests(stringify(p), 'p.yaml').state.pods[0]?.metadata.namespace).toBe('default');
  });

  it.each([
    ['a bad pod IP', pod('p', { status: { podIP: '10.0.0.300' } }), 'status.podIP'],
    ['podIPs not starting with podIP', pod('p', { status: { podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.2' }] } }), 'status.podIPs[0].ip'],
    ['a bad hostIPs entry', pod('p', { status: { podIP: '10.0.0.1', hostIPs: [{ ip: '192.168.0.1' }, { ip: 'nope' }] } }), 'status.hostIPs[1].ip'],
    ['two IPv4 podIPs', pod('p', { status: { podIPs: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] } }), 'status.podIPs[1]'],
    ['a bad container port', pod('p', { spec: { containers: [{ name: 'c', ports: [{ containerPort: 0 }] }] } }), 'spec.containers[0].ports[0].containerPort'],
    ['a bad port name', pod('p', { spec: { containers: [{ name: 'c', ports: [{ name: 'Web', containerPort: 1 }] }] } }), 'spec.containers[0].ports[0].name'],
    ['a pod without containers', pod('p', { spec: { nodeName: 'n1' } }), 'spec.containers'],
    ['a bad node address', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, status: { addresses: [{ type: 'InternalIP', address: 'nope' }] } }, 'status.addresses[0].address'],
    ['a bad service clusterIP', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'a' }, spec: { clusterIP: '10.96.0.999', ports: [{ port: 80 }] } }, 'spec.clusterIP'],
    ['an IPv6 address in an IPv4 slice', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'e', namespace: 'a' }, addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] }, 'endpoints[0].addresses[0]'],
  ])('rejects state with %s', (_name, obj, field) => {
    const { state, problems } = parseManifests(stringify(obj), 's.yaml');
    expect(problems.map((p) => p.field)).toContain(field);
    expect(Object.values(state).every((list) => list.length === 0)).toBe(true);
  });
});

describe('loadManifests', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dnsgate-load-'));
    await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
    await writeFile(join(dir, 'a.yaml'), yamlDocs(ns('a'), pod('p1'), node('n1')));
    await writeFile(join(dir, 'sub', 'b.yml'), yamlDocs(np()));
    await writeFile(join(dir, 'sub', 'deeper', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pod('p2')] }));
    await writeFile(join(dir, 'sub', 'notes.txt'), 'not a manifest: [');
    await writeFile(join(dir, 'dup.yaml'), yamlDocs(pod('p1')));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('walks directories recursively, skipping other extensions, and finds cross-file duplicates', async () => {
    const { state, problems, sources } = await loadManifests([dir]);
    expect(sources.get('Pod/a/p1')).toBe(join(dir, 'a.yaml#2'));
    expect(sources.get('Pod/a/p2')).toBe(`${join(dir, 'sub', 'deeper', 'c.json')}/items[0]`);
    expect(state.pods.map((p) => p.metadata.name).sort()).toEqual(['p1', 'p2']);
    expect(state.networkPolicies).toHaveLength(1);
    expect(problems).toEqual([expect.objectContaining({ severity: 'error', source: join(dir, 'dup.yaml'), ref: 'Pod/a/p1' })]);
  });

  describe('a directory that also holds other YAML/JSON (flows, expected results)', () => {
    let mixed = '';
    beforeAll(async () => {
      mixed = await mkdtemp(join(tmpdir(), 'dnsgate-mixed-'));
      await writeFile(join(mixed, 'cluster.yaml'), yamlDocs(node('n1'), ns('a'), pod('p1')));
      await writeFile(join(mixed, 'flows.yaml'), stringify([{ from: 'a/p1', to: '1.2.3.4', protocol: 'TCP', port: 443 }]));
      await writeFile(join(mixed, 'expected.json'), JSON.stringify([{ verdict: 'Allow' }]));
      await writeFile(join(mixed, 'settings.yaml'), 'mode: strict\n');
      await writeFile(join(mixed, 'empty.yaml'), '');
      await writeFile(join(mixed, 'half.yaml'), yamlDocs(ns('b'), { note: 'no kind' }));
    });
    afterAll(async () => {
      if (mixed) await rm(mixed, { recursive: true, force: true });
    });

    it('skips files without any Kubernetes object with a warning, and still loads the rest', async () => {
      const { state, problems } = await loadManifests([mixed]);
      expect(state.pods.map((p) => p.metadata.name)).toEqual(['p1']);
      expect(state.namespaces.map((n) => n.metadata.name).sort()).toEqual(['a', 'b']);
      const skipped = problems.filter((p) => /not a Kubernetes manifest, skipped/.test(p.message));
      expect(skipped.map((p) => [p.severity, p.source])).toEqual([
        ['warning', join(mixed, 'expected.json')],
        ['warning', join(mixed, 'flows.yaml')],
        ['warning', join(mixed, 'settings.yaml')],
      ]);
      // A file with at least one object is a manifest file: its other documents are errors.
      expect(problems.filter((p) => p.severity === 'error')).toEqual([
        expect.objectContaining({ source: `${join(mixed, 'half.yaml')}#2`, message: expect.stringMatching(/apiVersion and kind are required/) }),
      ]);
    });

    it.each(['flows.yaml', 'expected.json', 'settings.yaml'])('an explicitly named %s is still an error', async (name) => {
      const { problems } = await loadManifests([join(mixed, name)]);
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.every((p) => p.severity === 'error' && p.source === join(mixed, name))).toBe(true);
    });
  });

  it('reads an explicitly named file whatever its extension, and reports missing paths', async () => {
    const { problems } = await loadManifests([join(dir, 'sub', 'notes.txt'), join(dir, 'missing.yaml')]);
    expect(problems.map((p) => p.source)).toEqual([join(dir, 'sub', 'notes.txt'), join(dir, 'missing.yaml')]);
    expect(problems[1]?.message).toBe('cannot read: ENOENT');
  });
});

describe('conformance snapshots', () => {
  const root = 'test/conformance/network-policy-api';
  const dirs = readdirSync(root).sort();
  it('has the 62 snapshots', () => expect(dirs).toHaveLength(62));
  it.each(dirs.map((d) => [d]))('%s/manifests.yaml loads with zero problems', async (d) => {
    const { state, problems } = await loadManifests([join(root, d, 'manifests.yaml')]);
    expect(problems).toEqual([]);
    expect(state.pods.length).toBeGreaterThan(0);
    expect(state.clusterNetworkPolicies.length + state.networkPolicies.length).toBeGreaterThan(0);
  });
});
