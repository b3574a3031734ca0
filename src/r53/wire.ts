// Wire handling of one DNS message: decode the query, ask the engine, encode the response.
//
// As the VPC resolver does, the emulator never returns DNSSEC records (the zone format cannot hold
// them, so DS/DNSKEY/RRSIG questions get NODATA), never sets AD, and clears DO in its OPT record.
// UDP answers larger than the client's EDNS buffer (at most 1232 bytes, 512 without EDNS) are
// truncated to an empty answer with TC set, so the client retries over TCP.
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet } from 'dns-packet';
import { answerQuestion } from './engine.js';
import type { EngineAnswer } from './engine.js';
import type { FirewallConfig } from './firewall-model.js';
import { packetTypeName, qtypeNumber } from './qtypes.js';
import type { ResourceRecord, ZoneSet } from './zone-model.js';

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const EDNS_MAX_UDP = 1232;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_CD = 0x0010;

export interface HandledQuery {
  readonly response: Buffer;
  /** Present when the message was a well-formed single question that the engine answered. */
  readonly question?: { readonly name: string; readonly qtype: number; readonly qclass: string };
  readonly rcode: string;
  readonly result?: EngineAnswer;
}

function toPacketRecord(r: ResourceRecord): Answer {
  switch (r.type) {
    case 'A':
    case 'AAAA':
    case 'CNAME':
      return { type: r.type, name: r.name, ttl: r.ttl, class: 'IN', data: r.data };
    case 'TXT':
      return { type: 'TXT', name: r.name, ttl: r.ttl, class: 'IN', data: [...r.data] };
    case 'MX':
      return { type: 'MX', name: r.name, ttl: r.ttl, class: 'IN', data: { ...r.data } };
    case 'SOA':
      return { type: 'SOA', name: r.name, ttl: r.ttl, class: 'IN', data: { ...r.data } };
  }
}

function headerFlags(query: DecodedPacket, rcode: string, firewall: FirewallConfig, truncated: boolean): number {
  const s = firewall.settings;
  let flags = RCODES[rcode] ?? 2;
  if (query.flag_rd) flags |= FLAG_RD;
  if (query.flag_cd) flags |= FLAG_CD;
  if (s.recursionAvailable) flags |= FLAG_RA;
  if (s.authoritativeAnswer && (rcode === 'NOERROR' || rcode === 'NXDOMAIN')) flags |= FLAG_AA;
  if (truncated) flags |= FLAG_TC;
  return flags;
}

function bareError(buf: Buffer, rcode: number): Buffer | undefined {
  if (buf.length < 12) return undefined;
  const out = Buffer.alloc(12);
  buf.copy(out, 0, 0, 2);
  // QR set, opcode echoed, RD echoed.
  out[2] = 0x80 | (buf[2]! & 0x79);
  out[3] = rcode & 0x0f;
  return out;
}

export function handleMessage(
  buf: Buffer,
  zones: ZoneSet,
  firewall: FirewallConfig,
  transport: 'UDP' | 'TCP',
): HandledQuery | undefined {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(buf);
  } catch {
    const response = bareError(buf, RCODES.FORMERR!);
    return response ? { response, rcode: 'FORMERR' } : undefined;
  }
  if (query.flag_qr) return undefined;
  const opcode = (query as DecodedPacket & { opcode?: string }).opcode;
  if (opcode !== 'QUERY') {
    const response = bareError(buf, RCODES.NOTIMP!);
    return response ? { response, rcode: 'NOTIMP' } : undefined;
  }
  const questions = query.questions ?? [];
  const opt = (query.additionals ?? []).find((a): a is OptAnswer => a.type === 'OPT');
  const optOut: OptAnswer[] = opt
    ? [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_MAX_UDP, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    : [];
  const reply = (rcode: string, answers: Answer[], authorities: Answer[]): Buffer => {
    const packet: Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags: headerFlags(query, rcode, firewall, false),
      questions,
      answers,
      authorities,
      additionals: optOut,
    };
    const encoded = dnsPacket.encode(packet);
    if (transport === 'TCP') return encoded;
    const limit = opt ? Math.max(512, Math.min(opt.udpPayloadSize, EDNS_MAX_UDP)) : 512;
    if (encoded.length <= limit) return encoded;
    return dnsPacket.encode({ ...packet, flags: headerFlags(query, rcode, firewall, true), answers: [], authorities: [] });
  };

  const question = questions[0];
  if (questions.length !== 1 || !question) return { response: reply('FORMERR', [], []), rcode: 'FORMERR' };
  const qclass = question.class ?? 'IN';
  const qtype = qtypeNumber(question.type);
  if (qtype === undefined) return { response: reply('FORMERR', [], []), rcode: 'FORMERR' };
  const asked = { name: question.name, qtype, qclass };
  if (qclass !== 'IN') return { response: reply('REFUSED', [], []), rcode: 'REFUSED', question: asked };

  // Keep the question exactly as asked (case included) in the response.
  question.type = packetTypeName(qtype) as typeof question.type;
  const result = answerQuestion(zones, firewall, question.name, qtype);
  return {
    response: reply(result.rcode, result.answers.map(toPacketRecord), result.authorities.map(toPacketRecord)),
    rcode: result.rcode,
    question: asked,
    result,
  };
}
