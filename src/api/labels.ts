// Label keys, label values, DNS names and label selectors, validated like apimachinery
// (pkg/util/validation and pkg/apis/meta/v1/validation), with the same messages.

import { child, index, issue, type FieldIssue } from './errors.js';

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_VALUE_FMT = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';

const regexMsg = (what: string, fmt: string, examples: string[]): string =>
  `${what} (e.g. ${examples.map((e) => `'${e}'`).join(',  or ')}, regex used for validation is '${fmt}')`;

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(value)) {
    errs.push(
      regexMsg(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        DNS1123_LABEL_FMT,
        ['my-name', '123-abc'],
      ),
    );
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(value)) {
    errs.push(
      regexMsg(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        ['example.com'],
      ),
    );
  }
  return errs;
}

/** A label key: optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0] ?? '';
  } else if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    name = parts[1] ?? '';
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      regexMsg(
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME_FMT,
        ['MyName', 'my.name', '123-abc'],
      ) + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !QUALIFIED_NAME.test(name)) {
    errs.push(
      regexMsg(
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        QUALIFIED_NAME_FMT,
        ['MyName', 'my.name', '123-abc'],
      ),
    );
  }
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(value)) {
    errs.push(
      regexMsg(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        ['MyValue', 'my_value', '12345'],
      ),
    );
  }
  return errs;
}

/** IANA_SVC_NAME (RFC 6335): how container ports and named policy ports are spelled. */
export function isValidPortName(port: string): string[] {
  const errs: string[] = [];
  if (port.length > 15) errs.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(port)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(port)) errs.push('must contain at least one letter (a-z)');
  if (port.includes('--')) errs.push('must not contain consecutive hyphens');
  if (port.startsWith('-') || port.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

export function isValidPortNum(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : ['must be between 1 and 65535, inclusive'];
}

/** metadata.labels or a selector's matchLabels: keys and values, errors reported at `path`. */
export function validateLabels(labels: unknown, path: string): FieldIssue[] {
  if (labels === undefined || labels === null || typeof labels !== 'object') return [];
  const out: FieldIssue[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const m of isQualifiedName(k)) out.push(issue(path, 'Invalid value', m, k));
    if (typeof v === 'string') for (const m of isValidLabelValue(v)) out.push(issue(path, 'Invalid value', m, v));
  }
  return out;
}

/** A metav1.LabelSelector: operators, values presence, label keys and values. */
export function validateLabelSelector(sel: unknown, path: string): FieldIssue[] {
  if (sel === undefined || sel === null || typeof sel !== 'object') return [];
  const s = sel as { matchLabels?: unknown; matchExpressions?: unknown };
  const out: FieldIssue[] = [];
  if (Array.isArray(s.matchExpressions)) {
    s.matchExpressions.forEach((req: unknown, i) => {
      if (!req || typeof req !== 'object') return;
      const r = req as { key?: unknown; operator?: unknown; values?: unknown };
      const rp = index(child(path, 'matchExpressions'), i);
      const values = Array.isArray(r.values) ? r.values : [];
      switch (r.operator) {
        case 'In':
        case 'NotIn':
          if (values.length === 0)
            out.push(issue(child(rp, 'values'), 'Required value', "must be specified when `operator` is 'In' or 'NotIn'"));
          break;
        case 'Exists':
        case 'DoesNotExist':
          if (values.length > 0)
            out.push(issue(child(rp, 'values'), 'Forbidden', "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
          break;
        default:
          out.push(issue(child(rp, 'operator'), 'Invalid value', 'not a valid selector operator', r.operator));
      }
      if (typeof r.key === 'string') for (const m of isQualifiedName(r.key)) out.push(issue(child(rp, 'key'), 'Invalid value', m, r.key));
      values.forEach((v: unknown, j) => {
        if (typeof v === 'string')
          for (const m of isValidLabelValue(v)) out.push(issue(index(child(rp, 'values'), j), 'Invalid value', m, v));
      });
    });
  }
  out.push(...validateLabels(s.matchLabels, child(path, 'matchLabels')));
  return out;
}
