// The CRDs in manifests/ are the one schema source: this module reads their openAPIV3Schema at run
// time (lazily, once) and derives the networking.k8s.io/v1 NetworkPolicy schema from the
// ApplicationNetworkPolicy one, which is NetworkPolicy plus domainNames.

import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** The subset of an OpenAPI v3 structural schema that CRDs use. */
export interface CrdSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, CrdSchema>;
  additionalProperties?: CrdSchema | boolean;
  items?: CrdSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  anyOf?: CrdSchema[];
  allOf?: CrdSchema[];
  nullable?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-map-type'?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export interface CrdVersion {
  group: string;
  version: string;
  kind: string;
  scope: 'Namespaced' | 'Cluster';
  schema: CrdSchema;
  /** The CRD file it came from. */
  file: string;
}

export const CRD_FILES = [
  'networking.k8s.aws_applicationnetworkpolicies.yaml',
  'networking.k8s.aws_clusternetworkpolicies.yaml',
  'policy.networking.k8s.io_clusternetworkpolicies.yaml',
] as const;

/** manifests/ next to src/ (and next to dist/ once compiled): two levels up from this module. */
export const MANIFESTS_DIR = new URL('../../manifests/', import.meta.url);

export class CrdLoadError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`cannot read CRD ${file}: ${detail}`);
    this.name = 'CrdLoadError';
  }
}

interface CrdDocument {
  kind?: string;
  spec?: {
    group?: string;
    scope?: 'Namespaced' | 'Cluster';
    names?: { kind?: string };
    versions?: { name?: string; schema?: { openAPIV3Schema?: CrdSchema } }[];
  };
}

export function parseCrdText(text: string, file: string): CrdVersion[] {
  const out: CrdVersion[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new CrdLoadError(file, doc.errors[0]?.message ?? 'YAML error');
    const crd = doc.toJS() as CrdDocument | null;
    if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
    const { group, scope, names, versions } = crd.spec ?? {};
    if (!group || !scope || !names?.kind || !versions) throw new CrdLoadError(file, 'spec.group/scope/names.kind/versions missing');
    for (const v of versions) {
      const schema = v.schema?.openAPIV3Schema;
      if (!v.name || !schema) throw new CrdLoadError(file, `version ${v.name ?? '?'} has no openAPIV3Schema`);
      out.push({ group, version: v.name, kind: names.kind, scope, schema, file });
    }
  }
  return out;
}

let cache: Map<string, CrdVersion> | undefined;

function load(): Map<string, CrdVersion> {
  if (cache) return cache;
  const m = new Map<string, CrdVersion>();
  for (const file of CRD_FILES) {
    let text: string;
    try {
      text = readFileSync(new URL(file, MANIFESTS_DIR), 'utf8');
    } catch (e) {
      throw new CrdLoadError(file, (e as Error).message);
    }
    for (const v of parseCrdText(text, file)) m.set(`${v.group}/${v.version}/${v.kind}`, v);
  }
  const anp = m.get('networking.k8s.aws/v1alpha1/ApplicationNetworkPolicy');
  if (!anp) throw new CrdLoadError(CRD_FILES[0], 'no ApplicationNetworkPolicy v1alpha1');
  m.set('networking.k8s.io/v1/NetworkPolicy', {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'NetworkPolicy',
    scope: 'Namespaced',
    schema: networkPolicySchemaFrom(anp.schema),
    file: anp.file,
  });
  cache = m;
  return m;
}

/** NetworkPolicy = ApplicationNetworkPolicy without the domainNames egress peer and its rules. */
function networkPolicySchemaFrom(anp: CrdSchema): CrdSchema {
  const np = structuredClone(anp);
  if (np.properties) delete np.properties.status;
  const rule = np.properties?.spec?.properties?.egress?.items;
  const peer = rule?.properties?.to?.items;
  if (!rule || !peer?.properties?.domainNames) throw new CrdLoadError(CRD_FILES[0], 'egress peer has no domainNames');
  delete peer.properties.domainNames;
  delete peer['x-kubernetes-validations'];
  // The egress rule's own rules are about domainNames too (named ports with them).
  delete rule['x-kubernetes-validations'];
  return np;
}

/** The CRD version for `apiVersion` + `kind`, or undefined when dnsgate does not accept it. */
export function crdFor(apiVersion: string, kind: string): CrdVersion | undefined {
  return load().get(`${apiVersion}/${kind}`);
}

export function allCrdVersions(): CrdVersion[] {
  return [...load().values()];
}
