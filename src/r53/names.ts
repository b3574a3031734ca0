// DNS names inside the emulator are kept canonical: lower case, no trailing dot, root = ''.

export function canonicalName(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed.toLowerCase();
}

/** Presentation form with the trailing dot, as Route 53 query logs and dig print names. */
export function fqdn(name: string): string {
  return name === '' ? '.' : `${name}.`;
}

export function labelsOf(name: string): string[] {
  return name === '' ? [] : name.split('.');
}

/** True when `name` equals `suffix` or lies below it (label-wise). */
export function isAtOrBelow(name: string, suffix: string): boolean {
  if (suffix === '') return true;
  return name === suffix || name.endsWith(`.${suffix}`);
}

export function parentOf(name: string): string | undefined {
  if (name === '') return undefined;
  const dot = name.indexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1);
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Host-name syntax check (underscore allowed for service labels); returns a reason or undefined. */
export function nameProblem(name: string): string | undefined {
  if (name.length > 253) return 'longer than 253 characters';
  for (const label of labelsOf(name)) {
    if (label.length > 63) return `label "${label}" longer than 63 characters`;
    if (!LABEL.test(label)) return `label "${label}" is not a valid DNS label`;
  }
  return undefined;
}
