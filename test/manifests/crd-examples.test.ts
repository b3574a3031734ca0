// Every policy object under examples/ is accepted by the schemas of the CRDs shipped in manifests/
// (through src/api's validator, which reads those CRD files): what a user copies from the examples
// applies to a cluster running these manifests. Every CRD kind has at least one example.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { findKind } from '../../src/api/kinds.js';
import { validateObject } from '../../src/api/validate.js';
import { isObj, manifestObjects, REPO_ROOT, type Obj } from './manifest-files.js';

const EXAMPLES = join(REPO_ROOT, 'examples');

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return filesUnder(path);
      return /\.(ya?ml|json)$/.test(name) ? [path] : [];
    });
}

interface Example {
  where: string;
  obj: Obj;
}

/** Every object of every example file (List items included), parsed as kubectl does (YAML 1.1). */
function exampleObjects(): Example[] {
  const out: Example[] = [];
  for (const path of filesUnder(EXAMPLES)) {
    const file = relative(REPO_ROOT, path);
    parseAllDocuments(readFileSync(path, 'utf8'), { version: '1.1' }).forEach((doc, i) => {
      const v: unknown = doc.errors.length === 0 ? doc.toJS() : undefined;
      const items = isObj(v) && v.kind === 'List' && Array.isArray(v.items) ? (v.items as unknown[]) : [v];
      items.forEach((item, j) => {
        if (isObj(item) && typeof item.apiVersion === 'string' && typeof item.kind === 'string') {
          out.push({ where: `${file}#${i + 1}${items.length > 1 ? `/items[${j}]` : ''}`, obj: item });
        }
      });
    });
  }
  return out;
}

interface Served {
  apiVersion: string;
  kind: string;
}

/** What the CRDs that `kubectl apply -k manifests/` installs serve. */
const crds: Served[] = manifestObjects()
  .map((d) => d.value as Obj)
  .filter((o) => o.kind === 'CustomResourceDefinition')
  .flatMap((o) => {
    const spec = o.spec as Obj;
    const kind = String((spec.names as Obj).kind);
    return (spec.versions as Obj[]).filter((v) => v.served === true).map((v) => ({ apiVersion: `${String(spec.group)}/${String(v.name)}`, kind }));
  });
const servedByCrd = (o: Obj): boolean => crds.some((c) => c.apiVersion === o.apiVersion && c.kind === o.kind);
// NetworkPolicy has no CRD, but its schema is the ApplicationNetworkPolicy CRD's minus domainNames.
const isPolicy = (o: Obj): boolean => findKind(String(o.apiVersion), String(o.kind))?.category === 'policy';
const policies = exampleObjects().filter((e) => servedByCrd(e.obj) || isPolicy(e.obj));

describe('examples against the CRDs in manifests/', () => {
  it('the CRD files define the three policy kinds', () => {
    expect(crds.map((c) => `${c.apiVersion} ${c.kind}`).sort()).toEqual([
      'networking.k8s.aws/v1alpha1 ApplicationNetworkPolicy',
      'networking.k8s.aws/v1alpha1 ClusterNetworkPolicy',
      'policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy',
    ]);
  });

  it.each(crds.map((c) => [`${c.apiVersion} ${c.kind}`, c] as const))('%s has examples', (_name, crd) => {
    expect(policies.filter((e) => e.obj.apiVersion === crd.apiVersion && e.obj.kind === crd.kind).length).toBeGreaterThan(0);
  });

  it.each(policies.map((e) => [`${e.where} ${String(e.obj.kind)} ${String((e.obj.metadata as Obj | undefined)?.name)}`, e.obj] as const))(
    '%s validates with zero errors',
    (_where, obj) => {
      expect(validateObject(obj).map((e) => e.message)).toEqual([]);
    },
  );

  it('the same validator rejects an example broken against its CRD (the check can fail)', () => {
    for (const crd of crds) {
      const e = policies.find((p) => p.obj.apiVersion === crd.apiVersion && p.obj.kind === crd.kind)!;
      const broken = structuredClone(e.obj);
      broken.spec = 'not an object';
      expect(validateObject(broken).length, `${crd.apiVersion} ${crd.kind}`).toBeGreaterThan(0);
    }
  });
});
