// Datagrams no ordinary client sends: the proxy must neither crash nor stop answering others.
import { execFileSync } from 'node:child_process';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { udpQuery } from './helpers/client.js';
import { startFixture, type Fixture } from './helpers/fixture.js';

const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n!!! SKIPPING raw-socket DNS tests: they need root (SOCK_RAW). CI=true runs them. !!!\n');

// A header-only query (FORMERR-able, answered synchronously) from UDP source port 0, sent on a raw
// socket because the kernel never picks port 0 for an ordinary one.
const RAW_PORT_ZERO = `
import socket, struct, sys
port = int(sys.argv[1])
payload = struct.pack('!HHHHHH', 0x1234, 0x0100, 0, 0, 0, 0)
udp = struct.pack('!HHHH', 0, port, 8 + len(payload), 0) + payload
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
for _ in range(3):
    s.sendto(udp, ('127.0.0.1', 0))
`;

describe.skipIf(!needRoot)('hostile UDP input', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture();
  });
  afterAll(async () => {
    await fx.close();
  });

  it('drops datagrams from source port 0 and keeps answering', async () => {
    execFileSync('python3', ['-c', RAW_PORT_ZERO, String(fx.port)]);
    await new Promise((r) => setTimeout(r, 100));
    const q = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.example.test' }] });
    const reply = await udpQuery(fx.port, Buffer.from(q));
    expect(reply).toBeDefined();
    expect(dnsPacket.decode(reply!).id).toBe(7);
  });
});
