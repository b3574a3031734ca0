// Query types by name and number. Route 53 writes unknown types as TYPE<N> (RFC 3597); dns-packet
// decodes them as UNKNOWN_<N>. Both spellings are accepted and normalised to the number.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// dns-packet ships its type table without declarations; only these two functions are used.
const packetTypes = require('dns-packet/types.js') as { toType(name: string): number; toString(type: number): string };

const EXTRA: Record<string, number> = { SVCB: 64, HTTPS: 65, SPF: 99, ANY: 255 };

export function qtypeNumber(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 && value < 65536 ? value : undefined;
  const upper = value.trim().toUpperCase();
  const generic = /^(?:TYPE|UNKNOWN_)(\d{1,5})$/.exec(upper);
  if (generic) return qtypeNumber(Number(generic[1]));
  const extra = EXTRA[upper];
  if (extra !== undefined) return extra;
  const n = packetTypes.toType(upper);
  return n > 0 ? n : undefined;
}

export function qtypeName(type: number): string {
  for (const [name, num] of Object.entries(EXTRA)) if (num === type) return name;
  const s = packetTypes.toString(type);
  return s.startsWith('UNKNOWN_') ? `TYPE${type}` : s;
}

/** The spelling dns-packet encodes for a type number. */
export function packetTypeName(type: number): string {
  return packetTypes.toString(type);
}
