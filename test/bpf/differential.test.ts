// THE datapath proof: on generated cluster states (test/compile's generators: every policy kind,
// IPv4/IPv6, named ports, Services, nodes, domainNames with learned IPs), compile, write the
// result through EbpfDatapath (applyNode + learn, incrementally from the previous case's state,
// so stale entries would show), and run each flow direction as a real packet through the loaded
// program with BPF_PROG_TEST_RUN. The program's verdict must be the evaluator's (src/policy), and
// the decision event must name the evaluator's tier, policy and rule. Conntrack insertion is off
// for the endpoints, so every packet is judged by policy alone. A failure prints the shrunk state
// as YAML with the flow.
import fc from 'fast-check';
import { join } from 'node:path';
import { TcAct, openPinnedMap } from 'libbpf-ts';
import { MAP, decodeRuleList, encodePolicyKeyV4, encodePolicyKeyV6 } from '../../src/datapath/ebpf/layout.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ClusterState } from '../../src/api/types.js';
import { LearnedSet, compile, interpret, type CompiledNode, type Outcome } from '../../src/compile/index.js';
import { EbpfDatapath } from '../../src/datapath/ebpf/index.js';
import type { DatapathEvent, LearnedRef } from '../../src/datapath/types.js';
import { type DirectionVerdict, Evaluator, type Flow, InvalidFlowError, type LearnedIP, formatIP } from '../../src/policy/index.js';
import { resolveEndpoints } from '../../src/policy/endpoint.js';
import { asEvaluator } from '../compile/support/differential.js';
import { flowArb, learnedArb, stateArb } from '../compile/support/generate.js';
import { TEST_IFINDEX, builtObject, needRoot } from './harness.js';
import { frame } from './packets.js';
import type { PacketSpec } from './packets.js';

const NOW = 1_000_000;
const RUNS = Number(process.env.DNSGATE_BPF_DIFF_RUNS ?? 1700);
const MIN_DIRECTIONS = 100_000;

interface Case {
  state: ClusterState;
  flows: Flow[];
  learned: LearnedIP[];
  mode: 'standard' | 'strict';
  local: 'all' | 'n0';
}

const caseArb: fc.Arbitrary<Case> = stateArb().chain((state) =>
  fc.record({
    state: fc.constant(state),
    flows: fc.array(flowArb(state), { minLength: 60, maxLength: 100 }),
    learned: learnedArb(state, NOW),
    mode: fc.constantFrom('standard' as const, 'strict' as const),
    local: fc.constantFrom<'all' | 'n0'>('all', 'n0'),
  }),
);

interface Direction {
  readonly flow: Flow;
  readonly direction: 'egress' | 'ingress';
  readonly endpoint: string;
  readonly packet: PacketSpec;
  readonly want: DirectionVerdict;
}

type Comparable = { verdict: string; tier: string; policy: string | null; rule: string | number | null };

function comparable(v: DirectionVerdict): Comparable {
  // An NP-tier deny names the first isolating policy; the datapath knows only "isolated, no match".
  if (v.tier === 'NetworkPolicy' && v.verdict === 'Deny') return { verdict: v.verdict, tier: v.tier, policy: null, rule: null };
  return { verdict: v.verdict, tier: v.tier, policy: v.policy, rule: v.rule };
}

/** The event's decision as interpret() would have stated it. */
function outcomeOf(e: DatapathEvent): Outcome {
  if (e.reason === 'rule') {
    const tier = e.tier === 'Admin' ? 'admin' : e.tier === 'Baseline' ? 'baseline' : 'np';
    return { verdict: e.verdict, reason: 'rule', tier, ruleId: e.rule?.ruleId ?? -1, cidr: '' };
  }
  if (e.reason === 'npNoMatch') return { verdict: 'deny', reason: 'npNoMatch' };
  if (e.reason === 'default') return e.verdict === 'allow' ? { verdict: 'allow', reason: 'default' } : { verdict: 'deny', reason: 'default' };
  if (e.reason === 'self' || e.reason === 'nodeIp') return { verdict: 'allow', reason: e.reason };
  throw new Error(`unexpected event reason ${e.reason}`);
}

let sport = 20000;

function packetFor(flow: Flow, direction: 'egress' | 'ingress', local: string, remote: string): PacketSpec {
  sport = sport >= 60000 ? 20000 : sport + 1;
  const [src, dst] = direction === 'egress' ? [local, remote] : [remote, local];
  if (flow.protocol === 'ICMP') return { src, dst, l4: { proto: 'icmp', type: src.includes(':') ? 128 : 8, id: sport } };
  const proto = flow.protocol === 'TCP' ? 'tcp' : flow.protocol === 'UDP' ? 'udp' : 'sctp';
  return { src, dst, l4: { proto, sport, dport: flow.port ?? 0 } };
}

function directionsOf(c: Case, node: CompiledNode): Direction[] {
  const evaluator = new Evaluator(c.state);
  const out: Direction[] = [];
  for (const flow of c.flows) {
    let v;
    try {
      v = evaluator.evaluate(flow, { mode: c.mode, now: NOW, learned: c.learned });
    } catch (err) {
      if (err instanceof InvalidFlowError) continue;
      throw err;
    }
    const { src, dst } = resolveEndpoints(evaluator.index, flow.from, flow.to);
    for (const [direction, local, remote, want] of [
      ['egress', src, dst, v.egress],
      ['ingress', dst, src, v.ingress],
    ] as const) {
      const pod = local.pod;
      if (!pod || !node.endpoints.has(pod.key)) continue;
      out.push({ flow, direction, endpoint: pod.key, packet: packetFor(flow, direction, formatIP(local.ip), formatIP(remote.ip)), want });
    }
  }
  return out;
}

let pinDir = '';

/** What dg_policy_v4/v6 hold for (endpoint, direction, peer): the longest-prefix match. */
function kernelList(node: CompiledNode, endpoint: string, dir: 'egress' | 'ingress', peer: string): unknown {
  const ep = node.endpoints.get(endpoint);
  if (!ep) return null;
  const v6 = peer.includes(':');
  const m = openPinnedMap(join(pinDir, v6 ? MAP.policyV6 : MAP.policyV4));
  try {
    const v = m.lookup(v6 ? encodePolicyKeyV6(ep.epId, dir, peer, 128) : encodePolicyKeyV4(ep.epId, dir, peer, 32));
    return v ? decodeRuleList(v) : null;
  } finally {
    m.close();
  }
}

function sameDecision(decided: Comparable | undefined, got: string, want: Comparable): boolean {
  return (
    got === want.verdict &&
    decided !== undefined &&
    decided.verdict === got &&
    decided.tier === want.tier &&
    decided.policy === want.policy &&
    decided.rule === want.rule
  );
}

function reproducer(c: Case, node: CompiledNode, d: Direction, got: string, event: DatapathEvent | undefined): string {
  const peer = d.direction === 'egress' ? d.packet.dst : d.packet.src;
  const packet = { peer, protocol: d.flow.protocol, ...(d.flow.port !== undefined ? { port: d.flow.port } : {}) };
  const model = interpret(node, d.endpoint, d.direction, packet, LearnedSet.fromLearned(node, c.learned), NOW);
  return [
    `datapath disagrees with the evaluator (${c.mode} mode, local ${c.local})`,
    `flow: ${JSON.stringify(d.flow)} direction ${d.direction} of ${d.endpoint}`,
    `evaluator: ${JSON.stringify(d.want)}`,
    `program: ${got}; event: ${JSON.stringify(event ?? null)}`,
    `interpret (the compiled tables): ${JSON.stringify(model)}`,
    `kernel list for the peer: ${JSON.stringify(kernelList(node, d.endpoint, d.direction, peer))}`,
    `prefixes of ${d.endpoint} ${d.direction}: ${JSON.stringify([...(node.endpoints.get(d.endpoint)?.[d.direction].prefixes.values() ?? [])].map((p) => [p.cidr, p.rules]))}`,
    `learned: ${JSON.stringify(c.learned)}`,
    '--- state ---',
    stringify(c.state),
  ].join('\n');
}

describe.skipIf(!needRoot)('EbpfDatapath + program equal the evaluator on generated states', () => {
  const pinRoot = `/sys/fs/bpf/dnsgate-test-${process.pid}-diff`;
  let dp: EbpfDatapath;
  const events: DatapathEvent[] = [];

  beforeAll(() => {
    pinDir = pinRoot;
    dp = EbpfDatapath.open({
      objectPath: builtObject('dnsgate'),
      pinRoot,
      attachPrograms: false,
      noCtInsert: true,
      allowSample: 1,
      events: 'manual',
      clock: () => NOW,
    });
    dp.onEvent((e) => events.push(e));
  });

  afterAll(async () => {
    await dp?.uninstall();
  });

  // One generated run feeds both checks below.
  let checked = 0;
  let fallbacks = 0;
  const tally = new Map<string, number>();
  /** Directions where the program did what the compiled tables say, but the tables are wrong. */
  const compilerBugs: string[] = [];
  let compilerBugCount = 0;

  it(`runs >= ${MIN_DIRECTIONS} flow directions; the program decides every one exactly as the compiled tables say`, async () => {
    const progs = dp.programs();
    let previous: LearnedRef[] = [];
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const pods = c.state.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
        const local = c.local === 'all' ? { pods } : { nodeName: 'n0' };
        const node = compile(c.state, local, { mode: c.mode });
        const model = LearnedSet.fromLearned(node, c.learned);
        await dp.forget(previous);
        await dp.applyNode(node, () => undefined);
        // Live learnings stay live for the whole case on the kernel's clock; expired ones stay expired.
        await dp.learn(c.learned.map((l) => ({ ...l, expiresAt: l.expiresAt > NOW ? NOW + 3_600_000 : l.expiresAt, rules: [] })));
        previous = c.learned.map((l) => ({ pod: l.pod, name: l.name, ip: l.ip }));

        const byEndpoint = new Map<string, Direction[]>();
        for (const d of directionsOf(c, node)) byEndpoint.set(d.endpoint, [...(byEndpoint.get(d.endpoint) ?? []), d]);
        for (const [endpoint, list] of byEndpoint) {
          // Under test-run the packet arrives on the loopback: put this endpoint there.
          await dp.applyNode(node, (k) => (k === endpoint ? TEST_IFINDEX : undefined));
          const ep = node.endpoints.get(endpoint);
          for (const d of list) {
            events.length = 0;
            const r = progs[d.direction].testRun({ data: frame(d.packet), dataOutSize: 0 });
            const got = r.retval === TcAct.OK ? 'Allow' : r.retval === TcAct.SHOT ? 'Deny' : `retval ${r.retval}`;
            dp.pollEvents();
            checked++;
            const event = events.length === 1 ? events[0] : undefined;
            const notEnforced = ep?.config.mode === 'notEnforced';
            const decided = event ? asEvaluator(node, outcomeOf(event)) : notEnforced ? { verdict: 'Allow', tier: 'NotEnforced', policy: null, rule: null } : undefined;
            const key = `${got}:${decided?.tier ?? '?'}`;
            tally.set(key, (tally.get(key) ?? 0) + 1);
            // The model of the program: what the compiled tables say for this packet.
            const peer = d.direction === 'egress' ? d.packet.dst : d.packet.src;
            const pkt = { peer, protocol: d.flow.protocol, ...(d.flow.port !== undefined ? { port: d.flow.port } : {}) };
            const outcome = interpret(node, d.endpoint, d.direction, pkt, model, NOW);
            const expected = asEvaluator(node, outcome);
            if (outcome.reason === 'rule' && got === 'Allow' && ep?.[d.direction].prefixes.get(outcome.cidr)?.rules.some((x) => x.ruleId === outcome.ruleId && x.fqdn)) {
              tally.set('Allow:learned', (tally.get('Allow:learned') ?? 0) + 1);
            }
            if (!sameDecision(decided, got, expected)) throw new Error(reproducer(c, node, d, got, event));
            const want = comparable(d.want);
            if (ep?.[d.direction].fallback === true) {
              fallbacks++;
              // A reported fail-closed fallback may differ from the evaluator, but only by denying.
              if (got !== want.verdict && got !== 'Deny') throw new Error(`fallback allowed: ${reproducer(c, node, d, got, event)}`);
              continue;
            }
            if (!sameDecision(decided, got, want)) {
              compilerBugCount++;
              if (compilerBugs.length < 3) compilerBugs.push(reproducer(c, node, d, got, event));
            }
          }
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.DNSGATE_SEED ?? 20260202), endOnFailure: false },
    );
    const seen = Object.fromEntries([...tally].sort());
    console.log(`bpf differential: ${checked} directions in ${Date.now() - started} ms, ${fallbacks} fallback directions, ${compilerBugCount} where the compiled tables differ from the evaluator`, JSON.stringify(seen));
    expect(checked).toBeGreaterThanOrEqual(MIN_DIRECTIONS);
    for (const k of ['Allow:Admin', 'Deny:Admin', 'Allow:NetworkPolicy', 'Deny:NetworkPolicy', 'Allow:Baseline', 'Deny:Baseline', 'Allow:Default', 'Deny:Default', 'Allow:NotEnforced']) {
      expect(seen[k] ?? 0, `${k} in ${JSON.stringify(seen)}`).toBeGreaterThan(200);
    }
    // Allowed through an FQDN rule, i.e. by an IP written with EbpfDatapath.learn.
    expect(seen['Allow:learned'] ?? 0).toBeGreaterThan(50);
    expect(fallbacks).toBeLessThan(checked / 100);
  }, 600_000);

  // Where the program follows the tables but the tables are wrong, the compiler is at fault (for
  // example, Baseline entries an Admin Accept shadowed although an Admin Pass made them reachable,
  // fixed in src/compile 0e48906); the first such direction is printed as a reproducer.
  it('and so gives the evaluator\'s verdict, tier, policy and rule on every direction', () => {
    expect(checked).toBeGreaterThanOrEqual(MIN_DIRECTIONS);
    if (compilerBugs.length > 0) console.error(`compiled tables disagree with the evaluator (a src/compile bug):\n${compilerBugs[0]}`);
    expect(compilerBugs.length, compilerBugs[0]).toBe(0);
  });
});
