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
 * Does `resp` (a response) carry exactly the question of `query`, byte for byte? `q` is the query's
 * parsed question. The upstream received these exact bytes and echoes them, so the name's letter
 * case must match too: a case-insensitive match would throw away what 0x20 randomisation adds to
 * the ID and port a forger has to guess.
 */
export function sameQuestion(query: Uint8Array, q: Question, resp: Uint8Array): boolean {
  if (resp.length < q.end || qdCount(resp) !== 1) return false;
  for (let i = HEADER_LEN; i < q.end; i++) if (query[i] !== resp[i]) return false;
  return true;
}

/**
 * Put the client's exact qname letter case into a response to the same question in another case
 * (a coalesced duplicate, see upstream-client.ts): the client's 0x20 check then passes.
 */
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
    const ttlAt = optTypeAt(query, opt) + 4;
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

/** Offset of the TYPE field of the record starting at `start` (just past its owner name). */
function optTypeAt(buf: Uint8Array, start: number): number {
  let at = start;
  for (;;) {
    const len = buf[at] ?? 0;
    if ((len & 0xc0) === 0xc0) return at + 2;
    at += 1 + len;
    if (len === 0) return at;
  }
}

/** Without EDNS a UDP message is at most 512 bytes (RFC 1035 4.2.1), and never less with it. */
export const MIN_UDP_SIZE = 512;

/**
 * Do two queries for the same name (up to case) ask the upstream the same thing? Everything but
 * the ID, the name's letter case and the OPT's UDP payload size must be equal: flags, counts,
 * type, class, EDNS version, DO, options, any further records or bytes. One may then be answered
 * with the other's response (ID and name case restored; a smaller UDP size is enforced by
 * truncation toward the client), and a hostile query can never lend its answer to a well-formed
 * one. Only called when a query for the same name is already in flight.
 */
export function sameVariant(a: Uint8Array, qa: Question, b: Uint8Array, qb: Question): boolean {
  if (a.length !== b.length || qa.end !== qb.end || qa.qtype !== qb.qtype || qa.qclass !== qb.qclass) return false;
  for (let i = 2; i < HEADER_LEN; i++) if (a[i] !== b[i]) return false;
  // The OPT is found by walking names, types and lengths, never the size field itself, so it
  // sits at the same offset in both when everything else is equal.
  const opt = findOpt(a, qa);
  const sizeAt = opt < 0 ? -1 : optTypeAt(a, opt) + 2;
  for (let i = qa.end; i < a.length; i++) if (a[i] !== b[i] && i !== sizeAt && i !== sizeAt + 1) return false;
  return true;
}

/**
 * The largest UDP reply the client of `query` accepts: 512 without OPT, else the OPT's payload
 * size, never below 512 (RFC 6891 6.2.5). A query whose question cannot be read gets 512.
 */
export function clientUdpSize(query: Uint8Array): number {
  let q: Question;
  try {
    q = readQuestion(query);
  } catch {
    return MIN_UDP_SIZE;
  }
  const opt = findOpt(query, q);
  if (opt < 0) return MIN_UDP_SIZE;
  return Math.max(MIN_UDP_SIZE, u16(query, optTypeAt(query, opt) + 2));
}

/**
 * `reply` cut down to what a UDP client with payload size `limit` can take (RFC 1035 4.2.1,
 * RFC 2181 9): the header with TC set and no records, the question, and the reply's OPT record
 * (extended rcode, version, DO) when there is one, its options dropped if they do not fit. The
 * client retries over TCP. A reply whose question cannot be read keeps only its header.
 */
export function truncateReply(reply: Uint8Array, limit: number): Buffer {
  let q: Question | undefined;
  try {
    q = readQuestion(reply);
  } catch {
    q = undefined;
  }
  const len = q === undefined ? HEADER_LEN : q.end;
  const opt = q === undefined ? -1 : findOpt(reply, q);
  let optLen = 0;
  let typeAt = 0;
  let rdLen = 0;
  if (opt >= 0) {
    typeAt = optTypeAt(reply, opt);
    rdLen = u16(reply, typeAt + 8);
    if (typeAt + 10 + rdLen > reply.length || len + 11 + rdLen > limit) rdLen = 0;
    optLen = 11 + rdLen;
  }
  const out = Buffer.alloc(len + optLen);
  out.set(reply.subarray(0, len));
  const flags = flagsOf(reply) | TC;
  out[2] = flags >>> 8;
  out[3] = flags & 0xff;
  out.writeUInt16BE(q === undefined ? 0 : 1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(optLen === 0 ? 0 : 1, 10);
  if (optLen > 0) {
    // The owner of an OPT is always the root; a compressed one is written out as such.
    out[len] = 0;
    out.set(reply.subarray(typeAt, typeAt + 8), len + 1);
    out.writeUInt16BE(rdLen, len + 9);
    out.set(reply.subarray(typeAt + 10, typeAt + 10 + rdLen), len + 11);
  }
  return out;
}
