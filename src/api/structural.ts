// Structural-schema validation of one object against its CRD openAPIV3Schema, in the API server's
// order: drop nulls and unknown fields (pruning), apply defaults, then check types, enums, limits and
// patterns (ajv), then list-type=set uniqueness. Messages follow apiextensions-apiserver.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { CrdSchema } from './crds.js';
import { child, index, issue, type FieldIssue } from './errors.js';

const INT32 = { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 } as const;
const INT64 = { type: 'number', validate: (n: number) => Number.isSafeInteger(n) } as const;

function newAjv(): Ajv {
  // strict:false because CRD schemas carry x-kubernetes-* and `nullable` keywords ajv does not know.
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, verbose: true });
  // RFC 3339 date-time, as metav1.Time serialises it (only status conditions use it).
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('int32', INT32);
  ajv.addFormat('int64', INT64);
  return ajv;
}

let ajv: Ajv | undefined;
const compiled = new WeakMap<CrdSchema, ValidateFunction>();

function compile(schema: CrdSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    ajv ??= newAjv();
    fn = ajv.compile(schema as object);
    compiled.set(schema, fn);
  }
  return fn;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Removes null values of non-nullable fields and fields the schema does not declare, in place.
 * Returns one issue per unknown field (the API server's strict field validation).
 */
export function prune(value: unknown, schema: CrdSchema, path: string): FieldIssue[] {
  const out: FieldIssue[] = [];
  if (schema['x-kubernetes-preserve-unknown-fields']) return out;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => out.push(...prune(v, schema.items as CrdSchema, index(path, i))));
    return out;
  }
  if (!isObject(value)) return out;
  const props = schema.properties;
  const extra = schema.additionalProperties;
  for (const key of Object.keys(value)) {
    const kp = child(path, key);
    const sub = props?.[key] ?? (typeof extra === 'object' ? extra : undefined);
    if (value[key] === null && !sub?.nullable) {
      delete value[key];
      continue;
    }
    if (sub) {
      out.push(...prune(value[key], sub, kp));
    } else if (props || extra === false) {
      // Objects with neither properties nor additionalProperties (e.g. metadata) are left alone.
      if (extra !== true) {
        delete value[key];
        out.push(issue(kp, 'Unknown field', 'field not declared in schema'));
      }
    }
  }
  return out;
}

/** Turns an ajv JSON pointer into the API server's field path, using the data to tell indexes. */
function pointerToPath(root: unknown, pointer: string): string {
  let path = '';
  let cur: unknown = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      path = index(path, Number(key));
      cur = cur[Number(key)];
    } else {
      path = child(path, key);
      cur = isObject(cur) ? cur[key] : undefined;
    }
  }
  return path;
}

const typeName = (v: unknown): string =>
  Array.isArray(v) ? 'array' : v === null ? 'null' : Number.isInteger(v) ? 'integer' : typeof v;

function translate(e: ErrorObject, root: unknown): FieldIssue | undefined {
  const path = pointerToPath(root, e.instancePath);
  const data = e.data;
  const p = e.params as Record<string, unknown>;
  // Branch failures of anyOf (int-or-string) are summarised by the anyOf error itself.
  if (/\/anyOf\/\d+\//.test(e.schemaPath)) return undefined;
  switch (e.keyword) {
    case 'required':
      return issue(child(path, String(p.missingProperty)), 'Required value', '');
    case 'type':
      return issue(path, 'Invalid value', `must be of type ${String(p.type)}`, typeName(data));
    case 'anyOf': {
      const types = ((e.schema as CrdSchema[] | undefined) ?? []).map((s) => s.type).filter(Boolean);
      return issue(path, 'Invalid value', `must be of type ${types.join(' or ')}`, typeName(data));
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return issue(path, 'Unsupported value', `supported values: ${allowed}`, data);
    }
    case 'maximum':
      return issue(path, 'Invalid value', `must be less than or equal to ${String(p.limit)}`, data);
    case 'minimum':
      return issue(path, 'Invalid value', `must be greater than or equal to ${String(p.limit)}`, data);
    case 'exclusiveMaximum':
      return issue(path, 'Invalid value', `must be less than ${String(p.limit)}`, data);
    case 'exclusiveMinimum':
      return issue(path, 'Invalid value', `must be greater than ${String(p.limit)}`, data);
    case 'maxLength':
      return issue(path, 'Too long', `may not be more than ${String(p.limit)} bytes`);
    case 'minLength':
      return issue(path, 'Invalid value', `must be at least ${String(p.limit)} chars long`, data);
    case 'maxItems':
      return issue(path, 'Too many', `must have at most ${String(p.limit)} items`, (data as unknown[]).length);
    case 'minItems':
      return issue(path, 'Invalid value', `must have at least ${String(p.limit)} items`, (data as unknown[]).length);
    case 'maxProperties':
      return issue(path, 'Too many', `must have at most ${String(p.limit)} items`, Object.keys(data as object).length);
    case 'minProperties':
      return issue(path, 'Invalid value', `must have at least ${String(p.limit)} properties`, Object.keys(data as object).length);
    case 'pattern':
      return issue(path, 'Invalid value', `should match '${String(p.pattern)}'`, data);
    case 'format':
      return issue(path, 'Invalid value', `must be of format ${String(p.format)}`, data);
    default:
      return issue(path, 'Invalid value', e.message ?? e.keyword, data);
  }
}

/** x-kubernetes-list-type: set lists may not hold the same item twice. */
function checkSets(value: unknown, schema: CrdSchema, path: string, out: FieldIssue[]): void {
  if (Array.isArray(value)) {
    if (schema['x-kubernetes-list-type'] === 'set') {
      const seen = new Set<string>();
      value.forEach((v, i) => {
        const k = JSON.stringify(v);
        if (seen.has(k)) out.push(issue(index(path, i), 'Duplicate value', '', v));
        seen.add(k);
      });
    }
    if (schema.items) value.forEach((v, i) => checkSets(v, schema.items as CrdSchema, index(path, i), out));
    return;
  }
  if (!isObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const sub = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (sub) checkSets(v, sub, child(path, key), out);
  }
}

/**
 * Prunes, defaults (in place) and validates `value` against `schema`. `value` must be a private
 * copy: it is modified the way the API server would store it.
 */
export function validateStructural(value: unknown, schema: CrdSchema): FieldIssue[] {
  const out = prune(value, schema, '');
  const fn = compile(schema);
  if (!fn(value)) {
    for (const e of fn.errors ?? []) {
      const t = translate(e, value);
      if (t) out.push(t);
    }
  }
  checkSets(value, schema, '', out);
  return out;
}
