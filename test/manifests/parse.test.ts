// Every manifest parses (multi-document YAML, no duplicate keys), every object is well-formed for the
// API server (each field known to the Kubernetes types, of the right type), and the kustomizations
// build exactly these objects.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CRD_FILES } from '../../src/api/crds.js';
import { modelFor, schemaProblems } from './kube-schema.js';
import { findObject, isObj, kustomizedFiles, manifestObjects, MANIFESTS_ROOT, readDocs, REPO_ROOT, yamlFilesUnder, type Obj } from './manifest-files.js';

const files = yamlFilesUnder(MANIFESTS_ROOT).map((p) => relative(REPO_ROOT, p));
const objects = manifestObjects();
const label = (o: Obj): string => `${String(o.kind)} ${String((o.metadata as Obj | undefined)?.name)}`;
const NAMESPACE = 'dnsgate-system';

describe('manifest files', () => {
  it('include the deployment', () => {
    expect(files).toEqual(expect.arrayContaining(['manifests/kustomization.yaml', 'manifests/deploy/kustomization.yaml', 'manifests/deploy/daemonset.yaml']));
  });

  it.each(files)('%s parses', (file) => {
    expect(readDocs(join(REPO_ROOT, file)).length).toBeGreaterThan(0);
  });

  it.each(kustomizedFiles().map((p) => relative(REPO_ROOT, p)))('%s: every document a mapping with apiVersion and kind', (file) => {
    const docs = readDocs(join(REPO_ROOT, file));
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) {
      expect(isObj(d.value), `${file} document ${d.index}`).toBe(true);
      const o = d.value as Obj;
      expect(typeof o.apiVersion).toBe('string');
      expect(typeof o.kind).toBe('string');
    }
  });

  it('the parser used here rejects duplicate keys and broken documents (the check can fail)', () => {
    for (const text of ['a: 1\na: 2\n', 'a: [1, 2\n', 'kind: X\n  bad indent: 1\n']) {
      const docs = parseAllDocuments(text, { uniqueKeys: true });
      expect(docs.some((d) => d.errors.length > 0), text).toBe(true);
    }
  });
});

describe('objects', () => {
  it.each(objects.map((d) => [`${d.file} #${d.index}`, d.value as Obj]))('%s: every field is a field of its Kubernetes type', (_where, o) => {
    const model = modelFor(String(o.apiVersion), String(o.kind));
    expect(model, `no client-node model for ${String(o.apiVersion)} ${String(o.kind)}`).toBeDefined();
    expect(schemaProblems(o, model!)).toEqual([]);
    expect(typeof (o.metadata as Obj).name).toBe('string');
  });

  it('every namespaced object of the deployment is in dnsgate-system; names are unique per kind', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
    const seen = new Set<string>();
    for (const { value } of objects) {
      const o = value as Obj;
      const meta = o.metadata as Obj;
      if (clusterScoped.has(String(o.kind))) expect(meta.namespace, label(o)).toBeUndefined();
      else expect(meta.namespace, label(o)).toBe(NAMESPACE);
      const key = `${String(o.kind)}/${String(meta.namespace ?? '')}/${String(meta.name)}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
  });

  // Generated: a field misspelt or misplaced anywhere in the DaemonSet is reported at its path.
  it('the field check finds an unknown field inserted at any depth of the DaemonSet', () => {
    const ds = findObject('DaemonSet', 'dnsgate');
    const mappings: { path: string; node: Obj }[] = [];
    const walk = (v: unknown, path: string): void => {
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else if (isObj(v)) {
        mappings.push({ path, node: v });
        for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
      }
    };
    walk(ds, '');
    // Free-form maps (labels, ConfigMap data, resources) accept any key; skip them.
    const checked = mappings.filter((m) => !/(labels|matchLabels|annotations|requests|limits|nodeSelector)$/.test(m.path));
    expect(checked.length).toBeGreaterThan(30);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: checked.length - 1 }), fc.stringMatching(/^[a-z][a-zA-Z]{2,12}$/), (i, key) => {
        const target = checked[i]!;
        fc.pre(!(key in target.node));
        target.node[key] = 'x';
        try {
          const problems = schemaProblems(ds, 'V1DaemonSet');
          const where = target.path ? `${target.path}.${key}` : key;
          // A real field of that type would not be unknown; anything else must be reported.
          return problems.some((p) => p.startsWith(`${where}: unknown field`) || p.startsWith(`${where}: expected`));
        } finally {
          delete target.node[key];
        }
      }),
      { numRuns: 300 },
    );
    expect(schemaProblems(ds, 'V1DaemonSet')).toEqual([]);
  });
});

describe('kustomizations', () => {
  const kustomization = (dir: string): string[] => {
    const [doc] = readDocs(join(MANIFESTS_ROOT, dir, 'kustomization.yaml'));
    const k = doc!.value as Obj;
    expect(k.kind).toBe('Kustomization');
    return k.resources as string[];
  };

  it('manifests/deploy/kustomization.yaml lists every file of the directory, and only those', () => {
    const dir = join(MANIFESTS_ROOT, 'deploy');
    const yamls = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    expect([...kustomization('deploy')].sort()).toEqual(yamls);
  });

  it('manifests/kustomization.yaml has every CRD and the deployment', () => {
    const res = kustomization('.');
    expect([...res].sort()).toEqual([...CRD_FILES, 'deploy'].sort());
    for (const r of res) expect(existsSync(join(MANIFESTS_ROOT, r)), r).toBe(true);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  if (!kubectl) console.warn('\n*** test/manifests: kubectl not found; the `kubectl kustomize` build check is SKIPPED ***\n');
  it.skipIf(!kubectl)('kubectl kustomize manifests/ builds exactly the objects of the files', () => {
    const out = execFileSync('kubectl', ['kustomize', MANIFESTS_ROOT], { encoding: 'utf8' });
    const built = parseAllDocuments(out).map((d) => d.toJS() as Obj);
    const key = (o: Obj): string => `${String(o.kind)}/${String((o.metadata as Obj).namespace ?? '')}/${String((o.metadata as Obj).name)}`;
    expect(built.map(key).sort()).toEqual(objects.map((d) => key(d.value as Obj)).sort());
    // kustomize's only rewrite is the image (the same name and tag unless overridden).
    for (const o of built) expect(o).toEqual(objects.find((d) => key(d.value as Obj) === key(o))!.value);
  });
});
