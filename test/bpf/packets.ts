// Ethernet frames for BPF_PROG_TEST_RUN: IPv4/IPv6 with TCP, UDP, SCTP, ICMP/ICMPv6 (echo and
// errors that embed another packet), fragments and IPv6 extension headers. Checksums stay zero:
// the tc programs never read them.
import { addrBytes } from '../../src/datapath/ebpf/layout.js';

export type L4 =
  | { proto: 'tcp' | 'udp' | 'sctp'; sport: number; dport: number }
  | { proto: 'icmp'; type: number; code?: number; id?: number; inner?: Buffer }
  | { proto: 'raw'; number: number };

export interface PacketSpec {
  src: string;
  dst: string;
  l4: L4;
  /** IPv4: fragment offset in 8-byte units (non-zero = non-first fragment); IPv6: adds a fragment header. */
  fragOffset?: number;
  /** IPv6 only: prepend a hop-by-hop options header. */
  hopByHop?: boolean;
  /** Cut the frame to this many bytes (malformed packets). */
  truncate?: number;
}

const PROTO_NUM = { tcp: 6, udp: 17, sctp: 132 } as const;

function l4Bytes(l4: L4, v6: boolean): { proto: number; bytes: Buffer } {
  switch (l4.proto) {
    case 'tcp':
    case 'udp':
    case 'sctp': {
      const len = l4.proto === 'tcp' ? 20 : l4.proto === 'udp' ? 8 : 12;
      const b = Buffer.alloc(len + 8);
      b.writeUInt16BE(l4.sport, 0);
      b.writeUInt16BE(l4.dport, 2);
      if (l4.proto === 'tcp') b.writeUInt8(0x50, 12);
      if (l4.proto === 'udp') b.writeUInt16BE(b.length, 4);
      return { proto: PROTO_NUM[l4.proto], bytes: b };
    }
    case 'icmp': {
      const b = Buffer.alloc(8);
      b.writeUInt8(l4.type, 0);
      b.writeUInt8(l4.code ?? 0, 1);
      b.writeUInt16BE(l4.id ?? 0, 4);
      return { proto: v6 ? 58 : 1, bytes: l4.inner ? Buffer.concat([b, l4.inner]) : b };
    }
    case 'raw':
      return { proto: l4.number, bytes: Buffer.alloc(16) };
  }
}

/** The IP packet without the Ethernet header (what an ICMP error embeds). */
export function ipPacket(spec: PacketSpec): Buffer {
  const src = addrBytes(spec.src);
  const dst = addrBytes(spec.dst);
  if (src.length !== dst.length) throw new Error(`mixed families: ${spec.src} -> ${spec.dst}`);
  const v6 = src.length === 16;
  const { proto, bytes } = l4Bytes(spec.l4, v6);
  if (!v6) {
    const h = Buffer.alloc(20);
    h.writeUInt8(0x45, 0);
    h.writeUInt16BE(20 + bytes.length, 2);
    h.writeUInt16BE((spec.fragOffset ?? 0) & 0x1fff, 6);
    h.writeUInt8(64, 8);
    h.writeUInt8(proto, 9);
    h.set(src, 12);
    h.set(dst, 16);
    return Buffer.concat([h, bytes]);
  }
  const ext: Buffer[] = [];
  const chain: number[] = [];
  if (spec.hopByHop) chain.push(0);
  if (spec.fragOffset !== undefined) chain.push(44);
  chain.push(proto);
  for (let i = 0; i + 1 < chain.length; i++) {
    const e = Buffer.alloc(8);
    e.writeUInt8(chain[i + 1] ?? 0, 0);
    if (chain[i] === 44) e.writeUInt16BE(((spec.fragOffset ?? 0) << 3) & 0xfff8, 2);
    ext.push(e);
  }
  const payload = Buffer.concat([...ext, bytes]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payload.length, 4);
  h.writeUInt8(chain[0] ?? proto, 6);
  h.writeUInt8(64, 7);
  h.set(src, 8);
  h.set(dst, 24);
  return Buffer.concat([h, payload]);
}

export function frame(spec: PacketSpec): Buffer {
  const ip = ipPacket(spec);
  const eth = Buffer.alloc(14);
  eth.set([0x02, 0, 0, 0, 0, 2], 0);
  eth.set([0x02, 0, 0, 0, 0, 1], 6);
  eth.writeUInt16BE(ip.readUInt8(0) >> 4 === 6 ? 0x86dd : 0x0800, 12);
  const f = Buffer.concat([eth, ip]);
  return spec.truncate !== undefined ? f.subarray(0, spec.truncate) : f;
}

export function arpFrame(): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6);
  f.writeUInt16BE(0x0806, 12);
  return f;
}
