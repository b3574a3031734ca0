// A small authoritative DNS server for tests, on loopback, UDP and TCP on the same port. Each name
// has a behaviour: addresses, CNAME chains, NXDOMAIN, NODATA, SERVFAIL, truncation over UDP,
// delays, silence, and spoofed answers (wrong ID, wrong question, wrong source) sent before the
// genuine one. Every received query and every sent response is recorded.
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';

export interface NameRule {
  a?: string[];
  aaaa?: string[];
  /** Answer with a CNAME to this name, followed by the target's own records. */
  cname?: string;
  ttl?: number;
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED';
  /** Over UDP answer with TC=1 and no records; full answer over TCP. */
  truncateUdp?: boolean;
  delayMs?: number;
  /** Never answer. */
  drop?: boolean;
  /**
   * Send this forged answer (with `spoofA` addresses) first; the genuine one follows after
   * `delayMs` (min 30 ms). `id`: wrong ID; `question`: another name; `case`: the name received
   * with every letter's case flipped; `source`: right ID and question from another port.
   */
  spoof?: 'id' | 'question' | 'case' | 'source';
  spoofA?: string[];
  /** Send the whole answer over UDP whatever the client's size (as some servers and middleboxes do). */
  ignoreUdpSize?: boolean;
  /** Answer with raw bytes instead (malformed answers). Gets the query's ID patched in. */
  raw?: (query: Buffer) => Buffer;
}

export interface Received {
  transport: 'udp' | 'tcp';
  raw: Buffer;
  id: number;
  name: string;
  type: string;
  port: number;
}

export class TestUpstream {
  readonly zone = new Map<string, NameRule>();
  readonly received: Received[] = [];
  /** Responses sent, by transport/id (the bytes a client should see apart from the ID). */
  readonly sent: { transport: 'udp' | 'tcp'; raw: Buffer; name: string }[] = [];
  private udp!: Socket;
  private spoofer!: Socket;
  private tcp!: Server;
  private readonly conns = new Set<TcpSocket>();
  port = 0;
  host = '127.0.0.1';
  /** When true nothing is answered at all (a dead upstream). */
  dead = false;

  async start(host = '127.0.0.1', port = 0): Promise<this> {
    this.host = host;
    this.spoofer = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((r) => this.spoofer.bind(0, host, () => r()));
    // UDP and TCP on the same port; a port 0 pick may be taken for TCP, so pick again.
    for (let attempt = 0; ; attempt++) {
      this.udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      this.udp.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
      await new Promise<void>((r) => this.udp.bind(port, host, () => r()));
      this.port = this.udp.address().port;
      this.tcp = createServer((s) => this.onTcp(s));
      const ok = await new Promise<boolean>((resolve) => {
        this.tcp.once('error', () => resolve(false));
        this.tcp.listen(this.port, host, () => resolve(true));
      });
      if (ok) return this;
      this.udp.close();
      if (port !== 0 || attempt > 20) throw new Error(`cannot listen on ${host}:${this.port}`);
    }
  }

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  set(name: string, rule: NameRule): this {
    this.zone.set(name.toLowerCase(), rule);
    return this;
  }

  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.conns) c.destroy();
    this.udp.close();
    this.spoofer.close();
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }

  /** Build the genuine response for a query (exported for fuzz mutations). */
  respond(query: Packet, transport: 'udp' | 'tcp'): { packet: Packet; rule: NameRule | undefined } {
    const q = query.questions?.[0];
    const name = q?.name ?? '';
    const rule = this.zone.get(name.toLowerCase());
    const base: Packet = {
      id: query.id,
      type: 'response',
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: query.questions,
      answers: [],
      additionals: query.additionals?.filter((r) => r.type === 'OPT') ?? [],
    };
    // dns-packet encodes the rcode only as the low bits of `flags`.
    const rcode = { NXDOMAIN: 3, SERVFAIL: 2, REFUSED: 5 };
    if (rule === undefined) return { packet: { ...base, flags: (base.flags ?? 0) | rcode.NXDOMAIN }, rule };
    if (rule.rcode !== undefined) return { packet: { ...base, flags: (base.flags ?? 0) | rcode[rule.rcode] }, rule };
    if (rule.truncateUdp === true && transport === 'udp') {
      return { packet: { ...base, flags: (base.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE }, rule };
    }
    base.answers = this.records(name, q?.type ?? 'A', 0);
    return { packet: base, rule };
  }

  private records(name: string, type: string, depth: number): Answer[] {
    const rule = this.zone.get(name.toLowerCase());
    if (rule === undefined || depth > 10) return [];
    const ttl = rule.ttl ?? 300;
    if (rule.cname !== undefined) {
      return [{ name, type: 'CNAME', class: 'IN', ttl, data: rule.cname }, ...this.records(rule.cname, type, depth + 1)];
    }
    const out: Answer[] = [];
    if (type === 'A' || type === 'ANY') for (const ip of rule.a ?? []) out.push({ name, type: 'A', class: 'IN', ttl, data: ip });
    if (type === 'AAAA' || type === 'ANY') for (const ip of rule.aaaa ?? []) out.push({ name, type: 'AAAA', class: 'IN', ttl, data: ip });
    return out;
  }

  private handle(raw: Buffer, transport: 'udp' | 'tcp', port: number, send: (b: Buffer) => void, sendSpoofed: (b: Buffer) => void): void {
    let query: Packet;
    try {
      query = dnsPacket.decode(raw);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    this.received.push({ transport, raw: Buffer.from(raw), id: query.id ?? 0, name: q?.name ?? '', type: q?.type ?? '', port });
    if (this.dead) return;
    const { packet, rule } = this.respond(query, transport);
    if (rule?.drop === true) return;
    let genuine = rule?.raw !== undefined ? Buffer.from(rule.raw(raw)) : dnsPacket.encode(packet);
    // Honour the client's UDP size like a real server: 512 without EDNS, else the OPT's size.
    const opt = query.additionals?.find((r) => r.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const maxUdp = opt === undefined ? 512 : Math.max(512, opt.udpPayloadSize ?? 512);
    if (transport === 'udp' && genuine.length > maxUdp && rule?.ignoreUdpSize !== true) {
      genuine = dnsPacket.encode({ ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
    }
    genuine.writeUInt16BE(query.id ?? 0, 0);
    let delay = rule?.delayMs ?? 0;
    if (rule?.spoof !== undefined) {
      const forged: Packet = {
        ...packet,
        answers: (rule.spoofA ?? ['6.6.6.6']).map((ip) => ({ name: q?.name ?? '', type: 'A', class: 'IN', ttl: 300, data: ip }) as Answer),
      };
      if (rule.spoof === 'id') forged.id = ((query.id ?? 0) + 1) & 0xffff;
      if (rule.spoof === 'question' && forged.questions?.[0] !== undefined) {
        forged.questions = [{ ...forged.questions[0], name: `x${forged.questions[0].name}` }];
        forged.answers = forged.answers?.map((a) => ({ ...a, name: `x${a.name}` }) as Answer);
      }
      if (rule.spoof === 'case' && forged.questions?.[0] !== undefined) {
        const flipped = flipCase(forged.questions[0].name);
        forged.questions = [{ ...forged.questions[0], name: flipped }];
        forged.answers = forged.answers?.map((a) => ({ ...a, name: flipped }) as Answer);
      }
      const bytes = dnsPacket.encode(forged);
      if (rule.spoof === 'source' && transport === 'udp') sendSpoofed(bytes);
      else send(bytes);
      delay = Math.max(delay, 30);
    }
    const go = (): void => {
      this.sent.push({ transport, raw: genuine, name: q?.name ?? '' });
      send(genuine);
    };
    if (delay > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        go();
      }, delay);
      this.timers.add(t);
    } else go();
  }

  private onUdp(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    this.handle(
      msg,
      'udp',
      rinfo.port,
      (b) => this.udp.send(b, rinfo.port, rinfo.address),
      (b) => this.spoofer.send(b, rinfo.port, rinfo.address),
    );
  }

  private onTcp(socket: TcpSocket): void {
    this.conns.add(socket);
    socket.on('close', () => this.conns.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const send = (b: Buffer): void => {
          if (socket.destroyed) return;
          const out = Buffer.alloc(b.length + 2);
          out.writeUInt16BE(b.length, 0);
          b.copy(out, 2);
          socket.write(out);
        };
        this.handle(Buffer.from(msg), 'tcp', socket.remotePort ?? 0, send, send);
      }
    });
  }
}

/** Every ASCII letter in the other case: the same name to a case-insensitive comparison. */
export function flipCase(name: string): string {
  return name.replace(/[a-zA-Z]/g, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
}
