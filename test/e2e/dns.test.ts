// The DNS side of enforcement on a real node (test/e2e/fixtures/dns.yaml, standard mode): learning
// is per pod and per query name (subdomains yes, apex and other names no; a CNAME chain counts for
// the name asked, not for its target), works over UDP and TCP and for AAAA answers over IPv6, and
// has no first-connection race: 1000 resolve-then-connect rounds, each to an IP never seen before,
// with 0 failures. Everything runs twice: the agent reading the manifest files, and reading the
// Kubernetes API stand-in holding the same objects; both must give the same results.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZoneRecord } from '../../src/sandbox/index.js';
import { SOURCE_MODES, createModeNode } from './node-modes.js';
import { KUBE_DNS, REPO, needRoot, type DecisionLine, type E2eNode } from './node.js';

const MANIFESTS = [join(REPO, 'test/e2e/fixtures/dns.yaml'), KUBE_DNS];
const S3_POLICY = 'ApplicationNetworkPolicy/storage/access-to-s3';
/** A drop by the NetworkPolicy tier: the pod is selected and no rule allows the flow. */
const UNMATCHED = { tier: 'NetworkPolicy', policy: null, rule: null };
const who = (d: DecisionLine): Pick<DecisionLine, 'tier' | 'policy' | 'rule'> => ({ tier: d.tier, policy: d.policy, rule: d.rule });

const RACE_ROUNDS = 1000;
const raceIp = (i: number): string => `100.64.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const RACE: ZoneRecord[] = Array.from({ length: RACE_ROUNDS }, (_, i) => ({ name: `r${i}.race.example.com`, type: 'A', data: raceIp(i) }));

const ZONE: ZoneRecord[] = [
  { name: 'bucket.s3.us-east-1.amazonaws.com', type: 'A', data: '203.0.113.90' },
  { name: 'a.b.s3.us-east-1.amazonaws.com', type: 'A', data: '203.0.113.91' },
  { name: 's3.us-east-1.amazonaws.com', type: 'A', data: '203.0.113.92' },
  { name: 's3.us-west-2.amazonaws.com', type: 'A', data: '203.0.113.93' },
  // a matching name whose answer is a CNAME chain to a name the pattern does not match
  { name: 'data.s3.us-east-1.amazonaws.com', type: 'CNAME', data: 'edge.cdn.example.net' },
  { name: 'edge.cdn.example.net', type: 'CNAME', data: 'pop1.cdn.example.net' },
  { name: 'pop1.cdn.example.net', type: 'A', data: '203.0.113.94' },
  // the reverse: a non-matching name chained to a matching one opens nothing
  { name: 'files.example.org', type: 'CNAME', data: 'hidden.s3.us-east-1.amazonaws.com' },
  { name: 'hidden.s3.us-east-1.amazonaws.com', type: 'A', data: '203.0.113.95' },
  { name: 'tcp.s3.us-east-1.amazonaws.com', type: 'A', data: '203.0.113.96' },
  { name: 'v6.s3.us-east-1.amazonaws.com', type: 'AAAA', data: '2001:db8::96' },
  ...RACE,
];

describe.skipIf(!needRoot).each(SOURCE_MODES)('e2e: DNS learning (%s)', (mode) => {
  let node: E2eNode;
  beforeAll(async () => {
    ({ node } = await createModeNode(mode, {
      manifests: MANIFESTS,
      zone: ZONE,
      harness: { outside: { addresses: RACE.map((r) => r.data), tcpPorts: [443, 8080], udpPorts: [] }, execTimeoutMs: 20_000, clusterDns: { ipv4: '10.96.0.10', ipv6: 'fd00:96::a' } },
    }));
  }, 180_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  const body = (dst: string, port: number, pod: string, v6 = false) =>
    `outside ${dst} port ${port} from ${v6 ? node.h.pod(pod).ipv6 : node.h.pod(pod).ipv4}`;

  it('opens a subdomain (one and two labels deep) for the pod that resolved it', async () => {
    expect((await node.curl('storage/uploader', 'http://bucket.s3.us-east-1.amazonaws.com:443/')).body).toBe(body('203.0.113.90', 443, 'storage/uploader'));
    expect((await node.curl('storage/uploader', 'http://a.b.s3.us-east-1.amazonaws.com:443/')).body).toBe(body('203.0.113.91', 443, 'storage/uploader'));
    const d = await node.decision({ pod: 'storage/uploader', decision: 'allow', dst: '203.0.113.90', dport: 443 });
    expect(who(d)).toEqual({ tier: 'NetworkPolicy', policy: S3_POLICY, rule: 0 });
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'allow', dst: '203.0.113.91', dport: 443 }))).toEqual({ tier: 'NetworkPolicy', policy: S3_POLICY, rule: 0 });
  });

  it('keeps learning per pod: the other replica, which did not resolve, is dropped', async () => {
    await node.waitLog((l) => l.event === 'decision' && l.dst === '203.0.113.90');
    const r = await node.curl('storage/uploader-2', 'http://203.0.113.90:443/');
    expect(r.code).toBe(28);
    const d = await node.decision({ pod: 'storage/uploader-2', decision: 'deny', dst: '203.0.113.90', dport: 443 });
    expect(who(d)).toEqual(UNMATCHED);
  });

  it.concurrent.each([
    ['the apex of the wildcard', 'http://s3.us-east-1.amazonaws.com:443/', '203.0.113.92'],
    ['another region', 'http://s3.us-west-2.amazonaws.com:443/', '203.0.113.93'],
    ['a name chained (CNAME) to a matching one', 'http://files.example.org:443/', '203.0.113.95'],
  ])('drops %s', async (_what, url, dst) => {
    expect((await node.curl('storage/uploader', url)).code).toBe(28);
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'deny', dst, dport: 443 }))).toEqual(UNMATCHED);
  });

  it('opens the end of a CNAME chain for a matching query name', async () => {
    const dig = await node.exec('storage/uploader', ['dig', '+short', 'data.s3.us-east-1.amazonaws.com', 'A']);
    expect(dig.stdout.trim().split('\n')).toEqual(['edge.cdn.example.net.', 'pop1.cdn.example.net.', '203.0.113.94']);
    expect((await node.curl('storage/uploader', 'http://203.0.113.94:443/')).body).toBe(body('203.0.113.94', 443, 'storage/uploader'));
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'allow', dst: '203.0.113.94', dport: 443 }))).toEqual({ tier: 'NetworkPolicy', policy: S3_POLICY, rule: 0 });
  });

  it('learns from DNS over TCP', async () => {
    const dig = await node.exec('storage/uploader', ['dig', '+tcp', '+short', '@10.96.0.10', 'tcp.s3.us-east-1.amazonaws.com', 'A']);
    expect(dig.stdout.trim()).toBe('203.0.113.96');
    expect((await node.curl('storage/uploader', 'http://203.0.113.96:443/')).body).toBe(body('203.0.113.96', 443, 'storage/uploader'));
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'allow', dst: '203.0.113.96', dport: 443 }))).toEqual({ tier: 'NetworkPolicy', policy: S3_POLICY, rule: 0 });
    expect((await node.curl('storage/uploader-2', 'http://203.0.113.96:443/')).code).toBe(28);
    expect(who(await node.decision({ pod: 'storage/uploader-2', decision: 'deny', dst: '203.0.113.96', dport: 443 }))).toEqual(UNMATCHED);
  });

  it('learns AAAA answers and enforces them over IPv6', async () => {
    const r = await node.curl('storage/uploader', 'http://v6.s3.us-east-1.amazonaws.com:443/');
    expect(r.stderr).toBe('');
    expect(r.body).toBe(body('2001:db8::96', 443, 'storage/uploader', true));
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'allow', dst: '2001:db8::96', dport: 443 }))).toEqual({ tier: 'NetworkPolicy', policy: S3_POLICY, rule: 0 });
    expect((await node.curl('storage/uploader', 'http://v6.s3.us-east-1.amazonaws.com:8080/')).code).toBe(28);
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'deny', dst: '2001:db8::96', dport: 8080 }))).toEqual(UNMATCHED);
    expect((await node.curl('storage/uploader-2', 'http://[2001:db8::96]:443/')).code).toBe(28);
    expect(who(await node.decision({ pod: 'storage/uploader-2', decision: 'deny', dst: '2001:db8::96', dport: 443 }))).toEqual(UNMATCHED);
  });

  it('redirects DNS to the IPv6 cluster DNS address too (UDP and TCP), answered from that address', async () => {
    const nft = await node.h.execNode(['nft', 'list', 'table', 'inet', 'dnsgate']);
    expect(nft.stdout).toMatch(/ip6 daddr fd00:96::a dnat ip6 to \[fd00:250::1\]:5353/);
    for (const tcp of [false, true]) {
      const r = await node.exec('misc/app', ['dig', '+time=2', '+tries=1', ...(tcp ? ['+tcp'] : []), '@fd00:96::a', 'bucket.s3.us-east-1.amazonaws.com']);
      expect(r.stdout).toMatch(/status: NOERROR/);
      expect(r.stdout).toMatch(/SERVER: fd00:96::a#53/);
      expect(r.stdout).toMatch(/IN\s+A\s+203\.0\.113\.90/);
    }
    // Still egress to the DNS address for policy: access-to-s3 allows DNS only to kube-dns's
    // (IPv4) Service, so its pods' queries to the IPv6 address are dropped.
    const blocked = await node.exec('storage/uploader', ['dig', '+time=1', '+tries=1', '@fd00:96::a', 'bucket.s3.us-east-1.amazonaws.com']);
    expect(blocked.stdout).toMatch(/timed out|no servers could be reached/);
    expect(who(await node.decision({ pod: 'storage/uploader', decision: 'deny', dst: 'fd00:96::a', dport: 53 }))).toEqual(UNMATCHED);
  });

  it('leaves a pod no policy selects open (standard mode)', async () => {
    expect((await node.curl('misc/app', 'http://203.0.113.92:8080/')).body).toBe(body('203.0.113.92', 8080, 'misc/app'));
    expect(who(await node.decision({ pod: 'misc/app', decision: 'allow', dst: '203.0.113.92', dport: 8080 }))).toEqual({ tier: 'Default', policy: null, rule: null });
  });

  it(`has no first-connection race: ${RACE_ROUNDS} resolve-then-connect rounds to new IPs, 0 failures`, async () => {
    const script = [
      'fail=0',
      `i=0; while [ $i -lt ${RACE_ROUNDS} ]; do`,
      // -m10 leaves room for a slow lookup on a loaded machine (resolv.conf: timeout:2, and the
      // IPv6 nameserver it may fall back to is denied); a dropped first SYN is caught below.
      '  out=$(curl -4 -sS -m10 -o /dev/null -w "%{http_code}" "http://r$i.race.example.com:443/" 2>&1)',
      '  if [ "$out" != 200 ]; then fail=$((fail+1)); echo "failed r$i at $(date +%H:%M:%S.%N): $out"; fi',
      '  i=$((i+1))',
      'done',
      'echo "failures=$fail"',
    ].join('\n');
    const r = await node.exec('storage/uploader', ['sh', '-c', script], 170_000);
    // The failed rounds first: when and how each failed says more than their count.
    const failed = r.stdout.split('\n').filter((l) => l.startsWith('failed'));
    expect(failed).toEqual([]);
    expect(r.timedOut).toBe(false);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('failures=0');
    // A connection racing its lookup would lose its first SYN and still succeed on the retry:
    // only the decision log shows it (every deny is logged).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const raceIps = new Set(RACE.map((x) => x.data));
    expect(node.decisions({ pod: 'storage/uploader', decision: 'deny' }).filter((d) => raceIps.has(d.dst))).toEqual([]);
  }, 180_000);
});

describe.skipIf(!needRoot).each(SOURCE_MODES)('e2e: restart keeps what pods learned (%s)', (mode) => {
  let node: E2eNode;
  beforeAll(async () => {
    ({ node } = await createModeNode(mode, { manifests: MANIFESTS, zone: ZONE.filter((r) => !r.name.endsWith('.race.example.com')) }));
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
  }, 60_000);

  it('a name resolved before a restart still opens its IP after it (same ids adopted from the state directory and pins)', async () => {
    const pod = 'storage/uploader';
    const got = await node.exec(pod, ['getent', 'ahostsv4', 'bucket.s3.us-east-1.amazonaws.com']);
    expect(got.stdout).toMatch(/^203\.0\.113\.90\s/m);
    expect(await node.stopAgent('SIGTERM')).toBe(0);
    await node.startAgent();
    expect(node.logs.some((l) => l.event === 'state_adopted')).toBe(true);
    // No new lookup: the learning made before the restart is what allows this.
    expect((await node.curl(pod, 'http://203.0.113.90:443/')).body).toBe(`outside 203.0.113.90 port 443 from ${node.h.pod(pod).ipv4}`);
    expect(who(await node.decision({ pod, decision: 'allow', dst: '203.0.113.90', dport: 443 }))).toEqual({ tier: 'NetworkPolicy', policy: S3_POLICY, rule: 0 });
    expect((await node.curl('storage/uploader-2', 'http://203.0.113.90:443/')).code).toBe(28);
    expect(who(await node.decision({ pod: 'storage/uploader-2', decision: 'deny', dst: '203.0.113.90', dport: 443 }))).toEqual(UNMATCHED);
  }, 60_000);
});
