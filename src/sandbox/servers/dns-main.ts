// Child process: the upstream DNS namespace's authoritative test server (UDP and TCP port 53 on
// each configured address). argv[2] is a JSON file { records, addresses, port? }; it is re-read on
// SIGHUP so tests can change answers (TTLs, addresses) and add listen addresses while it runs.
// UDP sockets are bound per address: a wildcard socket would answer from the primary address,
// which resolvers reject as a spoofed reply.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIPv6, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { Zone, type ZoneRecord } from '../zone.js';

const file = process.argv[2];
if (!file) throw new Error('usage: dns-main <zone.json>');
interface Config {
  records: ZoneRecord[];
  addresses: string[];
  port?: number;
}
const load = (): Config => JSON.parse(readFileSync(file, 'utf8')) as Config;
let cfg = load();
let zone = new Zone(cfg.records);
const bound = new Set<string>();
process.on('SIGHUP', () => {
  cfg = load();
  zone = new Zone(cfg.records);
  void listenAll().then(() => process.stdout.write('reloaded\n'));
});

function respond(buf: Buffer): Buffer | undefined {
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(buf);
  } catch {
    return undefined;
  }
  const q = query.questions?.[0];
  const base = { id: query.id ?? 0, type: 'response' as const, questions: query.questions ?? [] };
  if (!q) return dnsPacket.encode({ ...base, flags: dnsPacket.AUTHORITATIVE_ANSWER | 1 /* FORMERR */ });
  const result = zone.answer(q.name, q.type);
  const rcode = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 }[result.rcode];
  const answers = result.answers.map((a) => ({ name: a.name, type: a.type, ttl: a.ttl, class: 'IN' as const, data: a.type === 'TXT' ? [a.data] : a.data }));
  const recursionDesired = (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
  return dnsPacket.encode({
    ...base,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE | recursionDesired | rcode,
    answers: answers as dnsPacket.Answer[],
  });
}

function onTcp(s: Socket): void {
  let acc = Buffer.alloc(0);
  s.on('error', () => {});
  s.on('data', (d: Buffer) => {
    acc = Buffer.concat([acc, d]);
    while (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) {
      const len = acc.readUInt16BE(0);
      const out = respond(acc.subarray(2, 2 + len));
      acc = acc.subarray(2 + len);
      if (out) {
        const head = Buffer.alloc(2);
        head.writeUInt16BE(out.length);
        s.write(Buffer.concat([head, out]));
      }
    }
  });
}

async function listenOn(address: string, port: number): Promise<void> {
  const sock = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
  sock.on('message', (msg, rinfo) => {
    const out = respond(msg);
    if (out) sock.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => resolve());
  });
  const tcp = createServer(onTcp);
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ port, host: address }, () => resolve());
  });
}

async function listenAll(): Promise<void> {
  for (const address of cfg.addresses) {
    if (bound.has(address)) continue;
    await listenOn(address, cfg.port ?? 53);
    bound.add(address);
  }
}

listenAll().then(
  () => process.stdout.write('ready\n'),
  (e: Error) => {
    process.stderr.write(`dns server: ${e.message}\n`);
    process.exit(1);
  },
);
