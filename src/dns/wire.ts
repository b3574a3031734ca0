// Cheap reading of the parts of a DNS message the proxy needs on every query: the header and the
// single question. Nothing here decodes the whole message; answers are only walked by answer.ts
// when something must be learned.
import { DnsWireError } from './errors.js';

export const HEADER_LEN = 12;
export const MAX_NAME_WIRE = 255;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const QR = 0x8000;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const CD = 0x0010;

export interface Question {
  /** Offset just past the question (qname, qtype, qclass); always > HEADER_LEN. */
  readonly end: number;
  /** Offset just past the qname's terminating zero byte. */
  readonly nameEnd: number;
  readonly qtype: number;
  readonly qclass: number;
  /**
   * Presentation form, lower case, no trailing dot (`''` for the root). Bytes that cannot occur
   * in a hostname (a dot inside a label, spaces, non-ASCII) are escaped `\DDD`, so such a name can
   * never equal a valid pattern and never collides with a different wire name.
   */
  readonly name: string;
}

export function messageId(buf: Uint8Array): number {
  return ((buf[0] ?? 0) << 8) | (buf[1] ?? 0);
}

export function setMessageId(buf: Uint8Array, id: number): void {
  buf[0] = (id >>> 8) & 0xff;
  buf[1] = id & 0xff;
}

export function flagsOf(buf: Uint8Array): number {
  return ((buf[2] ?? 0) << 8) | (buf[3] ?? 0);
}

export const isResponse = (buf: Uint8Array): boolean => (flagsOf(buf) & QR) !== 0;
export const isTruncated = (buf: Uint8Array): boolean => (flagsOf(buf) & TC) !== 0;
export const opcodeOf = (buf: Uint8Array): number => (flagsOf(buf) >>> 11) & 0xf;
export const rcodeOf = (buf: Uint8Array): number => flagsOf(buf) & 0xf;
export const qdCount = (buf: Uint8Array): number => u16(buf, 4);
export const anCount = (buf: Uint8Array): number => u16(buf, 6);

export function u16(buf: Uint8Array, at: number): number {
  return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0);
}

/**
 * Read the question of a message that has exactly one (the only shape the proxy forwards).
 * Throws DnsWireError for anything else; compression is not allowed in the first name.
 */
export function readQuestion(buf: Uint8Array): Question {
  if (buf.length < HEADER_LEN) throw new DnsWireError('header', 0, 'shorter than 12 bytes');
  const qd = qdCount(buf);
  if (qd !== 1) throw new DnsWireError('qdcount', 4, `expected 1 question, got ${qd}`);
  let at = HEADER_LEN;
  let name = '';
  for (;;) {
    const len = buf[at];
    if (len === undefined) throw new DnsWireError('qname', at, 'runs past the end');
    if (len === 0) {
      at++;
      break;
    }
    if (len > 63) throw new DnsWireError('qname', at, 'compressed or extended label');
    const end = at + 1 + len;
    if (end > buf.length) throw new DnsWireError('qname', at, 'label runs past the end');
    if (end - HEADER_LEN + 1 > MAX_NAME_WIRE) throw new DnsWireError('qname', at, 'longer than 255 bytes');
    if (name.length > 0) name += '.';
    name += labelText(buf, at + 1, end);
    at = end;
  }
  if (at + 4 > buf.length) throw new DnsWireError('qtype', at, 'question runs past the end');
  return { end: at + 4, nameEnd: at, qtype: u16(buf, at), qclass: u16(buf, at + 2), name };
}

/** One label in presentation form, lower-cased, hostname-hostile bytes escaped. */
export function labelText(buf: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    let c = buf[i] ?? 0;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    const plain =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    s += plain ? String.fromCharCode(c) : `\\${c.toString().padStart(3, '0')}`;
  }
  return s;
}

/**
 * Does `resp` (a response) carry the same question as `query`, comparing the name without
 * regard to ASCII case? `q` is the query's parsed question.
 */
export function sameQuestion(query: Uint8Array, q: Question, resp: Uint8Array): boolean {
  if (resp.length < q.end || qdCount(resp) !== 1) return false;
  for (let i = HEADER_LEN; i < q.end; i++) {
    let a = query[i] ?? 0;
    let b = resp[i] ?? 0;
    if (a === b) continue;
    // Only name bytes may differ, and only by ASCII case (labels lengths are bytes < 64, so
    // they never look like letters and cannot be confused with them).
    if (i >= q.nameEnd) return false;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b || a < 0x61 || a > 0x7a) return false;
  }
  return true;
}

/** Put the client's exact qname letter case back into the response (0x20 preservation). */
export function copyQuestionName(query: Uint8Array, q: Question, resp: Uint8Array): void {
  for (let i = HEADER_LEN; i < q.nameEnd; i++) resp[i] = query[i] ?? 0;
}

const TYPE_OPT = 41;
/** The UDP payload size the proxy advertises in its own replies (the DNS Flag Day 2020 value). */
export const REPLY_UDP_SIZE = 1232;

/**
 * Offset of the query's OPT pseudo-record (RFC 6891) after the question, or -1 when there is none
 * or the records do not parse (the reply then simply carries no OPT).
 */
export function findOpt(buf: Uint8Array, q: Question): number {
  let at = q.end;
  const records = u16(buf, 6) + u16(buf, 8) + u16(buf, 10);
  for (let i = 0; i < records; i++) {
    const start = at;
    for (;;) {
      const len = buf[at];
      if (len === undefined) return -1;
      if ((len & 0xc0) === 0xc0) {
        at += 2;
        break;
      }
      at += 1 + len;
      if (len === 0) break;
    }
    if (at + 10 > buf.length) return -1;
    if (u16(buf, at) === TYPE_OPT) return start;
    at += 10 + u16(buf, at + 8);
  }
  return -1;
}

/**
 * A response to `query` made by the proxy itself (FORMERR, SERVFAIL, REFUSED, NXDOMAIN, NOTIMP):
 * the header with the query's ID, opcode, RD and CD, plus the question when it could be read, plus
 * an OPT record (RFC 6891 section 7: answer EDNS with EDNS) when the query had one.
 */
export function makeReply(query: Uint8Array, q: Question | undefined, rcode: number): Buffer {
  const len = q === undefined ? HEADER_LEN : q.end;
  const opt = q === undefined ? -1 : findOpt(query, q);
  const out = Buffer.alloc(len + (opt < 0 ? 0 : 11));
  out.set(query.subarray(0, len));
  const flags = flagsOf(query);
  const keep = flags & (0x7800 | RD | CD);
  const outFlags = QR | keep | RA | (rcode & 0xf);
  out[2] = outFlags >>> 8;
  out[3] = outFlags & 0xff;
  out.writeUInt16BE(q === undefined ? 0 : 1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(opt < 0 ? 0 : 1, 10);
  if (opt >= 0) {
    // Root name, type OPT, our UDP size, extended rcode 0, version 0, the query's DO bit, no options.
    let nameEnd = opt;
    while ((query[nameEnd] ?? 0) !== 0 && ((query[nameEnd] ?? 0) & 0xc0) !== 0xc0) nameEnd += 1 + (query[nameEnd] ?? 0);
    const ttlAt = nameEnd + ((query[nameEnd] ?? 0) === 0 ? 1 : 2) + 4;
    out[len] = 0;
    out.writeUInt16BE(TYPE_OPT, len + 1);
    out.writeUInt16BE(REPLY_UDP_SIZE, len + 3);
    out[len + 5] = 0;
    out[len + 6] = 0;
    out[len + 7] = (query[ttlAt + 2] ?? 0) & 0x80;
    out[len + 8] = 0;
    out.writeUInt16BE(0, len + 9);
  }
  return out;
}
