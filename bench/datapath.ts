// bench:datapath — ns per packet through dnsgate's tc program under BPF_PROG_TEST_RUN
// (BENCHMARKS.md): conntrack hit, and a new flow judged by policy with 10 / 1k / 10k rules
// loaded as LPM entries plus 100k learned IPs. Floor: bpf/floor.bpf.c, one hash lookup, measured
// in the same rounds, alternating. Needs root (BPF); without it the result says "not measured".
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject } from 'libbpf-ts';
import type { BpfMap, BpfProgram } from 'libbpf-ts';
import * as L from '../src/datapath/ebpf/layout.js';
import type { Rule } from '../src/datapath/ebpf/layout.js';
import { alternate, median } from './lib/stats.js';
import { seededRandom } from './lib/random.js';
import { report } from './lib/report.js';
import type { Row } from './lib/report.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = [10, 1_000, 10_000] as const;
const RULES_PER_ENTRY = 4;
const LEARNED = 100_000;
const REPEAT = 200_000;
const ROUNDS = 11;
const FRESH_FLOWS = 2_000;
const EP = 1;
const IFINDEX = 1; // test-run packets arrive on the loopback
const POD = '10.0.0.2';
const DEST = '203.0.113.7';
const FQDN_SLOT = 7;

function frame(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(14 + 20 + 20);
  b.writeUInt16BE(0x0800, 12);
  b.writeUInt8(0x45, 14);
  b.writeUInt16BE(40, 16);
  b.writeUInt8(64, 22);
  b.writeUInt8(6, 23);
  b.set(L.addrBytes(src), 26);
  b.set(L.addrBytes(dst), 30);
  b.writeUInt16BE(sport, 34);
  b.writeUInt16BE(dport, 36);
  b.writeUInt8(0x50, 46);
  return b;
}

/** The list every entry carries: three rules that do not match port 443, then the FQDN rule that does. */
function ruleList(id: number): Buffer {
  const base = { fqdn: false, fqdnSlot: 0, portLo: 0, portHi: 0 };
  const rules: Rule[] = [
    { ...base, tier: 'admin', action: 'deny', proto: L.Proto.udp, ruleId: id },
    { ...base, tier: 'admin', action: 'deny', proto: L.Proto.tcp, portLo: 22, portHi: 22, ruleId: id + 1 },
    { ...base, tier: 'np', action: 'accept', proto: L.Proto.tcp, portLo: 80, portHi: 80, ruleId: id + 2 },
    { ...base, tier: 'np', action: 'accept', proto: L.Proto.tcp, portLo: 443, portHi: 443, fqdn: true, fqdnSlot: FQDN_SLOT, ruleId: id + 3 },
  ];
  return L.encodeRuleList(rules.slice(0, RULES_PER_ENTRY));
}

function randomV4(rnd: () => number): string {
  return [0, 0, 0, 0].map(() => Math.floor(rnd() * 256)).join('.');
}

/** Loads `rules` rules' worth of LPM entries (rules / RULES_PER_ENTRY prefixes, /16../32) for EP. */
function fillPolicy(map: BpfMap, rules: number, rnd: () => number): number {
  map.clear();
  const entries: Array<[Buffer, Buffer]> = [];
  const seen = new Set<string>();
  const want = Math.max(1, Math.round(rules / RULES_PER_ENTRY));
  entries.push([L.encodePolicyKeyV4(EP, 'egress', DEST, 32), ruleList(1)]);
  seen.add(entries[0]![0].toString('hex'));
  while (entries.length < want) {
    const key = L.encodePolicyKeyV4(EP, 'egress', randomV4(rnd), 16 + Math.floor(rnd() * 17));
    const hex = key.toString('hex');
    if (seen.has(hex)) continue;
    seen.add(hex);
    entries.push([key, ruleList(entries.length * 10)]);
  }
  map.updateBatch(entries);
  return entries.length;
}

function fillLearned(map: BpfMap, rnd: () => number): void {
  const expires = L.encodeLearnedValue(process.hrtime.bigint() + 3_600_000_000_000n);
  const entries: Array<[Buffer, Buffer]> = [[L.encodeLearnedKey({ epId: EP, fqdnSlot: FQDN_SLOT, addr: DEST }), expires]];
  while (entries.length < LEARNED) {
    // Spread over endpoints and slots as a node with many pods would have them.
    entries.push([L.encodeLearnedKey({ epId: 1 + Math.floor(rnd() * 200), fqdnSlot: Math.floor(rnd() * 16), addr: randomV4(rnd) }), expires]);
  }
  map.updateBatch(entries);
}

function nsPerPacket(prog: BpfProgram, data: Buffer, expect: number): number {
  const r = prog.testRun({ data, repeat: REPEAT, dataOutSize: 0 });
  if (r.retval !== expect) throw new Error(`${prog.info.name}: verdict ${r.retval}, expected ${expect}`);
  return r.durationNs;
}

function notMeasured(reason: string): void {
  report({
    benchmark: 'datapath',
    headline: { metric: 'worst new-flow ns ratio dnsgate/floor', value: null, goal: 4, better: 'lower' },
    goals: [{ metric: 'new-flow ns ratio 10k rules / 10 rules', value: null, goal: 1.5, better: 'lower' }],
    results: { notMeasured: reason },
    rows: [{ label: 'not measured', value: null, note: reason }],
  });
}

function main(): void {
  if (process.getuid?.() !== 0) {
    notMeasured('needs root for BPF_PROG_TEST_RUN');
    return;
  }
  execFileSync('bash', [join(REPO, 'scripts/build-bpf.sh')], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const pinRoot = `/sys/fs/bpf/dnsgate-bench-${process.pid}`;
  rmSync(pinRoot, { recursive: true, force: true });
  mkdirSync(pinRoot);
  const dg = BpfObject.load(join(REPO, L.OBJECT_FILE), { pinRoot });
  const fl = BpfObject.load(join(REPO, L.FLOOR_OBJECT_FILE));
  try {
    run(dg, fl);
  } finally {
    try {
      dg.unpinMaps();
    } finally {
      dg.close();
      fl.close();
      rmSync(pinRoot, { recursive: true, force: true });
    }
  }
}

function run(dg: BpfObject, fl: BpfObject): void {
  const rnd = seededRandom(0xda7a9a7);
  const floorProg = fl.program('floor_one_lookup');
  const floorKey = Buffer.alloc(4);
  floorKey.writeUInt32LE(IFINDEX);
  fl.map('floor_verdicts').update(floorKey, Buffer.alloc(4));
  const prog = dg.program(L.PROGRAM.fromPod);
  const endpoints = dg.map(L.MAP.endpoints);
  const setEndpoint = (noCtInsert: boolean): void =>
    endpoints.update(L.encodeEndpointKey(IFINDEX), L.encodeEndpoint({
      epId: EP, mode: 'strict', egressIsolated: true, ingressIsolated: true, noCtInsert, allowSample: 0, podIp4: POD, nodeIp4: '10.0.0.1',
    }));

  const t0 = Date.now();
  fillLearned(dg.map(L.MAP.learned), rnd);
  const learnedFillMs = Date.now() - t0;
  const pkt = frame(POD, DEST, 40000, 443);
  const TC_OK = 0;

  // New flows judged by policy every time: the endpoint inserts no conntrack entries.
  setEndpoint(true);
  const sizes: Record<string, { entries: number; newFlowNs: number; floorNs: number; ratio: number; samples: number[]; floorSamples: number[] }> = {};
  for (const n of SIZES) {
    const entries = fillPolicy(dg.map(L.MAP.policyV4), n, rnd);
    nsPerPacket(prog, pkt, TC_OK);
    const s = alternate(ROUNDS, { dnsgate: () => nsPerPacket(prog, pkt, TC_OK), floor: () => nsPerPacket(floorProg, pkt, TC_OK) });
    const newFlowNs = median(s.dnsgate);
    const floorNs = median(s.floor);
    sizes[String(n)] = { entries, newFlowNs, floorNs, ratio: newFlowNs / floorNs, samples: s.dnsgate, floorSamples: s.floor };
  }

  // Conntrack hit (10k rules loaded): the first run inserts the flow, the rest are established.
  setEndpoint(false);
  dg.map(L.MAP.ct).clear();
  nsPerPacket(prog, pkt, TC_OK);
  const ct = alternate(ROUNDS, { dnsgate: () => nsPerPacket(prog, pkt, TC_OK), floor: () => nsPerPacket(floorProg, pkt, TC_OK) });
  const ctNs = median(ct.dnsgate);
  const ctFloorNs = median(ct.floor);

  // New flow including its conntrack insert: distinct tuples, one run each (so each figure also
  // carries the kernel's per-call timer overhead; the floor is measured the same way).
  const fresh: number[] = [];
  const freshFloor: number[] = [];
  for (let i = 0; i < FRESH_FLOWS; i++) {
    const p = frame(POD, DEST, 1024 + i, 443);
    const a = prog.testRun({ data: p, repeat: 1, dataOutSize: 0 });
    if (a.retval !== TC_OK) throw new Error('fresh flow denied');
    fresh.push(a.durationNs);
    freshFloor.push(floorProg.testRun({ data: p, repeat: 1, dataOutSize: 0 }).durationNs);
  }
  const freshNs = median(fresh);
  const freshFloorNs = median(freshFloor);

  const worst = Math.max(...SIZES.map((n) => sizes[String(n)]!.ratio));
  const scale = sizes['10000']!.newFlowNs / sizes['10']!.newFlowNs;
  const r3 = (x: number): number => Number(x.toFixed(3));
  const r1 = (x: number): number => Number(x.toFixed(1));

  const rows: Row[] = [
    { label: 'floor (one hash lookup) ns/packet', value: r1(ctFloorNs), note: `median of ${ROUNDS} x ${REPEAT} runs` },
    { label: 'conntrack hit ns/packet', value: r1(ctNs), note: `ratio ${r3(ctNs / ctFloorNs)}x floor` },
    ...SIZES.map((n): Row => {
      const s = sizes[String(n)]!;
      return { label: `new flow, ${n} rules (${s.entries} LPM entries) ns/packet`, value: r1(s.newFlowNs), note: `ratio ${r3(s.ratio)}x floor (${r1(s.floorNs)})` };
    }),
    { label: 'new flow incl. conntrack insert, single runs', value: r1(freshNs), note: `median of ${FRESH_FLOWS}; floor single runs ${r1(freshFloorNs)}, ratio ${r3(freshNs / freshFloorNs)}` },
    { label: 'learned entries loaded', value: LEARNED, note: `${learnedFillMs} ms to load` },
  ];
  report({
    benchmark: 'datapath',
    headline: { metric: 'worst new-flow ns ratio dnsgate/floor', value: r3(worst), goal: 4, better: 'lower' },
    goals: [{ metric: 'new-flow ns ratio 10k rules / 10 rules', value: r3(scale), goal: 1.5, better: 'lower' }],
    results: {
      repeatPerRound: REPEAT,
      rounds: ROUNDS,
      rulesPerEntry: RULES_PER_ENTRY,
      learnedEntries: LEARNED,
      learnedFillMs,
      floorNsPerPacketMedian: r1(ctFloorNs),
      conntrackHitNsPerPacketMedian: r1(ctNs),
      conntrackHitRatio: r3(ctNs / ctFloorNs),
      newFlow: Object.fromEntries(SIZES.map((n) => {
        const s = sizes[String(n)]!;
        return [`${n}Rules`, { lpmEntries: s.entries, nsPerPacketMedian: r1(s.newFlowNs), floorNsPerPacketMedian: r1(s.floorNs), ratio: r3(s.ratio), samplesNs: s.samples.map(r1), floorSamplesNs: s.floorSamples.map(r1) }];
      })),
      newFlowWithCtInsertSingleRunNsMedian: r1(freshNs),
      floorSingleRunNsMedian: r1(freshFloorNs),
      ratio10kOver10: r3(scale),
    },
    rows,
  });
}

main();
