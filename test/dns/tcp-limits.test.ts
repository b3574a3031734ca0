// TCP listener limits against a real proxy and a fast upstream on loopback: a client that never
// reads its answers cannot grow the proxy's memory (reading stops above the soft write-buffer
// limit, the connection closes above the hard one); a message started must finish within the
// frame timeout; a connection ends after its lifetime. Other clients keep being answered.
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { TcpServer, type TcpServerLimits } from '../../src/dns/server-tcp.js';
import type { QueryHandler } from '../../src/dns/query-handler.js';
import { tcpQueries, udpQuery } from './helpers/client.js';
import { startFixture, type Fixture } from './helpers/fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(config: Parameters<typeof startFixture>[0] = {}): Promise<Fixture> {
  const f = await startFixture(config);
  cleanups.push(() => f.close());
  // A fast upstream with large answers: 16 TXT strings of 250 bytes, echoing the question.
  f.upstream.set('big.test', {
    raw: (q) => {
      const query = dnsPacket.decode(q);
      return dnsPacket.encode({
        id: query.id,
        type: 'response',
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: query.questions,
        answers: [{ name: 'big.test', type: 'TXT', class: 'IN', ttl: 60, data: Array.from({ length: 16 }, () => 'x'.repeat(250)) }],
      });
    },
  });
  f.upstream.set('small.test', { a: ['192.0.2.1'] });
  return f;
}

const query = (name: string, id: number, type: dnsPacket.RecordType = 'A'): Buffer =>
  dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
const framed = (m: Buffer): Buffer => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The proxy's own listener (private to DnsProxy): the test asserts on what the server holds. */
function listenerOf(f: Fixture): TcpServer {
  return (f.proxy['tcpServers'] as TcpServer[])[0]!;
}

/** A second listener with explicit limits in front of the fixture's real query handler. */
async function listener(f: Fixture, limits: Partial<TcpServerLimits>): Promise<{ server: TcpServer; port: number }> {
  const handler = f.proxy['handler'] as QueryHandler;
  const server = new TcpServer('127.0.0.1', 0, handler, {
    idleMs: 10_000,
    maxConnections: 100,
    maxConnectionsPerClient: 50,
    maxInflightPerConnection: 128,
    ...limits,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { server, port };
}

async function connectTo(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  cleanups.push(() => void s.destroy());
  await new Promise((r) => s.once('connect', r));
  return s;
}

/** Wait until the proxy has nothing in flight and the upstream has seen no new query for a while. */
async function settle(f: Fixture, maxMs = 15_000): Promise<void> {
  let seen = -1;
  for (const end = Date.now() + maxMs; Date.now() < end; ) {
    await sleep(200);
    if (f.proxy.inFlight === 0 && f.upstream.received.length === seen) return;
    seen = f.upstream.received.length;
  }
}

const firstA = (reply: Buffer | undefined): unknown => {
  const a = reply === undefined ? undefined : dnsPacket.decode(reply).answers?.[0];
  return a?.type === 'A' ? a.data : undefined;
};

/** Other clients get answers over TCP (on `tcpPort`) and UDP (the proxy's port). */
async function othersAreAnswered(f: Fixture, tcpPort = f.port): Promise<void> {
  const replies = await tcpQueries(tcpPort, [query('small.test', 1), query('small.test', 2)], 2, 5000);
  expect(replies.map(firstA)).toEqual(['192.0.2.1', '192.0.2.1']);
  expect(firstA(await udpQuery(f.port, query('small.test', 3), 5000))).toBe('192.0.2.1');
}

const QUERIES = 8000;
// One answer with its prefix, as the proxy queues it.
const ANSWER_FRAME = 2 + 4000 + 200;

describe('TCP write back-pressure', () => {
  it('stops reading a client that never reads its answers: the proxy buffers at most soft limit + in-flight answers', async () => {
    const f = await fixture();
    const server = listenerOf(f);
    const slow = await connectTo(f.port);
    slow.pause();
    // 8000 pipelined queries for ~32 MB of answers: far more than the kernel buffers on both ends.
    const batch = Buffer.concat(Array.from({ length: 500 }, (_, i) => framed(query('big.test', i))));
    for (let i = 0; i < QUERIES / 500; i++) slow.write(batch);
    await settle(f);

    const cfg = f.proxy.config;
    const bound = cfg.tcpWriteBufferSoftBytes + cfg.tcpMaxInflightPerConnection * ANSWER_FRAME;
    expect(server.stats.peakWriteBufferBytes).toBeGreaterThan(cfg.tcpWriteBufferSoftBytes);
    expect(server.stats.peakWriteBufferBytes).toBeLessThanOrEqual(bound);
    expect(server.bufferedBytes).toBeLessThanOrEqual(bound);
    expect(server.stats.writePauses).toBeGreaterThan(0);
    // The proxy stopped taking queries from it: most of the 8000 never reached the upstream.
    expect(f.upstream.received.length).toBeLessThan(QUERIES / 2);
    expect(slow.destroyed).toBe(false);
    await othersAreAnswered(f);

    // The client catches up: reading resumes and every query is answered in the end.
    let got = 0;
    let buf = Buffer.alloc(0);
    slow.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        got++;
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    slow.resume();
    for (const end = Date.now() + 20_000; got < QUERIES && Date.now() < end; ) await sleep(100);
    expect(got).toBe(QUERIES);
  }, 60_000);

  it('closes a connection whose unread answers exceed the hard limit, and only that one', async () => {
    const f = await fixture();
    const soft = 16 * 1024;
    const hard = soft + 65537;
    const { server, port } = await listener(f, { writeBufferSoftBytes: soft, writeBufferHardBytes: hard });
    const slow = await connectTo(port);
    slow.pause();
    const closed = new Promise<void>((r) => slow.once('close', () => r()));
    const batch = Buffer.concat(Array.from({ length: 500 }, (_, i) => framed(query('big.test', i))));
    for (let i = 0; i < QUERIES / 500; i++) slow.write(batch);
    await Promise.race([closed, sleep(15_000)]);
    expect(slow.destroyed).toBe(true);
    expect(server.stats.writeBufferCloses).toBe(1);
    // Destroyed as soon as it went over: at most one answer beyond the hard limit was queued.
    expect(server.stats.peakWriteBufferBytes).toBeLessThanOrEqual(hard + ANSWER_FRAME);
    await settle(f);
    expect(server.stats.connections).toBe(0);
    await othersAreAnswered(f, port);
  }, 60_000);
});

/** Resolves with the time from now until the socket closes (or ends), or undefined after `maxMs`. */
function closesWithin(s: Socket, maxMs: number): Promise<number | undefined> {
  const start = Date.now();
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), maxMs);
    const done = (): void => {
      clearTimeout(t);
      resolve(Date.now() - start);
    };
    s.once('close', done);
    s.once('end', done);
  });
}

/** Counts framed answers arriving on `s`. */
function countAnswers(s: Socket): { readonly n: number } {
  const box = { n: 0 };
  let buf = Buffer.alloc(0);
  s.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      box.n++;
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
  });
  return box;
}

describe('TCP slow clients', () => {
  it('closes a connection whose started message does not complete within the frame timeout, though bytes keep coming', async () => {
    const f = await fixture();
    const { server, port } = await listener(f, { frameTimeoutMs: 300, idleMs: 10_000 });
    const s = await connectTo(port);
    const bytes = framed(query('small.test', 7));
    const closed = closesWithin(s, 4000);
    // One byte every 40 ms: never idle, and the whole message would take ~1.2 s.
    const dripper = setInterval(() => {
      if (!s.destroyed && s.bytesWritten < bytes.length) s.write(bytes.subarray(s.bytesWritten, s.bytesWritten + 1));
    }, 40);
    cleanups.push(() => clearInterval(dripper));
    const after = await closed;
    expect(after).toBeDefined();
    expect(after!).toBeGreaterThanOrEqual(250);
    expect(after!).toBeLessThan(1000);
    expect(server.stats.frameTimeouts).toBe(1);
    await othersAreAnswered(f, port);
  });

  it('keeps a connection whose messages each complete in time, however long it runs', async () => {
    const f = await fixture();
    const { server, port } = await listener(f, { frameTimeoutMs: 300 });
    const s = await connectTo(port);
    const answers = countAnswers(s);
    // Twelve queries, each split in two halves 100 ms apart: 1.2 s in all, every frame < 300 ms.
    for (let i = 0; i < 12; i++) {
      const b = framed(query('small.test', i));
      s.write(b.subarray(0, 5));
      await sleep(100);
      s.write(b.subarray(5));
    }
    for (const end = Date.now() + 3000; answers.n < 12 && Date.now() < end; ) await sleep(20);
    expect(answers.n).toBe(12);
    expect(s.destroyed).toBe(false);
    expect(server.stats.frameTimeouts).toBe(0);
  });

  it('answers a client that sends its queries and then its FIN (half-close), then closes', async () => {
    const f = await fixture();
    f.upstream.set('slow.test', { a: ['192.0.2.5'], delayMs: 100 });
    const s = await connectTo(f.port);
    const answers = countAnswers(s);
    const closed = closesWithin(s, 4000);
    s.end(Buffer.concat([framed(query('slow.test', 1)), framed(query('small.test', 2)), framed(query('slow.test', 3, 'AAAA'))]));
    expect(await closed).toBeDefined();
    expect(answers.n).toBe(3);
  });

  it('ends a busy connection after its lifetime, answering what it had read first', async () => {
    const f = await fixture();
    const { server, port } = await listener(f, { maxLifetimeMs: 500, idleMs: 10_000 });
    const s = await connectTo(port);
    const answers = countAnswers(s);
    const closed = closesWithin(s, 4000);
    let sent = 0;
    const sender = setInterval(() => {
      if (!s.destroyed && s.writable) s.write(framed(query('small.test', sent++)));
    }, 50);
    cleanups.push(() => clearInterval(sender));
    const after = await closed;
    clearInterval(sender);
    expect(after).toBeDefined();
    expect(after!).toBeGreaterThanOrEqual(450);
    expect(after!).toBeLessThan(1500);
    expect(server.stats.lifetimeCloses).toBe(1);
    // Queries read before the lifetime ran out were answered before the end.
    expect(answers.n).toBeGreaterThanOrEqual(5);
    expect(f.proxy.inFlight).toBe(0);
    await othersAreAnswered(f, port);
  });
});

describe('TCP answers the proxy decides itself', () => {
  // FORMERR (no question), NOTIMP (opcode 2) and REFUSED-at-limit replies come back synchronously
  // inside dispatch; one chunk of thousands of them must neither recurse nor go unanswered.
  const bare = (id: number): Buffer => Buffer.from([id >> 8, id & 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const notimp = (id: number): Buffer => {
    const q = query('small.test', id);
    q[2] = (q[2]! & 0x87) | (2 << 3);
    return q;
  };
  it.each([
    ['FORMERR', bare, 1],
    ['NOTIMP', notimp, 4],
  ] as const)('answers 6000 pipelined %s queries sent in one write, in order', async (_kind, make, rcode) => {
    const f = await fixture();
    const n = 6000;
    const stream = Buffer.concat(Array.from({ length: n }, (_, i) => framed(make(i))));
    const replies = await new Promise<Buffer[]>((resolve, reject) => {
      const s: Socket = connect(f.port, '127.0.0.1', () => s.write(stream));
      const got: Buffer[] = [];
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (got.length === n) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
      s.on('close', () => reject(new Error(`closed after ${got.length} replies`)));
    });
    expect(replies.map((r) => r.readUInt16BE(0))).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(new Set(replies.map((r) => r[3]! & 0x0f))).toEqual(new Set([rcode]));
    expect(await udpQuery(f.port, query('small.test', 1))).toBeDefined();
  });
});
