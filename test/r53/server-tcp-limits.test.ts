// TCP clients that stall must not hold the emulator's sockets: a frame has to complete within the
// frame timeout (a trickle of bytes does not extend it) and a silent connection is closed when idle.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/r53/server.js';
import type { RunningEmulator } from '../../src/r53/server.js';
import { exampleFirewall, exampleZones } from './helpers.js';

let emulator: RunningEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ zones: exampleZones(), firewall: exampleFirewall(), tcpIdleMs: 600, tcpFrameTimeoutMs: 400 });
});
afterAll(async () => {
  await emulator?.close();
});

function open(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - started)));
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, closed }));
  });
}

describe('TCP connection limits', () => {
  it('closes a connection whose frame does not complete within the frame timeout, even while bytes trickle in', async () => {
    const before = emulator.counters.tcpFrameTimeouts;
    const { socket, closed } = await open(emulator.port);
    // Announce a 64 KB frame, then one byte every 100 ms: never idle, never complete.
    socket.write(Buffer.from([0xff, 0xff]));
    const drip = setInterval(() => socket.write(Buffer.from([0])), 100);
    try {
      const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
      expect(after).toBeGreaterThanOrEqual(350);
      expect(after).toBeLessThan(2000);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
    expect(emulator.counters.tcpFrameTimeouts).toBe(before + 1);
  });

  it('closes an idle connection after the idle timeout', async () => {
    const { socket, closed } = await open(emulator.port);
    try {
      const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
      expect(after).toBeGreaterThanOrEqual(550);
      expect(after).toBeLessThan(2000);
    } finally {
      socket.destroy();
    }
  });

  it('keeps a connection that completes frames in time, answering each', async () => {
    const { socket, closed } = await open(emulator.port);
    const query = Buffer.from('123401000001000000000000046576696c076578616d706c65036f72670000010001', 'hex');
    const framed = Buffer.concat([Buffer.from([0, query.length]), query]);
    let received = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    try {
      // Three queries, each split in two halves 150 ms apart: every frame finishes inside 400 ms
      // and the gaps stay under the idle timeout.
      for (let i = 0; i < 3; i++) {
        socket.write(framed.subarray(0, 5));
        await new Promise((r) => setTimeout(r, 150));
        socket.write(framed.subarray(5));
        await new Promise((r) => setTimeout(r, 150));
      }
      await expect.poll(() => countFrames(received)).toBe(3);
      expect(socket.destroyed).toBe(false);
    } finally {
      socket.destroy();
      await closed;
    }
  });
});

function countFrames(buf: Buffer): number {
  let n = 0;
  for (let at = 0; at + 2 <= buf.length; ) {
    const length = buf.readUInt16BE(at);
    if (at + 2 + length > buf.length) break;
    at += 2 + length;
    n++;
  }
  return n;
}
