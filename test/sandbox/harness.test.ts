// The namespace harness on the real kernel: pods reach the outside servers over TCP, UDP and ICMP
// on IPv4 and IPv6 with real clients, DNS from a pod reaches the upstream namespace, the cluster
// DNS address is bound nowhere until asked, and every teardown path (destroy, a throwing test, a
// failed build, SIGINT, and sweep after SIGKILL) leaves no namespace, link, route or file behind.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness, listLinks, listNetns, newPrefix, run, SandboxChildError, SandboxConflictError, sweep, withHarness, Zone } from '../../src/sandbox/index.js';
import type { HarnessOptions } from '../../src/sandbox/index.js';
import { needRoot } from './need-root.js';
import { podsState, ZONE } from './fixtures.js';

const STATE = podsState([
  { ns: 'moon', name: 'backend', ipv4: '10.244.80.10', ipv6: 'fd00:244::a' },
  { ns: 'moon', name: 'frontend', ipv4: '10.244.80.11', ipv6: 'fd00:244::b' },
  { ns: 'stars', name: 'v4only', ipv4: '10.244.81.5' },
  { ns: 'stars', name: 'on-host', ipv4: '10.0.1.10', hostNetwork: true },
]);

/** Nothing named with `prefix` anywhere: netns, root links, /etc/netns, and the given routes. */
async function leftovers(prefix: string, routes: readonly string[] = []): Promise<string[]> {
  const out = [...listNetns().filter((n) => n.startsWith(prefix)), ...listLinks().filter((l) => l.startsWith(prefix))];
  if (existsSync('/etc/netns')) {
    const { readdirSync } = await import('node:fs');
    out.push(...readdirSync('/etc/netns').filter((d) => d.startsWith(prefix)).map((d) => `/etc/netns/${d}`));
  }
  for (const ip of routes) {
    const r = await run(['ip', 'route', 'show', 'exact', ip.includes(':') ? `${ip}/128` : `${ip}/32`]);
    if (r.stdout.trim()) out.push(`route ${r.stdout.trim()}`);
  }
  return out;
}

describe('Zone (pure)', () => {
  const zone = new Zone(ZONE);
  it.each([
    ['myapp.mydomain.com', 'A', 'NOERROR', ['A 192.0.2.10']],
    ['MyApp.MyDomain.com.', 'AAAA', 'NOERROR', ['AAAA 2001:db8::10']],
    ['alias.mydomain.com', 'A', 'NOERROR', ['CNAME myapp.mydomain.com', 'A 192.0.2.10']],
    ['bucket.s3.us-east-1.amazonaws.com', 'A', 'NOERROR', ['A 198.51.100.7']],
    ['a.b.s3.us-east-1.amazonaws.com', 'A', 'NOERROR', ['A 198.51.100.7']],
    ['s3.us-east-1.amazonaws.com', 'A', 'NXDOMAIN', []],
    ['myapp.mydomain.com', 'TXT', 'NOERROR', []],
    ['nothing.mydomain.com', 'A', 'NXDOMAIN', []],
  ])('%s %s -> %s %j', (name, type, rcode, answers) => {
    const a = zone.answer(name, type);
    expect(a.rcode).toBe(rcode);
    expect(a.answers.map((x) => `${x.type} ${x.data}`)).toEqual(answers);
  });
  it('a CNAME loop ends in SERVFAIL, not a hang', () => {
    const loop = new Zone([{ name: 'a.x', type: 'CNAME', data: 'b.x' }, { name: 'b.x', type: 'CNAME', data: 'a.x' }]);
    expect(loop.answer('a.x', 'A').rcode).toBe('SERVFAIL');
  });
});

describe.skipIf(!needRoot)('harness (own node namespace)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.create({ state: STATE, upstream: { ipv4: '10.250.53.53', ipv6: 'fd00:250:53::53', records: ZONE } });
  });
  afterAll(async () => {
    const prefix = h?.prefix;
    await h?.destroy();
    if (prefix) expect(await leftovers(prefix)).toEqual([]);
  });

  it('builds one namespace per non-host-network pod, with its labels and addresses', () => {
    expect(h.pods.map((p) => [p.ref, p.ipv4, p.ipv6, p.labels])).toEqual([
      ['moon/backend', '10.244.80.10', 'fd00:244::a', { app: 'backend' }],
      ['moon/frontend', '10.244.80.11', 'fd00:244::b', { app: 'frontend' }],
      ['stars/v4only', '10.244.81.5', undefined, { app: 'v4only' }],
    ]);
    expect(h.outside.addresses.sort()).toEqual(['192.0.2.10', '198.51.100.7', '2001:db8::10', '203.0.113.99']);
  });

  // [what, pod, argv, expected stdout]
  it.each([
    ['ICMP v4 to outside', 'backend', ['ping', '-c1', '-W2', '192.0.2.10'], /1 received/],
    ['ICMP v6 to outside', 'backend', ['ping', '-c1', '-W2', '2001:db8::10'], /1 received/],
    ['ICMP v4 pod to pod', 'backend', ['ping', '-c1', '-W2', '10.244.81.5'], /1 received/],
    ['ICMP v6 pod to pod', 'frontend', ['ping', '-c1', '-W2', 'fd00:244::a'], /1 received/],
    ['HTTP v4 (curl)', 'backend', ['curl', '-sS', '-m3', 'http://192.0.2.10:8080/'], /^outside 192\.0\.2\.10 port 8080 from 10\.244\.80\.10$/],
    ['HTTP v6 (curl)', 'frontend', ['curl', '-sS', '-m3', 'http://[2001:db8::10]:443/'], /^outside 2001:db8::10 port 443 from fd00:244::b$/],
    ['HTTP v4 other server', 'v4only', ['curl', '-sS', '-m3', 'http://198.51.100.7/'], /^outside 198\.51\.100\.7 port 80 from 10\.244\.81\.5$/],
    ['TCP echo v4 (nc)', 'backend', ['sh', '-c', 'printf ping | nc -w2 -q1 203.0.113.99 8080'], /^ping$/],
    ['UDP echo v4 (nc)', 'backend', ['sh', '-c', 'printf dgram | nc -u -w1 192.0.2.10 7'], /^dgram$/],
    ['UDP echo v6 (nc)', 'frontend', ['sh', '-c', 'printf dgram6 | nc -u -w1 2001:db8::10 5300'], /^dgram6$/],
    ['DNS over UDP v4 (dig)', 'backend', ['dig', '+short', '@10.250.53.53', 'alias.mydomain.com', 'A'], /^myapp\.mydomain\.com\.\n192\.0\.2\.10$/],
    ['DNS over TCP v4 (dig)', 'backend', ['dig', '+short', '+tcp', '@10.250.53.53', 'bucket.s3.us-east-1.amazonaws.com'], /^198\.51\.100\.7$/],
    ['DNS over UDP v6 (dig)', 'frontend', ['dig', '+short', '@fd00:250:53::53', 'myapp.mydomain.com', 'AAAA'], /^2001:db8::10$/],
    ['DNS NXDOMAIN', 'backend', ['dig', '@10.250.53.53', 'nope.mydomain.com'], /status: NXDOMAIN/],
  ])('%s', async (_what, pod, argv, want) => {
    const r = await h.exec(pod, argv as string[]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(want);
  });

  it('gives each pod a resolv.conf pointing at the cluster DNS address, which is bound nowhere', async () => {
    const conf = await h.exec('backend', ['cat', '/etc/resolv.conf']);
    expect(conf.stdout).toContain('nameserver 10.96.0.10\n');
    expect(conf.stdout).toContain('search moon.svc.cluster.local svc.cluster.local cluster.local\n');
    expect((await h.exec('v4only', ['cat', '/etc/resolv.conf'])).stdout).toContain('search stars.svc.cluster.local');
    const unbound = await h.exec('backend', ['dig', '+time=1', '+tries=1', '@10.96.0.10', 'myapp.mydomain.com']);
    expect(unbound.code).not.toBe(0);
  });

  it('serves the cluster DNS address from the upstream on request: getent through resolv.conf', async () => {
    await h.serveClusterDnsFromUpstream();
    const r = await h.exec('backend', ['getent', 'ahostsv4', 'myapp.mydomain.com']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^192\.0\.2\.10\s+STREAM myapp\.mydomain\.com$/m);
    const tcp = await h.exec('frontend', ['dig', '+short', '+tcp', '@10.96.0.10', 'alias.mydomain.com']);
    expect(tcp.stdout.trim().split('\n').at(-1)).toBe('192.0.2.10');
  });

  it('changes answers with setZone', async () => {
    await h.setZone([{ name: 'myapp.mydomain.com', type: 'A', data: '203.0.113.99', ttl: 5 }]);
    const r = await h.exec('backend', ['dig', '@10.250.53.53', 'myapp.mydomain.com']);
    expect(r.stdout).toMatch(/^myapp\.mydomain\.com\.\s+5\s+IN\s+A\s+203\.0\.113\.99$/m);
    await h.setZone(ZONE);
  });

  it('kills a command that outlives its timeout', async () => {
    const r = await h.exec('backend', ['sleep', '5'], { timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.durationMs).toBeLessThan(2000);
  });

  it('runs commands in the node namespace, which routes each pod address to its veth', async () => {
    const r = await h.execNode(['ip', '-j', 'route', 'get', '10.244.80.11']);
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ dev: h.pod('moon/frontend').hostIf });
  });
});

describe.skipIf(!needRoot)('harness teardown', () => {
  const small = (prefix: string, extra: Partial<HarnessOptions> = {}): HarnessOptions => ({
    prefix,
    state: podsState([{ ns: 'a', name: 'p', ipv4: '10.244.90.2', ipv6: 'fd00:244::90:2' }]),
    upstream: { records: ZONE.slice(0, 2) },
    ...extra,
  });

  it('removes everything when the test body throws', async () => {
    const prefix = newPrefix();
    let built: string[] = [];
    await expect(
      withHarness(small(prefix), async (h) => {
        built = h.inventory().netns;
        expect(await leftovers(prefix)).not.toEqual([]);
        throw new Error('test failed on purpose');
      }),
    ).rejects.toThrow('test failed on purpose');
    expect(built).toHaveLength(4); // node, pod, dns, outside
    expect(await leftovers(prefix)).toEqual([]);
  });

  it('removes what it built when the build itself fails half-way', async () => {
    const prefix = newPrefix();
    // The same UDP port twice: the outside server cannot bind, after all namespaces exist.
    await expect(Harness.create(small(prefix, { outside: { udpPorts: [7, 7] } }))).rejects.toBeInstanceOf(SandboxChildError);
    expect(await leftovers(prefix)).toEqual([]);
  });

  const child = (prefix: string) => {
    const script = fileURLToPath(new URL('./hold-harness.ts', import.meta.url));
    const p = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(small(prefix))], { stdio: ['ignore', 'pipe', 'pipe'] });
    const built = new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes(`built ${prefix}`)) resolve();
      });
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
    });
    return { p, built };
  };

  it.each(['SIGINT', 'SIGTERM'] as const)('removes everything when the process gets %s', async (signal) => {
    const prefix = newPrefix();
    const { p, built } = child(prefix);
    await built;
    expect(listNetns().filter((n) => n.startsWith(prefix))).toHaveLength(4);
    const exited = once(p, 'exit');
    p.kill(signal);
    const [, sig] = await exited;
    expect(sig).toBe(signal);
    expect(await leftovers(prefix)).toEqual([]);
  });

  it('sweep removes the leftovers of a SIGKILLed run, and only those', async () => {
    const prefix = newPrefix();
    const other = await Harness.create(small(newPrefix(), { state: podsState([{ ns: 'b', name: 'q', ipv4: '10.244.91.2' }]) }));
    try {
      const { p, built } = child(prefix);
      await built;
      const exited = once(p, 'exit');
      p.kill('SIGKILL');
      await exited;
      expect((await leftovers(prefix)).length).toBeGreaterThan(0);
      const report = sweep(prefix);
      expect(report.netns).toHaveLength(4);
      expect(report.etcDirs).toEqual([`${prefix}-a-p`]);
      expect(report.killed.length).toBeGreaterThanOrEqual(2); // the DNS and outside servers
      expect(await leftovers(prefix)).toEqual([]);
      // The other harness is untouched and still works.
      const r = await other.exec('b/q', ['curl', '-sS', '-m3', 'http://192.0.2.10/']);
      expect(r.stdout.trim()).toBe('outside 192.0.2.10 port 80 from 10.244.91.2');
    } finally {
      await other.destroy();
    }
  });
});

describe.skipIf(!needRoot)('harness in the root namespace', () => {
  it('refuses to route an address the machine reaches directly, before touching anything', async () => {
    const prefix = newPrefix();
    await expect(
      Harness.create({ prefix, node: 'root', state: podsState([{ ns: 'a', name: 'p', ipv4: '127.0.0.9' }]) }),
    ).rejects.toBeInstanceOf(SandboxConflictError);
    expect(await leftovers(prefix)).toEqual([]);
  });

  it('builds on the host: pods reach outside servers through host routes; all removed after', async () => {
    const prefix = newPrefix();
    const sysctl = async (k: string) => (await run(['sysctl', '-n', k])).stdout.trim();
    const before = [await sysctl('net.ipv4.ip_forward'), await sysctl('net.ipv6.conf.all.forwarding')];
    const routes = ['10.252.7.2', '2001:db8:7::2', '10.252.53.1', '2001:db8:53::1', '203.0.113.77', '2001:db8:77::1'];
    await withHarness(
      {
        prefix,
        node: 'root',
        state: podsState([{ ns: 'a', name: 'p', ipv4: routes[0], ipv6: routes[1] }]),
        upstream: { ipv4: routes[2], ipv6: routes[3], records: [{ name: 'x.test', type: 'A', data: routes[4]! }, { name: 'x.test', type: 'AAAA', data: routes[5]! }] },
      },
      async (h) => {
        expect(h.nodeNetns).toBeUndefined();
        expect(listLinks().filter((l) => l.startsWith(prefix)).sort()).toEqual([`${prefix}d0`, `${prefix}o0`, `${prefix}p0`]);
        for (const url of ['http://203.0.113.77/', 'http://[2001:db8:77::1]/']) {
          const r = await h.exec('a/p', ['curl', '-sS', '-m3', url]);
          expect(r.stdout).toMatch(/^outside /);
        }
        const d = await h.exec('a/p', ['dig', '+short', `@${routes[3]}`, 'x.test', 'AAAA']);
        expect(d.stdout.trim()).toBe(routes[5]);
      },
    );
    expect(await leftovers(prefix, routes)).toEqual([]);
    expect([await sysctl('net.ipv4.ip_forward'), await sysctl('net.ipv6.conf.all.forwarding')]).toEqual(before);
  });
});

describe.skipIf(!needRoot)('harness with the Route 53 emulator as upstream', () => {
  it('serves the emulator in the upstream namespace; a pod resolves through it', async () => {
    const examples = fileURLToPath(new URL('../../examples/coexist/', import.meta.url));
    await withHarness(
      {
        state: podsState([{ ns: 'a', name: 'p', ipv4: '10.244.95.2' }]),
        upstream: { ipv4: '10.250.53.53', r53: { zoneFiles: [`${examples}zones.yaml`], firewallFile: `${examples}firewall.yaml` } },
        outside: { addresses: ['192.0.2.10'] },
      },
      async (h) => {
        const r = await h.exec('a/p', ['dig', '+short', '@10.250.53.53', 'api.partner.example.com', 'A']);
        expect(r.stdout.trim()).toBe('192.0.2.10');
        await expect(h.setZone([])).rejects.toThrow(/built-in server/);
      },
    );
  });
});
