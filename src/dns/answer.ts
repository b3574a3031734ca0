// The only place a response is read beyond its header and question: when the pod has domain rules
// matching the query name, walk the answer section and collect the A/AAAA records reachable from
// the query name through CNAMEs in that same response, each with the lowest TTL along its chain.
// A chain the client could read differently (two targets for one name, a loop, more than
// MAX_CHAIN hops) makes the answer invalid: the pod gets SERVFAIL and nothing is learned.
import { DnsWireError } from './errors.js';
import { HEADER_LEN, MAX_NAME_WIRE, anCount, labelText, qdCount, u16 } from './wire.js';

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
/** Longer chains are invalid (SERVFAIL, nothing learned), like loops; resolvers stop well before. */
export const MAX_CHAIN = 16;

export interface LearnableAddress {
  /** Canonical text (dotted quad, RFC 5952 for IPv6). */
  readonly ip: string;
  /** Lowest TTL (seconds) along the chain from the query name to this record. */
  readonly ttl: number;
}

interface RR {
  readonly owner: string;
  readonly type: number;
  readonly ttl: number;
  /** CNAME target name, or the address text for A/AAAA. */
  readonly data: string;
}

/**
 * Addresses `qname` resolves to inside `resp`. `answerStart` is the offset after the question
 * (the caller already checked the question equals the query's). Throws DnsWireError when the
 * answer section is malformed: nothing is learned from a message that does not parse.
 */
export function learnableAddresses(resp: Uint8Array, answerStart: number, qname: string): LearnableAddress[] {
  if (qdCount(resp) !== 1) throw new DnsWireError('qdcount', 4, 'a response to learn from has exactly one question');
  const records = readAnswers(resp, answerStart);
  // The usual answer: address records of the query name itself, no CNAME. No chain to follow.
  if (!records.some((rr) => rr.type === TYPE_CNAME)) return direct(records, qname);
  const cname = new Map<string, RR>();
  for (const rr of records) {
    if (rr.type !== TYPE_CNAME) continue;
    const seen = cname.get(rr.owner);
    if (seen === undefined) cname.set(rr.owner, rr);
    // A name has at most one CNAME (RFC 2181 10.1); following one of two would release addresses
    // the client may reach through the other. A repeated identical record is harmless.
    else if (seen.data !== rr.data) throw new DnsWireError('answer.CNAME', answerStart, `two CNAME targets for ${rr.owner}`);
    else if (rr.ttl < seen.ttl) cname.set(rr.owner, rr);
  }

  // Names on the chain, each with the lowest CNAME TTL needed to reach it.
  const reach = new Map<string, number>([[qname, Number.POSITIVE_INFINITY]]);
  let cur = qname;
  let ttl = Number.POSITIVE_INFINITY;
  for (let hops = 0; ; hops++) {
    const link = cname.get(cur);
    if (link === undefined) break;
    if (reach.has(link.data)) throw new DnsWireError('answer.CNAME', answerStart, `CNAME loop at ${link.data}`);
    if (hops === MAX_CHAIN) throw new DnsWireError('answer.CNAME', answerStart, `CNAME chain longer than ${MAX_CHAIN}`);
    ttl = Math.min(ttl, link.ttl);
    cur = link.data;
    reach.set(cur, ttl);
  }

  const best = new Map<string, number>();
  for (const rr of records) {
    if (rr.type !== TYPE_A && rr.type !== TYPE_AAAA) continue;
    const chainTtl = reach.get(rr.owner);
    if (chainTtl === undefined) continue;
    const t = Math.min(chainTtl, rr.ttl);
    const prev = best.get(rr.data);
    if (prev === undefined || t > prev) best.set(rr.data, t);
  }
  return [...best].map(([ip, t]) => ({ ip, ttl: t }));
}

/** The addresses owned by `qname` itself, each once with its highest TTL (as the chain walk). */
function direct(records: readonly RR[], qname: string): LearnableAddress[] {
  const out: { ip: string; ttl: number }[] = [];
  for (const rr of records) {
    if (rr.owner !== qname) continue;
    const seen = out.find((a) => a.ip === rr.data);
    if (seen === undefined) out.push({ ip: rr.data, ttl: rr.ttl });
    else if (rr.ttl > seen.ttl) seen.ttl = rr.ttl;
  }
  return out;
}

function readAnswers(buf: Uint8Array, start: number): RR[] {
  const out: RR[] = [];
  // Owners are nearly always a pointer to the question name (offset 12): read that name once.
  let questionName: string | undefined;
  let at = start;
  const count = anCount(buf);
  // The authority and additional sections are only checked for structure: a message whose tail
  // does not parse is not trusted for its answers either.
  const total = count + u16(buf, 8) + u16(buf, 10);
  for (let i = 0; i < total; i++) {
    if (i >= count) {
      at = readName(buf, at).next + 10;
      if (at > buf.length) throw new DnsWireError('record', at, 'record header runs past the end');
      at += u16(buf, at - 2);
      if (at > buf.length) throw new DnsWireError('record', at, 'rdata runs past the end');
      continue;
    }
    let ownerName: string;
    if (buf[at] === 0xc0 && buf[at + 1] === HEADER_LEN && at > HEADER_LEN) {
      ownerName = questionName ??= readName(buf, HEADER_LEN).name;
      at += 2;
    } else {
      const owner = readName(buf, at);
      ownerName = owner.name;
      at = owner.next;
    }
    if (at + 10 > buf.length) throw new DnsWireError('answer', at, 'record header runs past the end');
    const type = u16(buf, at);
    const klass = u16(buf, at + 2);
    const rawTtl = ((buf[at + 4]! << 24) >>> 0) + (buf[at + 5]! << 16) + (buf[at + 6]! << 8) + buf[at + 7]!;
    // RFC 2181 section 8: a TTL with the top bit set means zero.
    const ttl = rawTtl > 0x7fffffff ? 0 : rawTtl;
    const rdlen = u16(buf, at + 8);
    const rdata = at + 10;
    at = rdata + rdlen;
    if (at > buf.length) throw new DnsWireError('answer', rdata, 'rdata runs past the end');
    if (klass !== CLASS_IN) continue;
    if (type === TYPE_A) {
      if (rdlen !== 4) throw new DnsWireError('answer.A', rdata, `rdlength ${rdlen}`);
      out.push({ owner: ownerName, type, ttl, data: `${buf[rdata]}.${buf[rdata + 1]}.${buf[rdata + 2]}.${buf[rdata + 3]}` });
    } else if (type === TYPE_AAAA) {
      if (rdlen !== 16) throw new DnsWireError('answer.AAAA', rdata, `rdlength ${rdlen}`);
      out.push({ owner: ownerName, type, ttl, data: ipv6Text(buf, rdata) });
    } else if (type === TYPE_CNAME) {
      const target = readName(buf, rdata);
      if (target.next !== at) throw new DnsWireError('answer.CNAME', rdata, 'target does not fill rdata');
      out.push({ owner: ownerName, type, ttl, data: target.name });
    }
  }
  return out;
}

/** A possibly compressed name, in the same presentation form as `Question.name`. */
export function readName(buf: Uint8Array, start: number): { name: string; next: number } {
  let at = start;
  let next = -1;
  let name = '';
  let wire = 1;
  // Every pointer must go strictly backwards, which bounds the walk and rules out loops.
  let limit = start;
  for (;;) {
    const len = buf[at];
    if (len === undefined) throw new DnsWireError('name', at, 'runs past the end');
    if (len === 0) {
      at++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      const b = buf[at + 1];
      if (b === undefined) throw new DnsWireError('name', at, 'pointer runs past the end');
      const target = ((len & 0x3f) << 8) | b;
      if (next < 0) next = at + 2;
      if (target >= limit || target < HEADER_LEN) throw new DnsWireError('name', at, 'pointer does not go backwards');
      limit = target;
      at = target;
      continue;
    }
    if (len > 63) throw new DnsWireError('name', at, 'extended label type');
    if (at + 1 + len > buf.length) throw new DnsWireError('name', at, 'label runs past the end');
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsWireError('name', at, 'longer than 255 bytes');
    if (name.length > 0) name += '.';
    name += labelText(buf, at + 1, at + 1 + len);
    at += 1 + len;
  }
  return { name, next: next < 0 ? at : next };
}

/** RFC 5952 text: lower-case hex, leading zeros dropped, the longest run (>= 2) of zero groups as `::`. */
export function ipv6Text(buf: Uint8Array, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(u16(buf, at + 2 * i));
  let bestStart = -1;
  let bestLen = 1;
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
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
