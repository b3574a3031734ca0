// The upstream TCP pool against a real TCP server on loopback that can stall: a connection on
// which a query times out with nothing received since is closed and not used again, so the next
// query reaches a recovered upstream; a connection that is merely slow for one name is kept.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { RandomSource } from '../../src/dns/random.js';
import { parseUpstream } from '../../src/dns/upstream-addr.js';
import { TcpUpstreamPool } from '../../src/dns/upstream-tcp.js';
import type { SendFailure } from '../../src/dns/upstream-udp.js';
import { readQuestion } from '../../src/dns/wire.js';
import { FrameReader, frame } from '../../src/dns/tcp-framing.js';

/**
 * Answers each query with the query itself turned into a response. Connections accepted while
 * `stall` is set read and never answer (for their whole life); `delay` holds answers per name.
 */
class StallingUpstream {
  stall = false;
  readonly delay = new Map<string, number>();
  accepted = 0;
  private readonly server: Server = createServer((s) => this.accept(s));
  private readonly conns = new Set<Socket>();
  port = 0;

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }

  private accept(s: Socket): void {
    this.accepted++;
    this.conns.add(s);
    s.on('close', () => this.conns.delete(s));
    s.on('error', () => {});
    const stalled = this.stall;
    const reader = new FrameReader();
    s.on('data', (chunk: Buffer) => {
      for (const msg of reader.push(chunk)) {
        if (stalled) continue;
        const resp = Buffer.from(msg);
        resp[2] = resp[2]! | 0x80;
        const name = dnsPacket.decode(msg).questions?.[0]?.name ?? '';
        setTimeout(() => s.destroyed || s.write(frame(resp)), this.delay.get(name) ?? 0);
      }
    });
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(connectionsPerUpstream = 4): Promise<{ upstream: StallingUpstream; pool: TcpUpstreamPool; ask: (name: string, timeoutMs: number) => Promise<SendFailure | 'ok'> }> {
  const upstream = await new StallingUpstream().start();
  cleanups.push(() => upstream.close());
  const pool = new TcpUpstreamPool({ connectionsPerUpstream, maxPendingPerConnection: 100, idleMs: 30_000, random: new RandomSource(), onDrop: () => {} });
  cleanups.push(() => pool.close());
  const addr = parseUpstream(`127.0.0.1:${upstream.port}`);
  const ask = (name: string, timeoutMs: number): Promise<SendFailure | 'ok'> =>
    new Promise((resolve) => {
      const query = dnsPacket.encode({ id: 1, type: 'query', questions: [{ name, type: 'A', class: 'IN' }] });
      pool.send(addr, query, readQuestion(query), timeoutMs, (resp, failure) => resolve(resp !== undefined ? 'ok' : failure!));
    });
  return { upstream, pool, ask };
}

describe('TCP upstream pool', () => {
  it('closes a connection that stalled and sends the next query on a new one once the upstream recovers', async () => {
    const { upstream, pool, ask } = await setup();
    upstream.stall = true;
    expect(await ask('a.test', 200)).toBe('timeout');
    expect(pool.stalls).toBe(1);
    expect(pool.connections).toBe(0);
    upstream.stall = false;
    expect(await ask('b.test', 500)).toBe('ok');
    expect(upstream.accepted).toBe(2);
  });

  it('fails the other queries of a stalled connection at once and keeps working for later ones', async () => {
    // One connection per upstream, so both queries share it.
    const { upstream, pool, ask } = await setup(1);
    upstream.stall = true;
    const first = ask('a.test', 200);
    await new Promise((r) => setTimeout(r, 50));
    const later = ask('b.test', 5000);
    expect(await first).toBe('timeout');
    // b.test was still far from its own timeout: it failed because its connection was closed.
    const t0 = Date.now();
    expect(await later).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1000);
    upstream.stall = false;
    expect(await Promise.all([ask('c.test', 500), ask('d.test', 500)])).toEqual(['ok', 'ok']);
    expect(pool.stalls).toBeGreaterThanOrEqual(1);
  });

  it('keeps a connection that is slow for one name while it answers others', async () => {
    // One connection per upstream, so both queries share it.
    const { upstream, pool, ask } = await setup(1);
    upstream.delay.set('slow.test', 600);
    const slow = ask('slow.test', 200);
    await new Promise((r) => setTimeout(r, 50));
    expect(await ask('fast.test', 500)).toBe('ok');
    expect(await slow).toBe('timeout');
    expect(pool.stalls).toBe(0);
    expect(pool.connections).toBe(1);
    expect(await ask('again.test', 500)).toBe('ok');
    expect(upstream.accepted).toBe(1);
  });
});
