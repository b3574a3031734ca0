// IP addresses as (family, bigint) pairs: exact arithmetic for both families with one code path,
// which the CIDR logic and the compiler's prefix splitting build on.

export type IPFamily = 4 | 6;

export interface IPAddress {
  readonly family: IPFamily;
  /** The address as an unsigned integer of 32 (IPv4) or 128 (IPv6) bits. */
  readonly value: bigint;
}

export class InvalidAddressError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
  ) {
    super(`invalid IP address ${JSON.stringify(input)}: ${reason}`);
    this.name = 'InvalidAddressError';
  }
}

export function familyBits(family: IPFamily): number {
  return family === 4 ? 32 : 128;
}

function parseIPv4Value(input: string, whole: string): bigint {
  const parts = input.split('.');
  if (parts.length !== 4) throw new InvalidAddressError(whole, 'an IPv4 address has four dotted parts');
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are rejected: some parsers read them as octal, so they are ambiguous.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) throw new InvalidAddressError(whole, `bad IPv4 part ${JSON.stringify(part)}`);
    const n = Number(part);
    if (n > 255) throw new InvalidAddressError(whole, `IPv4 part ${n} is above 255`);
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseGroups(text: string, whole: string): bigint[] {
  if (text === '') return [];
  return text.split(':').map((g) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new InvalidAddressError(whole, `bad IPv6 group ${JSON.stringify(g)}`);
    return BigInt(parseInt(g, 16));
  });
}

function parseIPv6Value(input: string): bigint {
  let text = input;
  // A trailing dotted IPv4 part stands for the last two 16-bit groups: rewrite it as hex groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4Value(last, input);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new InvalidAddressError(input, "'::' may appear once");
  const head = parseGroups(halves[0] ?? '', input);
  let groups: bigint[];
  if (halves.length === 2) {
    const rest = parseGroups(halves[1] ?? '', input);
    const missing = 8 - head.length - rest.length;
    if (missing < 1) throw new InvalidAddressError(input, "'::' must stand for at least one group");
    groups = [...head, ...new Array<bigint>(missing).fill(0n), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) throw new InvalidAddressError(input, 'an IPv6 address has eight groups');
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** Parses an IPv4 or IPv6 literal (no zone, no brackets). Throws InvalidAddressError. */
export function parseIP(input: string): IPAddress {
  if (input.includes(':')) {
    if (input.includes('%')) throw new InvalidAddressError(input, 'zone identifiers are not accepted');
    return { family: 6, value: parseIPv6Value(input) };
  }
  return { family: 4, value: parseIPv4Value(input, input) };
}

/** parseIP that returns null instead of throwing: for "is this string an IP literal?". */
export function tryParseIP(input: string): IPAddress | null {
  try {
    return parseIP(input);
  } catch (err) {
    if (err instanceof InvalidAddressError) return null;
    throw err;
  }
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatIP(ip: IPAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The canonical text of an IP literal: the key every map of addresses uses. */
export function canonicalIP(input: string): string {
  return formatIP(parseIP(input));
}

export function sameIP(a: IPAddress, b: IPAddress): boolean {
  return a.family === b.family && a.value === b.value;
}
