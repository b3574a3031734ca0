// Loading of manifests (multi-document YAML, JSON, `kind: List`) from text, files and directories
// into a ClusterState. Every object is admitted through the validator; an object with any error is
// left out whole and reported, unknown kinds and duplicates are reported, never silently dropped.

import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { emptyClusterState, objectRef, type ClusterState, type KnownObject } from './types.js';
import { findKind, groupOf, POLICY_GROUPS } from './kinds.js';
import { admitObject } from './validate.js';

export interface Problem {
  severity: 'error' | 'warning';
  /** Where: `file`, `file#doc` (1-based document number) or `file#doc/items[i]` for List items. */
  source: string;
  /** The object, as objectRef() spells it, when known. */
  ref?: string;
  field?: string;
  message: string;
}

export interface LoadResult {
  state: ClusterState;
  problems: Problem[];
  /**
   * Where each admitted object was read, by its ref as objectRef() spells it (the key lint
   * findings and explain reasons use). An EKS and an upstream ClusterNetworkPolicy of one name
   * share a ref: both sources are listed, comma-separated.
   */
  sources: Map<string, string>;
}

/** One raw object and where it was read from. */
interface Entry {
  obj: unknown;
  source: string;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Flattens `kind: List` / `*List` documents into their items. */
function expand(value: unknown, source: string, out: Entry[], problems: Problem[]): void {
  if (value === null || value === undefined) return;
  if (isObj(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && 'items' in value) {
    if (!Array.isArray(value.items)) {
      problems.push({ severity: 'error', source, field: 'items', message: `${value.kind}: items must be a list` });
      return;
    }
    value.items.forEach((v, i) => expand(v, `${source}/items[${i}]`, out, problems));
    return;
  }
  // A top-level array stays one (invalid) entry: kubectl has no such format, lists are `kind: List`.
  out.push({ obj: value, source });
}

function looksLikeJson(text: string, source: string): boolean {
  return extname(source).toLowerCase() === '.json' || /^\s*[{[]/.test(text);
}

/** A document that claims to be a Kubernetes object (or List): apiVersion and kind are strings. */
function isManifestDocument(value: unknown): boolean {
  return isObj(value) && typeof value.apiVersion === 'string' && value.apiVersion !== '' && typeof value.kind === 'string' && value.kind !== '';
}

interface Collected {
  entries: Entry[];
  problems: Problem[];
  /** Documents that are not empty (null) and parsed without syntax errors. */
  documents: number;
  /** Whether any document has apiVersion and kind. */
  manifest: boolean;
}

/** Splits a text into raw objects; syntax errors become problems. */
function collect(text: string, source: string): Collected {
  const out: Collected = { entries: [], problems: [], documents: 0, manifest: false };
  const add = (value: unknown, src: string): void => {
    if (value === null || value === undefined) return;
    out.documents++;
    out.manifest ||= isManifestDocument(value);
    expand(value, src, out.entries, out.problems);
  };
  if (looksLikeJson(text, source)) {
    try {
      add(JSON.parse(text) as unknown, source);
      return out;
    } catch (e) {
      // A YAML file may start with '{' (flow mapping); only .json must be strict JSON.
      if (extname(source).toLowerCase() === '.json') {
        out.problems.push({ severity: 'error', source, message: `invalid JSON: ${(e as Error).message}` });
        return out;
      }
    }
  }
  // YAML 1.1 like kubectl (sigs.k8s.io/yaml): yes/no/on/off/y/n are booleans, 0755 is octal.
  const docs = parseAllDocuments(text, { version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const src = list.length > 1 ? `${source}#${i + 1}` : source;
    if (doc.errors.length > 0) {
      for (const err of doc.errors) out.problems.push({ severity: 'error', source: src, message: `invalid YAML: ${err.message}` });
      return;
    }
    add(doc.toJS() as unknown, src);
  });
  return out;
}

function refOf(obj: unknown): string | undefined {
  if (!isObj(obj) || typeof obj.kind !== 'string') return undefined;
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
  return ns ? `${obj.kind}/${ns}/${name}` : `${obj.kind}/${name}`;
}

function place(state: ClusterState, obj: KnownObject): void {
  switch (obj.kind) {
    case 'Namespace':
      return void state.namespaces.push(obj);
    case 'Pod':
      return void state.pods.push(obj);
    case 'Node':
      return void state.nodes.push(obj);
    case 'Service':
      return void state.services.push(obj);
    case 'EndpointSlice':
      return void state.endpointSlices.push(obj);
    case 'NetworkPolicy':
      return void state.networkPolicies.push(obj);
    case 'ApplicationNetworkPolicy':
      return void state.applicationNetworkPolicies.push(obj);
    case 'ClusterNetworkPolicy':
      return void state.clusterNetworkPolicies.push(obj);
  }
}

/** Admits every entry; the first of two objects with the same identity wins, the second is an error. */
function build(entries: Entry[], problems: Problem[]): LoadResult {
  const state = emptyClusterState();
  const seen = new Map<string, string>();
  const sources = new Map<string, string>();
  for (const { obj, source } of entries) {
    if (!isObj(obj)) {
      const what = Array.isArray(obj) ? 'a list (a list of objects is written as kind: List)' : typeof obj;
      problems.push({ severity: 'error', source, message: `a manifest document must be a mapping, got ${what}` });
      continue;
    }
    const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
    const kind = typeof obj.kind === 'string' ? obj.kind : '';
    if (!apiVersion || !kind) {
      problems.push({ severity: 'error', source, field: apiVersion ? 'kind' : 'apiVersion', message: 'not a Kubernetes object: apiVersion and kind are required' });
      continue;
    }
    if (!findKind(apiVersion, kind)) {
      // Silently skipping an unsupported policy would mean not enforcing it: that is an error.
      const policyGroup = POLICY_GROUPS.includes(groupOf(apiVersion));
      problems.push({
        severity: policyGroup ? 'error' : 'warning',
        source,
        ref: refOf(obj),
        message: `unsupported object ${kind} (${apiVersion})${policyGroup ? ': dnsgate cannot enforce it' : ': ignored'}`,
      });
      continue;
    }
    const { object, errors, known } = admitObject(obj);
    for (const e of errors) problems.push({ severity: 'error', source, ref: e.ref, field: e.field || undefined, message: e.reason });
    if (!object || !known) continue;
    const meta = object.metadata;
    const key = `${known.group}/${known.kind}/${meta.namespace ?? ''}/${meta.name}`;
    const ref = refOf(object);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({ severity: 'error', source, ref, message: `duplicate object (${known.apiVersion}), first defined in ${first}; this one is ignored` });
      continue;
    }
    seen.set(key, source);
    place(state, object);
    const at = sources.get(objectRef(object));
    sources.set(objectRef(object), at === undefined ? source : `${at}, ${source}`);
  }
  problems.push(...unknownNodes(state, sources));
  return { state, problems, sources };
}

/** Pods whose spec.nodeName names no Node object: kubelet probes then rest on status.hostIP(s). */
function unknownNodes(state: ClusterState, sources: ReadonlyMap<string, string>): Problem[] {
  const nodes = new Set(state.nodes.map((n) => n.metadata.name));
  const out: Problem[] = [];
  for (const pod of state.pods) {
    const nodeName = pod.spec.nodeName;
    if (nodeName === undefined || nodeName === '' || nodes.has(nodeName)) continue;
    const ref = objectRef(pod);
    const known = Boolean(pod.status?.hostIP) || (pod.status?.hostIPs?.length ?? 0) > 0;
    out.push({
      severity: 'warning',
      source: sources.get(ref) ?? '',
      ref,
      field: 'spec.nodeName',
      message: `${nodeName} names no Node object: ${
        known ? "its kubelet probes are recognised only by the pod's status.hostIP(s)" : 'kubelet probes are not recognised (no status.hostIP either)'
      }`,
    });
  }
  return out;
}

export function parseManifests(text: string, source: string): LoadResult {
  const { entries, problems } = collect(text, source);
  return build(entries, problems);
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const items = await readdir(dir, { withFileTypes: true });
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const it of items) {
    const p = join(dir, it.name);
    if (it.isDirectory()) out.push(...(await filesUnder(p)));
    else if (it.isFile() && MANIFEST_EXTENSIONS.has(extname(it.name).toLowerCase())) out.push(p);
  }
  return out;
}

/**
 * Loads files and directories (recursively, *.yaml|*.yml|*.json, in name order). A file named
 * explicitly is read whatever its extension. In a directory, a file none of whose documents has
 * apiVersion and kind is skipped with a warning. Problems of every file are reported together.
 */
export async function loadManifests(paths: string[]): Promise<LoadResult> {
  const entries: Entry[] = [];
  const problems: Problem[] = [];
  for (const path of paths) {
    let files: string[];
    let expanded: boolean;
    try {
      expanded = (await stat(path)).isDirectory();
      files = expanded ? await filesUnder(path) : [path];
    } catch (e) {
      problems.push({ severity: 'error', source: path, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        problems.push({ severity: 'error', source: file, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
        continue;
      }
      const c = collect(text, file);
      // A directory may hold other YAML/JSON (flows, expected results): skip those, loudly. A file
      // named explicitly is meant as manifests, so its documents are reported as errors instead.
      if (expanded && c.problems.length === 0 && c.documents > 0 && !c.manifest) {
        problems.push({ severity: 'warning', source: file, message: 'not a Kubernetes manifest, skipped (no document has apiVersion and kind)' });
        continue;
      }
      entries.push(...c.entries);
      problems.push(...c.problems);
    }
  }
  return build(entries, problems);
}
