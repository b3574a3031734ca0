// glibc's resolver (getent hosts) through a resolv.conf pointing at the proxy. The resolv.conf is
// bind-mounted in a private mount namespace of the child only (unshare -m), so the host's file is
// never touched. Needs root (port 53 and mount namespaces).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFixture, rules, type Fixture } from './helpers/fixture.js';

const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n!!! SKIPPING getent tests: they need root (port 53, unshare -m). CI=true runs them. !!!\n');

const run = promisify(execFile);
// A loopback address of its own so port 53 is free whatever else listens on the host.
const PROXY_IP = '127.0.53.1';

describe.skipIf(!needRoot)('getent hosts through the proxy', () => {
  let f: Fixture;
  let dir: string;

  beforeAll(async () => {
    f = await startFixture({ listen: [{ host: PROXY_IP, port: 53 }] });
    dir = mkdtempSync(join(tmpdir(), 'dnsgate-getent-'));
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${PROXY_IP}\noptions timeout:2 attempts:1\n`);
    // glibc talks to 127.0.53.1 from 127.0.0.1 (the lo route's preferred source).
    f.view.setPod(['127.0.0.1'], { pod: 'ns/getent', domainRules: rules('*.example.test'), egressIsolated: true });
  });
  afterAll(async () => {
    await f?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const getent = async (...args: string[]): Promise<{ code: number; out: string }> => {
    const script = `mount --bind ${join(dir, 'resolv.conf')} /etc/resolv.conf && exec getent "$@"`;
    try {
      const { stdout } = await run('unshare', ['-m', 'sh', '-c', script, 'sh', ...args], { timeout: 15_000 });
      return { code: 0, out: stdout };
    } catch (err) {
      const e = err as { code?: number; stdout?: string };
      return { code: e.code ?? -1, out: e.stdout ?? '' };
    }
  };

  it.each([
    ['hosts', 'app.example.test', ['2001:db8::7']],
    ['ahostsv4', 'app.example.test', ['192.0.2.7']],
    ['hosts', 'Mixed.Example.TEST', ['2001:db8::8']],
  ])('getent %s %s', async (db, name, expected) => {
    f.upstream.set('app.example.test', { a: ['192.0.2.7'], aaaa: ['2001:db8::7'] });
    f.upstream.set('mixed.example.test', { a: ['192.0.2.8'], aaaa: ['2001:db8::8'] });
    const { code, out } = await getent(db, name);
    expect(code).toBe(0);
    for (const ip of expected) expect(out).toContain(ip);
    // Learned for the pod that asked, before the answer came back.
    const learned = f.datapath.learnedOf('ns/getent').map((e) => e.ip);
    for (const ip of expected) expect(learned).toContain(ip);
  });

  it('a name the upstream does not know fails with exit code 2', async () => {
    const { code } = await getent('hosts', 'missing.example.test');
    expect(code).toBe(2);
  });

  it('the host resolv.conf is untouched', async () => {
    const { stdout } = await run('cat', ['/etc/resolv.conf']);
    expect(stdout).not.toContain(PROXY_IP);
  });
});
