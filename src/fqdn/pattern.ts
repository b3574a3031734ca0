// Domain patterns of `domainNames` peers (SEMANTICS.md section 5): validation, normalisation and
// the readable (O(patterns)) statement of matching that the compiled matcher is tested against.

/**
 * The upstream DomainName pattern, with the `A-z` character-class typo of some upstream versions
 * fixed to `A-Z` (the typo admitted `[`, `\`, `]`, `^`, `` ` ``).
 */
export const DOMAIN_NAME_REGEX =
  /^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$/;

export const MAX_LABEL_LENGTH = 63;
/** Applies to the pattern as written, `*.` included, without its optional trailing dot. */
export const MAX_NAME_LENGTH = 253;

export type DomainPatternResult =
  | { ok: true; pattern: string; wildcard: boolean }
  | { ok: false; reason: string };

const WILDCARD_PREFIX = '*.';

/**
 * Lower case, one trailing dot removed: the form every stored name and pattern is kept in. Only
 * ASCII letters fold (RFC 4343): `toLowerCase()` would also fold, say, the Kelvin sign into `k` and
 * make a name match a pattern the DNS considers different.
 */
export function normalizeName(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return ASCII_UPPER.test(trimmed) ? trimmed.replace(ASCII_UPPER_RUNS, toAsciiLower) : trimmed;
}

const ASCII_UPPER = /[A-Z]/;
const ASCII_UPPER_RUNS = /[A-Z]+/g;
const toAsciiLower = (run: string): string => run.toLowerCase();

export function parseDomainPattern(input: string): DomainPatternResult {
  if (typeof input !== 'string') return { ok: false, reason: 'must be a string' };
  if (input.length === 0) return { ok: false, reason: 'must not be empty' };
  const withoutDot = input.endsWith('.') ? input.slice(0, -1) : input;
  if (withoutDot.length > MAX_NAME_LENGTH) {
    return { ok: false, reason: `must be at most ${MAX_NAME_LENGTH} characters, got ${withoutDot.length}` };
  }
  const wildcard = withoutDot.startsWith(WILDCARD_PREFIX);
  const base = wildcard ? withoutDot.slice(WILDCARD_PREFIX.length) : withoutDot;
  if (base.includes('*')) {
    return { ok: false, reason: "'*' is only allowed as the whole first label ('*.example.com')" };
  }
  if (!DOMAIN_NAME_REGEX.test(input)) {
    return { ok: false, reason: describeRegexFailure(base, wildcard) };
  }
  const labels = base.split('.');
  // The regex already demands two labels; kept explicit because the contract states it.
  if (labels.length < 2) {
    return { ok: false, reason: wildcard ? "needs at least two labels after '*.'" : 'needs at least two labels' };
  }
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH) {
      return { ok: false, reason: `label '${label.slice(0, 16)}...' is ${label.length} characters, at most ${MAX_LABEL_LENGTH} allowed` };
    }
  }
  return { ok: true, pattern: normalizeName(withoutDot), wildcard };
}

// A precise reason for a regex mismatch, so `dnsgate lint` can say more than "does not match".
function describeRegexFailure(base: string, wildcard: boolean): string {
  const labels = base.split('.');
  if (labels.length < 2) {
    return wildcard ? "needs at least two labels after '*.' (for example *.example.com)" : 'needs at least two labels (for example example.com)';
  }
  for (const label of labels) {
    if (label.length === 0) return 'has an empty label';
    if (/[^-a-zA-Z0-9_]/.test(label)) {
      return `label '${label}' has characters other than letters, digits, '-' and '_'`;
    }
    if (!/^[a-zA-Z0-9]/.test(label) || !/[a-zA-Z0-9]$/.test(label)) {
      return `label '${label}' must start and end with a letter or digit`;
    }
  }
  return 'does not match the DomainName pattern';
}

/**
 * Whether a normalised pattern matches a name: the readable statement of SEMANTICS.md section 5,
 * O(1) per pattern. `*.example.com` matches any name ending in `.example.com` with at least one
 * character before that suffix, so the apex never matches its own wildcard.
 */
export function patternMatchesName(pattern: string, name: string): boolean {
  const n = normalizeName(name);
  const p = normalizeName(pattern);
  if (!p.startsWith(WILDCARD_PREFIX)) return n === p;
  const suffix = p.slice(1); // ".example.com"
  return n.length > suffix.length && n.endsWith(suffix);
}
