// The file source on a real directory: initial load, edits (in place and rename-on-save), files
// and directories appearing and disappearing, invalid objects dropped and reported, and change
// batches that hold exactly the objects that changed.
import { mkdtemp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSource, type FileSourceOptions } from '../../../src/sources/files/index.js';
import type { StateChange } from '../../../src/sources/types.js';

const ns = (name: string, team = name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team } } });
const np = (name: string, port = 80) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'a' },
  spec: { podSelector: {}, egress: [{ ports: [{ port }] }] },
});
const docs = (...objs: unknown[]) => objs.map((o) => stringify(o)).join('---\n');

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const summary = (c: StateChange) => c.changes.map((x) => `${x.op} ${x.ref}`).sort();

describe('FileSource', () => {
  let dir: string;
  let source: FileSource | undefined;
  let seen: StateChange[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dnsgate-files-'));
    seen = [];
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function open(paths: string[], opts: Partial<FileSourceOptions> = {}): Promise<FileSource> {
    source = new FileSource({ paths, debounceMs: 30, pollIntervalMs: 0, ...opts });
    source.onChange((c) => seen.push(c));
    await source.start();
    return source;
  }
  /** The next change batch after `count` seen so far. */
  const next = (count: number) => waitFor(`change #${count + 1}`, () => seen[count]);

  it('loads files and nested directories at start and reports all objects as added', async () => {
    await writeFile(join(dir, 'ns.yaml'), docs(ns('a'), ns('b')));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'np.json'), JSON.stringify(np('p1')));
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
    const s = await open([dir]);
    expect(s.synced).toBe(true);
    expect(s.snapshot().namespaces.map((n) => n.metadata.name)).toEqual(['a', 'b']);
    expect(s.snapshot().networkPolicies).toHaveLength(1);
    expect(s.problems()).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(summary(seen[0]!)).toEqual(['add Namespace/a', 'add Namespace/b', 'add NetworkPolicy/a/p1']);
  });

  // Each edit changes one object among several; the batch must name exactly that one.
  it.each([
    ['in-place write', async (file: string, text: string) => writeFile(file, text)],
    ['rename-on-save', async (file: string, text: string) => {
      await writeFile(`${file}.swp`, text);
      await rename(`${file}.swp`, file);
    }],
  ])('an edit by %s yields exactly one update (fs.watch, no poll)', async (_how, save) => {
    const file = join(dir, 'all.yaml');
    await writeFile(file, docs(ns('a'), ns('b'), np('p1', 80)));
    const s = await open([dir]);
    await save(file, docs(ns('a'), ns('b'), np('p1', 443)));
    const c = await next(1);
    expect(summary(c)).toEqual(['update NetworkPolicy/a/p1']);
    expect(c.changes[0]?.before).toMatchObject({ spec: { egress: [{ ports: [{ port: 80 }] }] } });
    expect(c.changes[0]?.after).toMatchObject({ spec: { egress: [{ ports: [{ port: 443 }] }] } });
    expect(s.snapshot().networkPolicies[0]?.spec.egress?.[0]?.ports?.[0]?.port).toBe(443);
  });

  it('watches an explicitly named file through its directory (rename-on-save keeps working)', async () => {
    const file = join(dir, 'cluster.yaml');
    await writeFile(file, docs(ns('a')));
    await writeFile(join(dir, 'other.yaml'), docs(ns('zzz')));
    const s = await open([file]);
    expect(s.snapshot().namespaces.map((n) => n.metadata.name)).toEqual(['a']);
    for (const [i, team] of ['t1', 't2', 't3'].entries()) {
      await writeFile(`${file}.tmp`, docs(ns('a', team)));
      await rename(`${file}.tmp`, file);
      const c = await next(1 + i);
      expect(summary(c)).toEqual(['update Namespace/a']);
    }
    expect(s.snapshot().namespaces[0]?.metadata.labels).toEqual({ team: 't3' });
  });

  it('adds and removes the objects of files that appear and disappear', async () => {
    await writeFile(join(dir, 'a.yaml'), docs(ns('a')));
    await open([dir]);
    await writeFile(join(dir, 'b.yaml'), docs(ns('b'), np('p2')));
    expect(summary(await next(1))).toEqual(['add Namespace/b', 'add NetworkPolicy/a/p2']);
    await rm(join(dir, 'a.yaml'));
    expect(summary(await next(2))).toEqual(['delete Namespace/a']);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'c.yml'), docs(ns('c')));
    expect(summary(await next(3))).toEqual(['add Namespace/c']);
    await rm(join(dir, 'sub'), { recursive: true });
    expect(summary(await next(4))).toEqual(['delete Namespace/c']);
  });

  it('does not report a change when only formatting or key order changed', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, docs(ns('a'), np('p1')));
    const s = await open([dir]);
    const before = s.reloadCount;
    await writeFile(file, `# a comment\n${JSON.stringify(np('p1'))}\n---\n{"metadata": {"labels": {"team": "a"}, "name": "a"}, "kind": "Namespace", "apiVersion": "v1"}\n`);
    await waitFor('a reload', () => (s.reloadCount > before ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(1);
  });

  it('drops an object that became invalid, reports it loudly, and restores it once fixed', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, docs(ns('a'), np('p1', 80), np('p2', 81)));
    const s = await open([dir]);
    // Port 0 is rejected by the validator: the whole policy leaves the state, p2 stays.
    await writeFile(file, docs(ns('a'), np('p1', 0), np('p2', 81)));
    const c = await next(1);
    expect(summary(c)).toEqual(['delete NetworkPolicy/a/p1']);
    expect(s.snapshot().networkPolicies.map((p) => p.metadata.name)).toEqual(['p2']);
    const mine = c.problems.filter((p) => p.ref === 'NetworkPolicy/a/p1' && p.severity === 'error');
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(mine.some((p) => /not enforced at all; its previous version is not kept/.test(p.message))).toBe(true);
    expect(s.problems()).toEqual(c.problems);
    // Fixed again: back as an add, and the problems are gone.
    await writeFile(file, docs(ns('a'), np('p1', 8080), np('p2', 81)));
    const d = await next(2);
    expect(summary(d)).toEqual(['add NetworkPolicy/a/p1']);
    expect(d.problems).toEqual([]);
  });

  it('drops every object of a file that stopped parsing, and says they may be invalid', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, docs(ns('a'), ns('b')));
    await open([dir]);
    await writeFile(file, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a\n');
    const c = await next(1);
    expect(summary(c)).toEqual(['delete Namespace/a', 'delete Namespace/b']);
    expect(c.problems.some((p) => p.ref === undefined && /invalid YAML/.test(p.message))).toBe(true);
    expect(c.problems.filter((p) => /disappeared while manifests have errors/.test(p.message)).map((p) => p.ref).sort()).toEqual(['Namespace/a', 'Namespace/b']);
  });

  it('follows a directory that is deleted and re-created, by the poll when watches are lost', async () => {
    const sub = join(dir, 'm');
    await mkdir(sub);
    await writeFile(join(sub, 'a.yaml'), docs(ns('a')));
    await open([sub], { pollIntervalMs: 100 });
    await rm(sub, { recursive: true });
    expect(summary(await next(1))).toEqual(['delete Namespace/a']);
    await mkdir(sub);
    await writeFile(join(sub, 'b.yaml'), docs(ns('b')));
    const c = await next(2);
    expect(summary(c)).toEqual(['add Namespace/b']);
    // And the re-created directory is watched again: an edit is seen.
    await writeFile(join(sub, 'b.yaml'), docs(ns('b', 'other')));
    expect(summary(await next(3))).toEqual(['update Namespace/b']);
  });

  it('reports a missing path, then picks it up when it appears', async () => {
    const file = join(dir, 'later.yaml');
    const s = await open([file], { pollIntervalMs: 100 });
    expect(s.synced).toBe(true);
    expect(s.problems()).toEqual([expect.objectContaining({ severity: 'error', source: file, message: 'cannot read: ENOENT' })]);
    await writeFile(file, docs(ns('a')));
    const c = await next(1);
    expect(summary(c)).toEqual(['add Namespace/a']);
    expect(c.problems).toEqual([]);
  });

  it('sees changes by polling alone when fs.watch is off', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, docs(ns('a')));
    const s = await open([dir], { watch: false, pollIntervalMs: 50 });
    await writeFile(file, docs(ns('a', 'x')));
    expect(summary(await next(1))).toEqual(['update Namespace/a']);
    expect(s.snapshot().namespaces[0]?.metadata.labels).toEqual({ team: 'x' });
  });

  it('keeps two ClusterNetworkPolicies of different API groups with the same name apart', async () => {
    const cnp = (apiVersion: string, priority: number) => ({ apiVersion, kind: 'ClusterNetworkPolicy', metadata: { name: 'same' }, spec: { tier: 'Admin', priority, subject: { namespaces: {} } } });
    const file = join(dir, 'c.yaml');
    await writeFile(file, docs(cnp('policy.networking.k8s.io/v1alpha2', 1), cnp('networking.k8s.aws/v1alpha1', 2)));
    const s = await open([dir]);
    expect(s.snapshot().clusterNetworkPolicies).toHaveLength(2);
    await writeFile(file, docs(cnp('policy.networking.k8s.io/v1alpha2', 1), cnp('networking.k8s.aws/v1alpha1', 3)));
    const c = await next(1);
    expect(c.changes).toHaveLength(1);
    expect(c.changes[0]).toMatchObject({ op: 'update', ref: 'ClusterNetworkPolicy/same', after: { apiVersion: 'networking.k8s.aws/v1alpha1' } });
  });

  it('stops cleanly: no change is delivered after stop()', async () => {
    const file = join(dir, 'a.yaml');
    await writeFile(file, docs(ns('a')));
    const s = await open([dir], { pollIntervalMs: 20 });
    await s.stop();
    await writeFile(file, docs(ns('a', 'late')));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(1);
  });
});
