// Validation errors shaped like the Kubernetes API server's field errors (apimachinery field.Error),
// so a message from dnsgate reads the same as the one `kubectl apply` would print.

export type ErrorType =
  | 'Invalid value'
  | 'Required value'
  | 'Unsupported value'
  | 'Forbidden'
  | 'Too long'
  | 'Too many'
  | 'Duplicate value'
  | 'Unknown field';

/** One problem at one field, before it is attached to an object. */
export interface FieldIssue {
  field: string;
  type: ErrorType;
  /** The offending value, when the error type shows one (Invalid/Unsupported/Duplicate/Too many). */
  value?: unknown;
  detail: string;
}

/** Which object an error belongs to. */
export interface ObjectIdentity {
  kind: string;
  /** API group ('' for the core group). */
  group: string;
  name: string;
  namespace?: string;
}

export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  return JSON.stringify(value) ?? String(value);
}

export function formatReason(issue: FieldIssue): string {
  const detail = issue.detail ? `: ${issue.detail}` : '';
  switch (issue.type) {
    case 'Required value':
    case 'Forbidden':
    case 'Too long':
    case 'Unknown field':
      return `${issue.type}${detail}`;
    default:
      return 'value' in issue ? `${issue.type}: ${formatValue(issue.value)}${detail}` : `${issue.type}${detail}`;
  }
}

/** A field of one object rejected, with the API server's wording. */
export class ValidationError extends Error {
  /** "Kind/namespace/name" or "Kind/name", as objectRef() spells it. */
  readonly ref: string;
  readonly object: ObjectIdentity;
  /** Field path as the API server prints it, e.g. `spec.egress[0].to[1].networks[0]`. */
  readonly field: string;
  readonly type: ErrorType;
  readonly value?: unknown;
  readonly detail: string;
  /** Everything after the field path, e.g. `Invalid value: 1001: must be less than or equal to 1000`. */
  readonly reason: string;

  constructor(object: ObjectIdentity, issue: FieldIssue) {
    const reason = formatReason(issue);
    super(`${describeObject(object)} is invalid: ${issue.field}: ${reason}`);
    this.name = 'ValidationError';
    this.object = object;
    this.ref = object.namespace ? `${object.kind}/${object.namespace}/${object.name}` : `${object.kind}/${object.name}`;
    this.field = issue.field;
    this.type = issue.type;
    if ('value' in issue) this.value = issue.value;
    this.detail = issue.detail;
    this.reason = reason;
  }

  override toString(): string {
    return this.message;
  }
}

/** `ClusterNetworkPolicy.policy.networking.k8s.io "x"`, plus the namespace for namespaced objects. */
export function describeObject(o: ObjectIdentity): string {
  const kind = o.group ? `${o.kind}.${o.group}` : o.kind;
  const ns = o.namespace ? ` in namespace ${JSON.stringify(o.namespace)}` : '';
  return `${kind} ${JSON.stringify(o.name)}${ns}`;
}

// ---------------------------------------------------------------- field path helpers

export function child(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

export function issue(field: string, type: ErrorType, detail: string, ...value: [unknown?]): FieldIssue {
  return value.length > 0 ? { field, type, value: value[0], detail } : { field, type, detail };
}
