// Field-by-field check of a manifest against the Kubernetes API types that @kubernetes/client-node
// generates from the OpenAPI spec: a misspelt or misplaced field (which kubectl's strict validation
// would reject, or an older apply would silently drop) and a value of the wrong type are reported
// with their path. No cluster needed.
import * as k8s from '@kubernetes/client-node';
import { isObj } from './manifest-files.js';

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}

type ModelClass = { getAttributeTypeMap(): Attribute[] };

function modelClass(name: string): ModelClass | undefined {
  const c = (k8s as unknown as Record<string, Partial<ModelClass> | undefined>)[name];
  return typeof c?.getAttributeTypeMap === 'function' ? (c as ModelClass) : undefined;
}

/** The generated model of an object's kind ("apps/v1" DaemonSet -> V1DaemonSet). */
export function modelFor(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.slice(apiVersion.lastIndexOf('/') + 1);
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  return modelClass(name) ? name : undefined;
}

/** Problems of `value` as the given client-node type ("V1PodSpec", "Array<string>", ...). */
export function schemaProblems(value: unknown, type: string, path = ''): string[] {
  const here = path || '<root>';
  if (value === null || value === undefined) return [];
  const arrayOf = /^Array<(.+)>$/.exec(type);
  if (arrayOf) {
    if (!Array.isArray(value)) return [`${here}: expected a list, got ${typeof value}`];
    return value.flatMap((v, i) => schemaProblems(v, arrayOf[1]!, `${path}[${i}]`));
  }
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (mapOf) {
    if (!isObj(value)) return [`${here}: expected a mapping, got ${typeof value}`];
    return Object.entries(value).flatMap(([k, v]) => schemaProblems(v, mapOf[1]!, `${path}.${k}`));
  }
  switch (type) {
    case 'any':
    case 'object':
      return [];
    case 'string':
      return typeof value === 'string' ? [] : [`${here}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${here}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${here}: expected true/false, got ${JSON.stringify(value)}`];
    case 'Date':
      return typeof value === 'string' || value instanceof Date ? [] : [`${here}: expected a timestamp`];
    case 'IntOrString':
      return typeof value === 'string' || Number.isInteger(value) ? [] : [`${here}: expected an integer or a string`];
  }
  const model = modelClass(type);
  if (!model) return [`${here}: no client-node type ${type} to check against`];
  if (!isObj(value)) return [`${here}: expected a ${type} mapping, got ${JSON.stringify(value)}`];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a]));
  return Object.entries(value).flatMap(([key, v]) => {
    const attr = attrs.get(key);
    const sub = path ? `${path}.${key}` : key;
    if (!attr) return [`${sub}: unknown field of ${type}`];
    return schemaProblems(v, attr.type, sub);
  });
}
