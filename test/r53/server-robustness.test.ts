// A UDP datagram from source port 0 (which no reply can reach) must not take the emulator down.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/r53/server.js';
import type { RunningEmulator } from '../../src/r53/server.js';
import { dig, exampleFirewall, exampleZones } from './helpers.js';

const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n*** test/r53/server-robustness: raw-socket case SKIPPED (needs root for SOCK_RAW; CI=true forces it) ***\n');

const run = promisify(execFile);

// A header-only query (QDCOUNT 0) in a hand-built UDP header whose source port is 0, sent on a raw
// socket: the kernel delivers it to the emulator as if a client at port 0 had sent it.
const SEND_FROM_PORT_ZERO = `
import socket, struct, sys
port = int(sys.argv[1])
payload = struct.pack('!HHHHHH', 0x1234, 0x0100, 0, 0, 0, 0)
udp = struct.pack('!HHHH', 0, port, 8 + len(payload), 0) + payload
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
for _ in range(int(sys.argv[2])):
    s.sendto(udp, ('127.0.0.1', 0))
`;

let emulator: RunningEmulator;
const events: string[] = [];

beforeAll(async () => {
  emulator = await startEmulator({
    zones: exampleZones(),
    firewall: exampleFirewall(),
    onEvent: (line) => events.push(line),
  });
});
afterAll(async () => {
  await emulator?.close();
});

describe.runIf(needRoot)('UDP from source port 0', () => {
  it('is dropped and counted; the emulator keeps answering', async () => {
    const before = emulator.counters.udpDroppedPortZero;
    await run('python3', ['-c', SEND_FROM_PORT_ZERO, String(emulator.port), '3']);
    await expect.poll(() => emulator.counters.udpDroppedPortZero, { timeout: 2000 }).toBe(before + 3);
    expect(emulator.counters.sendErrors).toBe(0);
    expect(events.some((e) => e.includes('source port 0'))).toBe(true);
    for (const tcp of [false, true]) {
      const r = await dig(emulator, 'evil.example.org', 'A', { tcp });
      expect(r.status).toBe('NXDOMAIN');
    }
  });
});
