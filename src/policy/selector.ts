// Label selectors with apimachinery semantics (k8s.io/apimachinery/pkg/labels + metav1
// LabelSelectorAsSelector): requirements are ANDed; an empty selector matches everything.
import type { LabelSelector, LabelSelectorRequirement } from '../api/types.js';

export type Labels = Readonly<Record<string, string>>;

function has(labels: Labels, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(labels, key);
}

export function requirementMatches(req: LabelSelectorRequirement, labels: Labels): boolean {
  const present = has(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return present && values.includes(labels[req.key] as string);
    case 'NotIn':
      // A missing key satisfies NotIn: "not one of these values".
      return !present || !values.includes(labels[req.key] as string);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
  }
}

/**
 * Whether `selector` selects an object with `labels`. `undefined`/`null` selectors are treated
 * by callers, because their meaning depends on the field (NetworkPolicy peer: absent = "no
 * constraint of that kind"); here a present selector with no requirements matches everything.
 */
export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(labels, key) || labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => requirementMatches(req, labels));
}

export function isEmptySelector(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0;
}

/** A stable text form for messages and cache keys. */
export function formatSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  for (const req of selector.matchExpressions ?? []) {
    const vals = [...(req.values ?? [])].sort().join(',');
    switch (req.operator) {
      case 'In':
        parts.push(`${req.key} in (${vals})`);
        break;
      case 'NotIn':
        parts.push(`${req.key} notin (${vals})`);
        break;
      case 'Exists':
        parts.push(req.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${req.key}`);
        break;
    }
  }
  return parts.length === 0 ? '<all>' : parts.join(',');
}

interface KeyConstraint {
  /** Allowed values (intersection of In/matchLabels); undefined = any value. */
  allowed?: Set<string>;
  /** Values excluded by NotIn. */
  excluded: Set<string>;
  mustExist: boolean;
  mustNotExist: boolean;
}

function constraints(selector: LabelSelector): Map<string, KeyConstraint> {
  const out = new Map<string, KeyConstraint>();
  const get = (key: string): KeyConstraint => {
    let c = out.get(key);
    if (!c) {
      c = { excluded: new Set(), mustExist: false, mustNotExist: false };
      out.set(key, c);
    }
    return c;
  };
  const allow = (c: KeyConstraint, values: readonly string[]): void => {
    c.mustExist = true;
    c.allowed = new Set(c.allowed ? values.filter((v) => c.allowed?.has(v)) : values);
  };
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) allow(get(k), [v]);
  for (const req of selector.matchExpressions ?? []) {
    const c = get(req.key);
    if (req.operator === 'In') allow(c, req.values ?? []);
    else if (req.operator === 'NotIn') for (const v of req.values ?? []) c.excluded.add(v);
    else if (req.operator === 'Exists') c.mustExist = true;
    else c.mustNotExist = true;
  }
  return out;
}

function unsatisfiable(c: KeyConstraint): boolean {
  if (c.mustExist && c.mustNotExist) return true;
  if (c.allowed && [...c.allowed].every((v) => c.excluded.has(v))) return true;
  return false;
}

/**
 * True only when no label set can satisfy both selectors (a sound, incomplete test: false means
 * "may overlap"). Merges both selectors' requirements per key and looks for a contradiction.
 */
export function selectorsDisjoint(a: LabelSelector, b: LabelSelector): boolean {
  const merged = constraints({
    matchLabels: undefined,
    matchExpressions: [
      ...Object.entries(a.matchLabels ?? {}).map(([key, v]) => ({ key, operator: 'In' as const, values: [v] })),
      ...(a.matchExpressions ?? []),
      ...Object.entries(b.matchLabels ?? {}).map(([key, v]) => ({ key, operator: 'In' as const, values: [v] })),
      ...(b.matchExpressions ?? []),
    ],
  });
  return [...merged.values()].some(unsatisfiable);
}
