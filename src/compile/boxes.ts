// The (protocol, port range, fqdn slot) condition of one rule entry, and the little algebra the
// list builder needs: coverage (for dropping dead entries) and subtraction (for expressing "this
// rule only where an earlier rule of the same policy did not match"). The evaluator knows four
// protocols, so "any protocol minus something" is spelled out as those four.
import { PROTO } from './types.js';

export interface Box {
  /** 0 = any protocol and any port (then lo = hi = 0). */
  readonly proto: number;
  /** 1..65535 for TCP/UDP/SCTP; 0..0 for ICMP and for proto 0. */
  readonly lo: number;
  readonly hi: number;
  /** 0 = static; else the entry also needs a live learned IP for this slot. */
  readonly slot: number;
}

export const ANY_BOX: Box = { proto: 0, lo: 0, hi: 0, slot: 0 };

export function icmpProto(family: 4 | 6): number {
  return family === 4 ? PROTO.icmp : PROTO.icmpv6;
}

function hasPorts(proto: number): boolean {
  return proto === PROTO.tcp || proto === PROTO.udp || proto === PROTO.sctp;
}

/** "any protocol" as the four the evaluator knows. */
function expandAny(a: Box, family: 4 | 6): Box[] {
  return [
    { proto: icmpProto(family), lo: 0, hi: 0, slot: a.slot },
    { proto: PROTO.tcp, lo: 1, hi: 65535, slot: a.slot },
    { proto: PROTO.udp, lo: 1, hi: 65535, slot: a.slot },
    { proto: PROTO.sctp, lo: 1, hi: 65535, slot: a.slot },
  ];
}

/** Whether every packet `inner` matches, `outer` matches too (outer's slot must be static or the same). */
export function boxCovers(outer: Box, inner: Box): boolean {
  if (outer.slot !== 0 && outer.slot !== inner.slot) return false;
  if (outer.proto === 0) return true;
  if (inner.proto === 0 || inner.proto !== outer.proto) return false;
  if (!hasPorts(outer.proto)) return true;
  return outer.lo <= inner.lo && inner.hi <= outer.hi;
}

/** Whether some packet matches both (slots ignored: the caller decides what a slot means). */
export function boxesOverlap(a: Box, b: Box): boolean {
  if (a.proto === 0 || b.proto === 0) return true;
  if (a.proto !== b.proto) return false;
  if (!hasPorts(a.proto)) return true;
  return a.lo <= b.hi && b.lo <= a.hi;
}

/** `a` minus the static box `b` (b.slot must be 0), keeping a's slot. */
export function subtractBox(a: Box, b: Box, family: 4 | 6): Box[] {
  if (!boxesOverlap(a, b)) return [a];
  if (b.proto === 0) return [];
  if (a.proto === 0) return expandAny(a, family).flatMap((x) => subtractBox(x, b, family));
  if (!hasPorts(a.proto)) return [];
  const out: Box[] = [];
  if (a.lo < b.lo) out.push({ ...a, hi: b.lo - 1 });
  if (b.hi < a.hi) out.push({ ...a, lo: b.hi + 1 });
  return out;
}

export function subtractAll(boxes: readonly Box[], minus: readonly Box[], family: 4 | 6): Box[] {
  let cur = [...boxes];
  for (const m of minus) cur = cur.flatMap((a) => subtractBox(a, m, family));
  return cur;
}
