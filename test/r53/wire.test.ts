// Raw-socket checks of the server's message handling: garbage, unusual questions, TCP pipelining.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/r53/server.js';
import type { RunningEmulator } from '../../src/r53/server.js';
import { exampleFirewall, exampleZones } from './helpers.js';

let emulator: RunningEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ zones: exampleZones(), firewall: exampleFirewall(), port: 0 });
});
afterAll(async () => {
  await emulator?.close();
});

// dns-packet decodes rcode but its declarations omit it.
type Reply = DecodedPacket & { rcode: string };

function udpExchange(payload: Buffer, timeoutMs = 500): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(msg) as Reply);
    });
    s.send(payload, emulator.port, emulator.address);
  });
}

function query(id: number, questions: Packet['questions']): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions });
}

describe('message handling', () => {
  it('survives garbage and keeps answering', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 64 }), async (bytes) => {
        const reply = await udpExchange(Buffer.from(bytes), 50);
        if (reply) expect(reply.flag_qr).toBe(true);
      }),
      { numRuns: 40 },
    );
    const ok = await udpExchange(query(7, [{ type: 'A', name: 'www.example.com' }]));
    expect(ok?.id).toBe(7);
    expect(ok?.answers).toHaveLength(2);
  });

  const cases: Array<{ what: string; questions: Packet['questions']; rcode: string }> = [
    { what: 'two questions', questions: [{ type: 'A', name: 'a.example.com' }, { type: 'A', name: 'b.example.com' }], rcode: 'FORMERR' },
    { what: 'class CH', questions: [{ type: 'TXT', name: 'version.bind', class: 'CH' }], rcode: 'REFUSED' },
    // dns-packet spells unknown types UNKNOWN_<n>; the declared union does not list them.
    { what: 'unknown type TYPE65280 on an existing name', questions: [{ type: 'UNKNOWN_65280' as 'A', name: 'www.example.com' }], rcode: 'NOERROR' },
  ];
  it.each(cases)('$what -> $rcode', async ({ questions, rcode }) => {
    const reply = await udpExchange(query(9, questions));
    expect(reply?.rcode).toBe(rcode);
    expect(reply?.id).toBe(9);
  });

  it('keeps the question as asked (case) and answers case-insensitively', async () => {
    const reply = await udpExchange(query(11, [{ type: 'A', name: 'WwW.ExAmPlE.cOm' }]));
    expect(reply?.questions?.[0]?.name).toBe('WwW.ExAmPlE.cOm');
    expect(reply?.answers?.map((a) => (a as { data?: unknown }).data)).toEqual(['192.0.2.10', '192.0.2.11']);
  });

  it('answers pipelined TCP queries sent in one write, split across reads', async () => {
    const frames = [1, 2, 3].map((id) => dnsPacket.streamEncode({ type: 'query', id, questions: [{ type: 'A', name: id === 2 ? 'evil.example.org' : 'www.example.com' }] }));
    const all = Buffer.concat(frames);
    const replies = await new Promise<Reply[]>((resolve, reject) => {
      const got: Reply[] = [];
      let buf = Buffer.alloc(0);
      const sock = connect(emulator.port, emulator.address, () => {
        // One message split mid-length-prefix, the rest in one write.
        sock.write(all.subarray(0, 1));
        setTimeout(() => sock.write(all.subarray(1)), 20);
      });
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          got.push(dnsPacket.decode(buf.subarray(2, 2 + len)) as Reply);
          buf = buf.subarray(2 + len);
        }
        if (got.length === 3) {
          sock.end();
          resolve(got);
        }
      });
      sock.on('error', reject);
    });
    expect(replies.map((r) => [r.id, r.rcode])).toEqual([
      [1, 'NOERROR'],
      [2, 'NXDOMAIN'],
      [3, 'NOERROR'],
    ]);
  });
});
