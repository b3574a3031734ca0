// Admission of one object, the way the API server would take it: CRD structural schema (from
// manifests/), CEL rules, NetworkPolicy validation, label selectors, metadata; plus dnsgate's sanity
// checks of the cluster-state kinds. The admitted copy is pruned and defaulted.

import type { KnownObject } from './types.js';
import { crdFor } from './crds.js';
import { validateCel } from './cel.js';
import { issue, ValidationError, type FieldIssue, type ObjectIdentity } from './errors.js';
import { findKind, groupOf, type KnownKind } from './kinds.js';
import { isDNS1123Label, isDNS1123Subdomain, validateLabelSelector, validateLabels } from './labels.js';
import { validateNetworkPolicySpec } from './networkpolicy-validation.js';
import { validateStructural } from './structural.js';
import { validateEndpointSlice, validateNode, validatePod, validateService } from './state-validation.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export interface Admission {
  /** The pruned and defaulted copy; undefined when there are errors. */
  object?: KnownObject;
  errors: ValidationError[];
  /** The kind's entry when apiVersion/kind are supported. */
  known?: KnownKind;
}

function identityOf(obj: unknown, known?: KnownKind): ObjectIdentity {
  const o = isObj(obj) ? obj : {};
  const meta = isObj(o.metadata) ? o.metadata : {};
  const apiVersion = typeof o.apiVersion === 'string' ? o.apiVersion : '';
  const id: ObjectIdentity = {
    kind: typeof o.kind === 'string' && o.kind ? o.kind : '<unknown kind>',
    group: known?.group ?? groupOf(apiVersion),
    name: typeof meta.name === 'string' ? meta.name : '',
  };
  if (typeof meta.namespace === 'string' && meta.namespace && known?.namespaced !== false) id.namespace = meta.namespace;
  return id;
}

/** metadata: name and namespace syntax, labels; namespace defaulted to "default" like kubectl. */
function admitMetadata(obj: Obj, known: KnownKind): FieldIssue[] {
  if (obj.metadata === undefined || obj.metadata === null) return [issue('metadata', 'Required value', '')];
  if (!isObj(obj.metadata)) return [issue('metadata', 'Invalid value', 'must be of type object', typeof obj.metadata)];
  const meta = obj.metadata;
  const out: FieldIssue[] = [];
  if (typeof meta.name !== 'string' || meta.name === '') out.push(issue('metadata.name', 'Required value', 'name or generateName is required'));
  else {
    const check = known.kind === 'Namespace' || known.kind === 'Service' ? isDNS1123Label : isDNS1123Subdomain;
    for (const m of check(meta.name)) out.push(issue('metadata.name', 'Invalid value', m, meta.name));
  }
  if (known.namespaced) {
    if (meta.namespace === undefined || meta.namespace === null || meta.namespace === '') meta.namespace = 'default';
    else if (typeof meta.namespace !== 'string') out.push(issue('metadata.namespace', 'Invalid value', 'must be of type string', meta.namespace));
    else for (const m of isDNS1123Label(meta.namespace)) out.push(issue('metadata.namespace', 'Invalid value', m, meta.namespace));
  } else {
    // Cluster-scoped: the API server ignores a namespace given in the body.
    delete meta.namespace;
  }
  if (meta.labels !== undefined && meta.labels !== null && !isObj(meta.labels))
    out.push(issue('metadata.labels', 'Invalid value', 'must be of type object', meta.labels));
  else {
    for (const [k, v] of Object.entries(meta.labels ?? {}))
      if (typeof v !== 'string') out.push(issue('metadata.labels', 'Invalid value', 'label values must be strings', { [k]: v }));
    out.push(...validateLabels(meta.labels, 'metadata.labels'));
  }
  return out;
}

/** Every label selector of a ClusterNetworkPolicy (either shape). */
function cnpSelectorIssues(spec: Obj): FieldIssue[] {
  const out: FieldIssue[] = [];
  const peerSelectors = (peer: unknown, path: string): void => {
    if (!isObj(peer)) return;
    for (const f of ['namespaces', 'nodes']) if (peer[f] !== undefined) out.push(...validateLabelSelector(peer[f], `${path}.${f}`));
    if (isObj(peer.pods)) {
      out.push(...validateLabelSelector(peer.pods.namespaceSelector, `${path}.pods.namespaceSelector`));
      out.push(...validateLabelSelector(peer.pods.podSelector, `${path}.pods.podSelector`));
    }
  };
  peerSelectors(spec.subject, 'spec.subject');
  for (const [dir, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    arr(spec[dir]).forEach((rule, i) => {
      if (isObj(rule)) arr(rule[peers]).forEach((peer, j) => peerSelectors(peer, `spec.${dir}[${i}].${peers}[${j}]`));
    });
  }
  return out;
}

/** Upstream leaves pods.namespaceSelector optional (empty = all namespaces); make it explicit. */
function defaultNamespaceSelectors(spec: Obj): void {
  const fill = (peer: unknown): void => {
    if (isObj(peer) && isObj(peer.pods) && peer.pods.namespaceSelector === undefined) peer.pods.namespaceSelector = {};
  };
  fill(spec.subject);
  for (const [dir, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const)
    arr(spec[dir]).forEach((rule) => isObj(rule) && arr(rule[peers]).forEach(fill));
}

/** networking/v1 defaults: port protocol TCP; policyTypes Ingress (+ Egress when egress rules exist). */
function defaultNetworkPolicy(spec: Obj): void {
  for (const dir of ['ingress', 'egress'])
    arr(spec[dir]).forEach((rule) => {
      if (isObj(rule)) arr(rule.ports).forEach((p) => isObj(p) && p.protocol === undefined && (p.protocol = 'TCP'));
    });
  if (arr(spec.policyTypes).length === 0) spec.policyTypes = arr(spec.egress).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

function admitPolicy(obj: Obj, known: KnownKind): FieldIssue[] {
  const crd = crdFor(known.apiVersion, known.kind);
  if (!crd) throw new Error(`no schema for ${known.apiVersion} ${known.kind}`);
  // The status subresource is ignored on create.
  delete obj.status;
  if (known.kind === 'NetworkPolicy' && isObj(obj.spec) && (obj.spec.podSelector === undefined || obj.spec.podSelector === null)) {
    // Go decodes a missing or null podSelector to the empty selector.
    obj.spec.podSelector = {};
  }
  const structural = validateStructural(obj, crd.schema);
  if (structural.length > 0) return structural;
  const out = validateCel(obj, crd.schema);
  const spec = obj.spec as Obj;
  if (known.kind === 'ClusterNetworkPolicy') {
    out.push(...cnpSelectorIssues(spec));
    if (known.group === 'policy.networking.k8s.io') defaultNamespaceSelectors(spec);
  } else {
    out.push(...validateNetworkPolicySpec(spec));
    if (known.kind === 'NetworkPolicy' && out.length === 0) defaultNetworkPolicy(spec);
  }
  return out;
}

function admitState(obj: Obj, known: KnownKind): FieldIssue[] {
  switch (known.kind) {
    case 'Pod':
      return validatePod(obj);
    case 'Node':
      return validateNode(obj);
    case 'Service':
      return validateService(obj);
    case 'EndpointSlice':
      return validateEndpointSlice(obj);
    default:
      return [];
  }
}

/** Validates `obj` and returns the copy dnsgate would store, or the errors. */
export function admitObject(obj: unknown): Admission {
  if (!isObj(obj)) {
    return { errors: [new ValidationError(identityOf(obj), issue('', 'Invalid value', 'an object must be a mapping', typeof obj))] };
  }
  const apiVersion = obj.apiVersion;
  const kind = obj.kind;
  if (typeof apiVersion !== 'string' || apiVersion === '' || typeof kind !== 'string' || kind === '') {
    const field = typeof apiVersion !== 'string' || apiVersion === '' ? 'apiVersion' : 'kind';
    return { errors: [new ValidationError(identityOf(obj), issue(field, 'Required value', ''))] };
  }
  const known = findKind(apiVersion, kind);
  if (!known) {
    return {
      errors: [new ValidationError(identityOf(obj), issue('apiVersion', 'Unsupported value', `dnsgate does not accept kind ${kind} in ${apiVersion}`, apiVersion))],
    };
  }
  const copy = structuredClone(obj);
  const issues = admitMetadata(copy, known);
  issues.push(...(known.category === 'policy' ? admitPolicy(copy, known) : admitState(copy, known)));
  const id = identityOf(copy, known);
  if (issues.length > 0) return { errors: issues.map((i) => new ValidationError(id, i)), known };
  return { object: copy as unknown as KnownObject, errors: [], known };
}

/** Every reason the API server (or dnsgate's state checks) would reject `obj`; empty when accepted. */
export function validateObject(obj: unknown): ValidationError[] {
  return admitObject(obj).errors;
}
