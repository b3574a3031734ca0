// What the proxy's servers count reaches /metrics, and the TCP limits of the config reach the
// servers: each case triggers one behaviour through a real client and reads the exposition text.
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { udpQuery } from './helpers/client.js';
import { startFixture, type Fixture } from './helpers/fixture.js';

const query = (name: string, id = 7): Buffer =>
  dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] });

async function sample(f: Fixture, metric: string): Promise<number> {
  const text = await f.proxy.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(metric + ' ') || l.startsWith(metric.replace(/}$/, '') + '}'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Opens a TCP connection, writes `bytes`, resolves with the ms until the proxy closed it. */
function closedAfter(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    s.on('error', reject);
    s.on('close', () => resolve(Date.now() - started));
    s.resume();
  });
}

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('proxy metrics and limits wiring', () => {
  it('a reply larger than 512 bytes to a client without EDNS is counted as truncated', async () => {
    f = await startFixture();
    // The upstream ignores the 512-byte limit, so only the proxy can cut the reply.
    f.upstream.set('big.example.test', { a: Array.from({ length: 60 }, (_, i) => `198.51.100.${i}`), ignoreUdpSize: true });
    const before = await sample(f, 'dnsgate_dns_truncated_replies_total{transport="udp"}');
    const reply = await udpQuery(f.port, query('big.example.test'));
    expect(dnsPacket.decode(reply!).flag_tc).toBe(true);
    expect(await sample(f, 'dnsgate_dns_truncated_replies_total{transport="udp"}')).toBe(before + 1);
  });

  it('an identical query waiting for one in flight is counted as coalesced', async () => {
    f = await startFixture();
    f.upstream.set('same.example.test', { a: ['192.0.2.7'], delayMs: 150 });
    const replies = await Promise.all([udpQuery(f.port, query('same.example.test', 1)), udpQuery(f.port, query('same.example.test', 2))]);
    expect(replies.map((r) => dnsPacket.decode(r!).id)).toEqual([1, 2]);
    expect(await sample(f, 'dnsgate_dns_coalesced_total{transport="udp"}')).toBe(1);
    expect(f.upstream.received.filter((r) => r.name === 'same.example.test')).toHaveLength(1);
  });

  it.each([
    // Half a length prefix never completes: the configured frame deadline (not the 5 s default) closes it.
    ['frame_timeout', { tcpFrameTimeoutMs: 150, tcpIdleMs: 60_000 }, Buffer.from([0])],
    // A declared length below a DNS header is not a message.
    ['bad_frame', {}, Buffer.from([0, 3, 1, 2, 3])],
  ] as const)('a TCP connection closed for %s is counted under that reason', async (reason, config, bytes) => {
    f = await startFixture(config);
    const ms = await closedAfter(f.port, bytes);
    expect(ms).toBeLessThan(2000);
    expect(await sample(f, `dnsgate_dns_tcp_closes_total{reason="${reason}"}`)).toBe(1);
  });

  it('upstream TCP stalls start at zero', async () => {
    f = await startFixture();
    const text = await f.proxy.metrics.registry.metrics();
    expect(text).toMatch(/^dnsgate_dns_upstream_tcp_stalls_total 0$/m);
  });
});
