// IP and CIDR parsing shared by validation and the loader. Strict forms only (no leading zeros in
// IPv4, no zones), like Go's netip which backs the CEL isCIDR()/isIP() functions.

export type IPFamily = 4 | 6;

export interface ParsedIP {
  family: IPFamily;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

export interface ParsedCIDR {
  family: IPFamily;
  prefix: number;
  /** The address with host bits cleared. */
  network: bigint;
}

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;

function parseIPv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseGroups(s: string): bigint[] | undefined {
  if (s === '') return [];
  const out: bigint[] = [];
  const parts = s.split(':');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] ?? '';
    if (i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (v4 === undefined) return undefined;
      out.push(v4 >> 16n, v4 & 0xffffn);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(BigInt(parseInt(p, 16)));
    }
  }
  return out;
}

function parseIPv6(s: string): bigint | undefined {
  const dbl = s.indexOf('::');
  let groups: bigint[];
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = parseGroups(s.slice(0, dbl));
    const tail = parseGroups(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...Array<bigint>(8 - head.length - tail.length).fill(0n), ...tail];
  } else {
    const all = parseGroups(s);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

export function parseIP(s: string): ParsedIP | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const v = parseIPv6(s);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIPv4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

export function bitsOf(family: IPFamily): number {
  return family === 4 ? 32 : 128;
}

export function parseCIDR(s: string): ParsedCIDR | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(len)) return undefined;
  const prefix = Number(len);
  const bits = bitsOf(ip.family);
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  return { family: ip.family, prefix, network: (ip.value >> hostBits) << hostBits };
}

export function cidrContainsIP(c: ParsedCIDR, ip: ParsedIP): boolean {
  if (c.family !== ip.family) return false;
  const hostBits = BigInt(bitsOf(c.family) - c.prefix);
  return ip.value >> hostBits === c.network >> hostBits;
}

/** True when `inner` lies inside `outer` and is strictly smaller (the NetworkPolicy `except` rule). */
export function cidrStrictlyInside(outer: ParsedCIDR, inner: ParsedCIDR): boolean {
  return (
    outer.family === inner.family &&
    inner.prefix > outer.prefix &&
    cidrContainsIP(outer, { family: inner.family, value: inner.network })
  );
}
