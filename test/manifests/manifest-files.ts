// Reads the deployable manifests (manifests/**/*.yaml) as the API server would get them: every
// document of every file, with the file it came from.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MANIFESTS_ROOT = join(REPO_ROOT, 'manifests');

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ManifestDoc {
  /** Path relative to the repository root. */
  file: string;
  index: number;
  value: unknown;
}

export class ManifestParseError extends Error {
  constructor(
    readonly file: string,
    readonly index: number,
    readonly detail: string,
  ) {
    super(`${file} (document ${index}): ${detail}`);
    this.name = 'ManifestParseError';
  }
}

export function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...yamlFilesUnder(path));
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out;
}

/** Every document of one file; parse errors and warnings throw, naming the file and document. */
export function readDocs(path: string): ManifestDoc[] {
  const file = relative(REPO_ROOT, path);
  return parseAllDocuments(readFileSync(path, 'utf8'), { uniqueKeys: true, prettyErrors: true })
    .map((doc, index) => {
      const problem = doc.errors[0] ?? doc.warnings[0];
      if (problem) throw new ManifestParseError(file, index, problem.message);
      return { file, index, value: doc.toJS() as unknown };
    })
    .filter((d) => d.value !== null && d.value !== undefined);
}

/** The files a kustomization builds from, following nested kustomization directories. */
export function kustomizedFiles(dir = MANIFESTS_ROOT): string[] {
  const [doc] = readDocs(join(dir, 'kustomization.yaml'));
  const resources = isObj(doc?.value) && Array.isArray(doc.value.resources) ? (doc.value.resources as unknown[]) : [];
  return resources.flatMap((r) => {
    const path = join(dir, String(r));
    return statSync(path).isDirectory() ? kustomizedFiles(path) : [path];
  });
}

/** The Kubernetes objects `kubectl apply -k manifests/` sends (other YAML there, such as example
 * agent configs, is not an API object). */
export function manifestObjects(): ManifestDoc[] {
  return kustomizedFiles().flatMap(readDocs);
}

export function findObject(kind: string, name: string): Obj {
  const hits = manifestObjects()
    .map((d) => d.value)
    .filter((v): v is Obj => isObj(v) && v.kind === kind && isObj(v.metadata) && v.metadata.name === name);
  if (hits.length !== 1) throw new Error(`expected exactly one ${kind} ${name} in manifests/, found ${hits.length}`);
  return hits[0]!;
}

/** Walks a dotted/indexed path ("spec.template.spec.containers.0") of plain data. */
export function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const key of path.split('.')) {
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isObj(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}
