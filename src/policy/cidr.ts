// CIDR prefixes and ipBlock (CIDR minus except) logic. Exact bigint arithmetic so the compiler can
// reuse the same functions to split "CIDR minus excepts" into the prefixes an LPM map holds.
import { type IPAddress, type IPFamily, InvalidAddressError, familyBits, formatIP, parseIP } from './ip.js';

export interface Cidr {
  readonly family: IPFamily;
  /** Network address, host bits cleared. */
  readonly base: bigint;
  readonly prefixLength: number;
}

export class InvalidCidrError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid CIDR ${JSON.stringify(input)}: ${reason}`);
    this.name = 'InvalidCidrError';
  }
}

function hostMask(family: IPFamily, prefixLength: number): bigint {
  return (1n << BigInt(familyBits(family) - prefixLength)) - 1n;
}

/** A CIDR from its parts; host bits are cleared, as Go's net.ParseCIDR does for the network. */
export function makeCidr(family: IPFamily, value: bigint, prefixLength: number): Cidr {
  return { family, base: value & ~hostMask(family, prefixLength), prefixLength };
}

/** Parses "addr/len". Host bits set in addr are cleared (the API server accepts such values). */
export function parseCidr(input: string): Cidr {
  const slash = input.indexOf('/');
  if (slash < 0) throw new InvalidCidrError(input, 'missing "/prefix-length"');
  let ip: IPAddress;
  try {
    ip = parseIP(input.slice(0, slash));
  } catch (err) {
    if (err instanceof InvalidAddressError) throw new InvalidCidrError(input, err.reason);
    throw err;
  }
  const lenText = input.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) throw new InvalidCidrError(input, 'bad prefix length');
  const len = Number(lenText);
  if (len > familyBits(ip.family)) throw new InvalidCidrError(input, `prefix length above ${familyBits(ip.family)}`);
  return makeCidr(ip.family, ip.value, len);
}

export function formatCidr(c: Cidr): string {
  return `${formatIP({ family: c.family, value: c.base })}/${c.prefixLength}`;
}

/** The host prefix (/32 or /128) of one address. */
export function hostCidr(ip: IPAddress): Cidr {
  return { family: ip.family, base: ip.value, prefixLength: familyBits(ip.family) };
}

/** Families never mix: an IPv4 CIDR contains no IPv6 address and vice versa. */
export function cidrContainsIP(c: Cidr, ip: IPAddress): boolean {
  return c.family === ip.family && (ip.value & ~hostMask(c.family, c.prefixLength)) === c.base;
}

export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    outer.prefixLength <= inner.prefixLength &&
    (inner.base & ~hostMask(outer.family, outer.prefixLength)) === outer.base
  );
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContainsCidr(a, b) || cidrContainsCidr(b, a);
}

/** First and last address of a prefix. */
export function cidrRange(c: Cidr): { first: bigint; last: bigint } {
  return { first: c.base, last: c.base | hostMask(c.family, c.prefixLength) };
}

/** The two halves of a prefix one bit longer; a host prefix has none. */
export function splitCidr(c: Cidr): [Cidr, Cidr] | null {
  const bits = familyBits(c.family);
  if (c.prefixLength >= bits) return null;
  const len = c.prefixLength + 1;
  const bit = 1n << BigInt(bits - len);
  return [
    { family: c.family, base: c.base, prefixLength: len },
    { family: c.family, base: c.base | bit, prefixLength: len },
  ];
}

/**
 * `cidr` minus every prefix in `excepts`, as a minimal list of disjoint prefixes in address order.
 * Excepts of the other family or outside `cidr` remove nothing.
 */
export function subtractCidrs(cidr: Cidr, excepts: readonly Cidr[]): Cidr[] {
  const relevant = excepts.filter((e) => cidrsOverlap(cidr, e));
  const out: Cidr[] = [];
  const walk = (c: Cidr): void => {
    if (relevant.some((e) => cidrContainsCidr(e, c))) return;
    if (!relevant.some((e) => cidrContainsCidr(c, e))) {
      out.push(c);
      return;
    }
    // Some except lies strictly inside c: recurse into both halves (c cannot be a host prefix here).
    const halves = splitCidr(c);
    if (halves) {
      walk(halves[0]);
      walk(halves[1]);
    }
  };
  walk(cidr);
  return out;
}

/** A NetworkPolicy ipBlock: an address matches if it is in `cidr` and in none of `except`. */
export interface IPBlockModel {
  readonly cidr: Cidr;
  readonly except: readonly Cidr[];
}

export function ipBlockContains(block: IPBlockModel, ip: IPAddress): boolean {
  return cidrContainsIP(block.cidr, ip) && !block.except.some((e) => cidrContainsIP(e, ip));
}
