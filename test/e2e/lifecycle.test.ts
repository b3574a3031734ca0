// Strict mode, learned-IP expiry and the agent's lifecycle on a real node: with minTTL = maxTTL =
// 2 s a learned IP stops admitting new connections after expiry while an established connection
// keeps working; a restarted agent (SIGTERM keeps pins, programs and the nft table) keeps the
// node enforced throughout and adopts the state; `--uninstall` removes all of it; policy edits
// in the manifests are picked up and programmed.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryHooks } from '../../src/datapath/ebpf/index.js';
import { E2eNode, KUBE_DNS, REPO, needRoot } from './node.js';

const ZONE = [
  { name: 'short.s3.us-east-1.amazonaws.com', type: 'A' as const, data: '203.0.113.97', ttl: 1 },
  { name: 'other.s3.us-east-1.amazonaws.com', type: 'A' as const, data: '203.0.113.98', ttl: 300 },
];

describe.skipIf(!needRoot)('e2e: strict mode, TTL expiry, restart, uninstall', () => {
  let node: E2eNode;
  let dir: string;
  let policyFile: string;
  beforeAll(async () => {
    // A private copy of the fixture: one test edits it while the agent watches.
    dir = mkdtempSync(join(tmpdir(), 'dnsgate-e2e-lifecycle-'));
    policyFile = join(dir, 'dns.yaml');
    copyFileSync(join(REPO, 'test/e2e/fixtures/dns.yaml'), policyFile);
    node = await E2eNode.create({
      manifests: [policyFile, KUBE_DNS],
      zone: ZONE,
      agent: { mode: 'strict', dns: { minTTL: 2, maxTTL: 2 } },
    });
  }, 120_000);
  afterAll(async () => {
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('strict mode drops a pod that no policy selects (tier Default), DNS included', async () => {
    expect((await node.curl('misc/app', 'http://203.0.113.98:443/')).code).toBe(28);
    expect(await node.decision({ pod: 'misc/app', decision: 'deny', dst: '203.0.113.98', dport: 443 })).toMatchObject({ tier: 'Default', policy: null });
    const dig = await node.exec('misc/app', ['dig', '+time=1', '+tries=1', '@10.96.0.10', 'other.s3.us-east-1.amazonaws.com']);
    expect(dig.stdout).toMatch(/timed out|no servers could be reached/);
  });

  it('after expiry a new connection is dropped while an established one keeps working', async () => {
    const pod = 'storage/uploader';
    const got = await node.exec(pod, ['getent', 'ahostsv4', 'short.s3.us-east-1.amazonaws.com']);
    expect(got.stdout).toMatch(/^203\.0\.113\.97\s/m);
    // Established right away, then silent past the expiry, then used again.
    const established = node.exec(pod, ['sh', '-c', '(printf early; sleep 5; printf late) | nc -q1 -w10 203.0.113.97 443'], 20_000);
    await new Promise((r) => setTimeout(r, 3500));
    const fresh = await node.curl(pod, 'http://203.0.113.97:443/');
    expect(fresh.code).toBe(28);
    const kept = await established;
    expect(kept.stdout).toBe('earlylate');
    // Resolving again opens it again.
    expect((await node.curl(pod, 'http://short.s3.us-east-1.amazonaws.com:443/')).body).toBe(`outside 203.0.113.97 port 443 from ${node.h.pod(pod).ipv4}`);
  }, 30_000);

  it('programs a policy edit from the manifests', async () => {
    // misc/app gets its own allowance: a new ApplicationNetworkPolicy in the same file.
    const added = `${readFileSync(policyFile, 'utf8')}---
apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata: {name: misc-open, namespace: misc}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.98/32}}]
    ports: [{protocol: TCP, port: 443}]
`;
    const before = node.logs.filter((l) => l.event === 'programmed').length;
    writeFileSync(policyFile, added);
    await node.waitLog((l) => l.event === 'programmed' && node.logs.filter((x) => x.event === 'programmed').length > before, 15_000);
    expect((await node.curl('misc/app', 'http://203.0.113.98:443/')).body).toBe(`outside 203.0.113.98 port 443 from ${node.h.pod('misc/app').ipv4}`);
    const metrics = await node.h.execNode(['curl', '-sS', `http://127.0.0.1:${httpPort(node)}/metrics`]);
    expect(metrics.stdout).toMatch(/dnsgate_agent_change_to_programmed_seconds_count [1-9]/);
    expect(metrics.stdout).toMatch(/dnsgate_dns_queries_total\{/);
  });

  it('serves /healthz and /readyz', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const r = await node.h.execNode(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${httpPort(node)}${path}`]);
      expect(r.stdout).toBe('200');
    }
  });

  it('keeps enforcing and redirecting while the agent is stopped, and a restarted agent adopts the state', async () => {
    const code = await node.stopAgent('SIGTERM');
    expect(code).toBe(0);
    const pod = node.h.pod('storage/uploader');
    const ifindex = Number(JSON.parse((await node.h.execNode(['ip', '-j', 'link', 'show', 'dev', pod.hostIf])).stdout)[0].ifindex);
    expect(queryHooks(ifindex, `/run/netns/${node.h.nodeNetns!}`).ingress).toBeGreaterThan(0);
    expect((await node.h.execNode(['nft', 'list', 'table', 'inet', 'dnsgate'])).code).toBe(0);
    // Still enforced without an agent: strict mode still drops misc/app's other traffic.
    expect((await node.curl('misc/app', 'http://203.0.113.97:443/')).code).toBe(28);
    await node.startAgent();
    expect((await node.curl('storage/uploader', 'http://other.s3.us-east-1.amazonaws.com:443/')).body).toBe(`outside 203.0.113.98 port 443 from ${pod.ipv4}`);
  }, 60_000);

  it('--uninstall removes the programs, the pins and the nft table', async () => {
    expect(await node.stopAgent('SIGINT')).toBe(0);
    const r = await node.uninstall();
    expect(r.code).toBe(0);
    const pod = node.h.pod('storage/uploader');
    const ifindex = Number(JSON.parse((await node.h.execNode(['ip', '-j', 'link', 'show', 'dev', pod.hostIf])).stdout)[0].ifindex);
    expect(queryHooks(ifindex, `/run/netns/${node.h.nodeNetns!}`)).toEqual({});
    expect((await node.h.execNode(['nft', 'list', 'table', 'inet', 'dnsgate'])).code).not.toBe(0);
    const pins = await node.h.execNode(['sh', '-c', `ls -A ${node.bpffs} 2>/dev/null | wc -l`]);
    expect(pins.stdout.trim()).toBe('0');
    // Nothing enforced any more: the strict-mode drop is gone.
    expect((await node.curl('misc/app', 'http://203.0.113.97:443/')).body).toBe(`outside 203.0.113.97 port 443 from ${node.h.pod('misc/app').ipv4}`);
  }, 60_000);
});

function httpPort(node: E2eNode): number {
  const line = node.logs.find((l) => l.event === 'http_listening');
  const address = String(line?.address ?? '');
  return Number(address.slice(address.lastIndexOf(':') + 1));
}
