// The proxy's learning path alone, as CPU microseconds per answer: Learner.hold (answer decoding,
// LearnedStore, Datapath.learn, the hold bookkeeping) for the answers bench:dns sends, against a
// real compilation (1000 domain policies selecting the client, so learned entries land in real
// FQDN slots) with the in-memory datapath and, as root, the eBPF one (maps only, nothing attached).
//
//   npx tsx bench/lib/learn-path.ts [--answers N] [--rounds R] [--backend memory|ebpf] [--scenario ip-per-name|one-ip]
//
// CPU per answer is process.cpuUsage over N answers in flight 200 at a time (dnsperf's -q in
// bench:dns), median of R rounds; other jobs on a shared machine disturb it far less than wall
// time. Scenarios: each name its own address (bench:dns's upstream), and every name answering
// one address (a CDN: many names behind one datapath key).
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseManifests } from '../../src/api/load.js';
import { compile } from '../../src/compile/index.js';
import type { CompiledNode } from '../../src/compile/index.js';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import type { Datapath, DomainRuleRef } from '../../src/datapath/types.js';
import { EventLog } from '../../src/dns/event-log.js';
import { Learner } from '../../src/dns/learner.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { LearnedStore } from '../../src/fqdn/index.js';
import { median } from './stats.js';

const POLICIES = 1000;
const NAMES = 5000;
const IN_FLIGHT = 200;
const POD = 'bench/client';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

/** The node: one namespace, the client pod, 1000 Accept policies with one domain pattern each. */
export function benchNode(policies = POLICIES): CompiledNode {
  const docs = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}',
    'apiVersion: v1\nkind: Node\nmetadata: {name: n0}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.1}]}',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: bench, labels: {app: client}}\nspec: {nodeName: n0, containers: [{name: c}]}\nstatus: {podIP: 10.1.0.1, podIPs: [{ip: 10.1.0.1}]}',
  ];
  for (let i = 0; i < policies; i++) {
    docs.push(
      `apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {name: policy-${i}}\nspec:\n  tier: Baseline\n  priority: ${i % 1000}\n` +
        `  subject: {namespaces: {}}\n  egress:\n  - name: r\n    action: Accept\n    to: [{domainNames: ["*.svc${i}.bench.test"]}]`,
    );
  }
  const { state, problems } = parseManifests(docs.join('\n---\n'), 'learn-path');
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) throw new Error(`bench manifests invalid: ${errors.map((p) => p.message).join('; ')}`);
  return compile(state, { nodeName: 'n0' }, { mode: 'strict' });
}

/** An upstream answer as bench:dns's upstream gives it: the question, one A record, TTL 300. */
export function answerFor(id: number, name: string, ip: readonly number[]): { resp: Buffer; answerStart: number } {
  const labels = name.split('.');
  const qlen = labels.reduce((n, l) => n + l.length + 1, 1) + 4;
  const b = Buffer.alloc(12 + qlen + 16);
  b.writeUInt16BE(id & 0xffff, 0);
  b.writeUInt16BE(0x8580, 2);
  b.writeUInt16BE(1, 4);
  b.writeUInt16BE(1, 6);
  let at = 12;
  for (const l of labels) {
    b[at++] = l.length;
    at += b.write(l, at, 'ascii');
  }
  b[at++] = 0;
  b.writeUInt16BE(1, at);
  b.writeUInt16BE(1, at + 2);
  at += 4;
  const answerStart = at;
  b.writeUInt16BE(0xc00c, at);
  b.writeUInt16BE(1, at + 2);
  b.writeUInt16BE(1, at + 4);
  b.writeUInt32BE(300, at + 6);
  b.writeUInt16BE(4, at + 10);
  b.set(ip, at + 12);
  return { resp: b, answerStart };
}

export type Scenario = 'ip-per-name' | 'one-ip';

/** Runs `count` answers through a fresh learner on `datapath`; CPU microseconds per answer. */
export async function learnCpuPerAnswer(datapath: Datapath, scenario: Scenario, count: number, warm: number): Promise<number> {
  const metrics = new DnsMetrics();
  const learner = new Learner({
    datapath,
    store: new LearnedStore({ maxIPsPerName: 1000, maxLearnedPerPod: 100_000 }),
    ttlBounds: { minTTL: 60, maxTTL: 86_400 },
    programTimeoutMs: 60_000,
    metrics,
    log: new EventLog(pino({ level: 'silent' })),
    clock: Date.now,
  });
  const domainRules: DomainRuleRef[] = Array.from({ length: POLICIES }, (_, i) => ({ rule: `bench/policy-${i}/egress/0`, pattern: `*.svc${i}.bench.test` }));
  const answers = Array.from({ length: NAMES }, (_, i) => {
    const name = `h${i}.svc${i % POLICIES}.bench.test`;
    const ip = scenario === 'one-ip' ? [10, 9, 9, 9] : [10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff];
    return { name, rules: learner.rulesFor(domainRules, name), ...answerFor(i, name, ip) };
  });
  let failures = 0;
  const run = async (n: number, offset: number): Promise<void> => {
    for (let base = 0; base < n; base += IN_FLIGHT) {
      const batch = Math.min(IN_FLIGHT, n - base);
      await new Promise<void>((resolve) => {
        let left = batch;
        for (let j = 0; j < batch; j++) {
          const a = answers[(offset + base + j) % NAMES]!;
          learner.hold(POD, a.name, a.rules, a.resp, a.answerStart, Date.now(), (outcome) => {
            if (outcome !== 'programmed') failures++;
            if (--left === 0) resolve();
          });
        }
      });
    }
  };
  await run(warm, 0);
  const before = process.cpuUsage();
  await run(count, warm);
  const used = process.cpuUsage(before);
  if (failures > 0) throw new Error(`${failures} answers were not programmed`);
  return (used.user + used.system) / count;
}

async function main(): Promise<void> {
  const count = arg('--answers', 100_000);
  const rounds = arg('--rounds', 5);
  const only = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : undefined;
  const node = benchNode();
  const backends: { name: string; open: () => Promise<{ dp: Datapath; close: () => Promise<void> }> }[] = [
    {
      name: 'memory',
      open: async () => {
        const dp = new MemoryDatapath({ learnLogLimit: 0 });
        await dp.applyNode(node, () => 1);
        return { dp, close: () => dp.close() };
      },
    },
  ];
  if (process.getuid?.() === 0) {
    const { EbpfDatapath } = await import('../../src/datapath/ebpf/ebpf-datapath.js');
    backends.push({
      name: 'ebpf',
      open: async () => {
        const pinDir = mkdtempSync(join('/sys/fs/bpf', 'dnsgate-learn-path-'));
        let dp;
        try {
          dp = EbpfDatapath.open({ pinRoot: pinDir, attachPrograms: false, events: 'manual', maxEntries: { learned: 65_536 } });
          await dp.applyNode(node, () => 1);
        } catch (err) {
          await dp?.close();
          rmSync(pinDir, { recursive: true, force: true });
          throw err;
        }
        const opened = dp;
        return {
          dp: opened,
          close: async () => {
            await opened.close();
            rmSync(pinDir, { recursive: true, force: true });
          },
        };
      },
    });
  } else {
    console.log('learn-path: not root, the eBPF datapath is NOT measured');
  }
  const scenarios: Scenario[] = process.argv.includes('--scenario') ? [process.argv[process.argv.indexOf('--scenario') + 1] as Scenario] : ['ip-per-name', 'one-ip'];
  const samples = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const b of backends) {
      if (only !== undefined && b.name !== only) continue;
      for (const s of scenarios) {
        const { dp, close } = await b.open();
        try {
          const us = await learnCpuPerAnswer(dp, s, count, Math.min(count, 20_000));
          const k = `${b.name} ${s}`;
          samples.set(k, [...(samples.get(k) ?? []), us]);
        } finally {
          await close();
        }
      }
    }
  }
  console.log(`learn-path: CPU us per learning answer, ${POLICIES} policies, ${NAMES} names, ${count} answers, median of ${rounds} rounds`);
  for (const [k, v] of samples) console.log(`${k.padEnd(22)} ${median(v).toFixed(2).padStart(7)} us   (rounds: ${v.map((x) => x.toFixed(2)).join(' ')})`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) await main();
