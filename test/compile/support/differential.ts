// Runs flows through the evaluator and through interpret(compile(...)) per direction and lists
// every disagreement (verdict, tier, and the deciding policy and rule).
import type { ClusterState } from '../../../src/api/types.js';
import { type CompiledNode, type LocalPods, LearnedSet, RESERVED_RULE_ID, compile, interpret } from '../../../src/compile/index.js';
import type { Outcome } from '../../../src/compile/index.js';
import { type DirectionVerdict, type EvalOptions, Evaluator, type Flow, InvalidFlowError, formatIP } from '../../../src/policy/index.js';
import { resolveEndpoints } from '../../../src/policy/endpoint.js';

export interface Disagreement {
  readonly flow: Flow;
  readonly direction: 'egress' | 'ingress';
  readonly evaluator: { verdict: string; tier: string; policy: string | null; rule: string | number | null; reason: string };
  readonly compiled: Outcome & { policy?: string | null; rule?: string | number | null };
}

const TIER = { admin: 'Admin', np: 'NetworkPolicy', baseline: 'Baseline' } as const;

/** The evaluator's (verdict, tier, policy, rule) of an interpret() outcome. */
export function asEvaluator(node: CompiledNode, o: Outcome): { verdict: string; tier: string; policy: string | null; rule: string | number | null } {
  const verdict = o.verdict === 'allow' ? 'Allow' : 'Deny';
  switch (o.reason) {
    case 'notEnforced':
    case 'self':
    case 'nodeIp':
      return { verdict, tier: 'NotEnforced', policy: null, rule: null };
    case 'default':
      return { verdict, tier: 'Default', policy: null, rule: null };
    case 'npNoMatch':
      return { verdict, tier: 'NetworkPolicy', policy: null, rule: null };
    case 'rule': {
      // A pod's extra addresses and its node's extra addresses are table entries of the reserved
      // implicit-allow rule: the evaluator's "own address / own node" (not enforced).
      if (o.ruleId === RESERVED_RULE_ID.implicitAllow) return { verdict, tier: 'NotEnforced', policy: null, rule: null };
      const ref = node.rules.get(o.ruleId);
      return { verdict, tier: TIER[o.tier], policy: ref?.policy ?? `?${o.ruleId}`, rule: ref?.rule ?? null };
    }
  }
}

function comparable(v: DirectionVerdict): { verdict: string; tier: string; policy: string | null; rule: string | number | null } {
  // A NetworkPolicy-tier deny names the first isolating policy but no rule; the datapath knows
  // only "isolated and nothing matched", so the policy is not compared there.
  if (v.tier === 'NetworkPolicy' && v.verdict === 'Deny') return { verdict: v.verdict, tier: v.tier, policy: null, rule: null };
  return { verdict: v.verdict, tier: v.tier, policy: v.policy, rule: v.rule };
}

export interface RunResult {
  readonly node: CompiledNode;
  readonly checked: number;
  readonly disagreements: Disagreement[];
  /** How many directions each (verdict, tier) decided: shows the generator reaches every tier. */
  readonly tally: Map<string, number>;
}

/**
 * Every flow's two directions, where the local end is an endpoint of `node` (compiled for
 * `local`): interpret must give the evaluator's verdict, tier, policy and rule.
 */
export function runDifferential(state: ClusterState, local: LocalPods, flows: readonly Flow[], opts: EvalOptions, nodeIn?: CompiledNode): RunResult {
  const evaluator = new Evaluator(state);
  const node = nodeIn ?? compile(state, local, { mode: opts.mode });
  const learned = LearnedSet.fromLearned(node, opts.learned);
  const disagreements: Disagreement[] = [];
  let checked = 0;
  const tally = new Map<string, number>();
  for (const flow of flows) {
    let v;
    try {
      v = evaluator.evaluate(flow, opts);
    } catch (err) {
      // Generated ends without a common IP family are not flows at all.
      if (err instanceof InvalidFlowError) continue;
      throw err;
    }
    const { src, dst } = resolveEndpoints(evaluator.index, flow.from, flow.to);
    const sides = [
      { direction: 'egress' as const, local: src, remote: dst, want: v.egress },
      { direction: 'ingress' as const, local: dst, remote: src, want: v.ingress },
    ];
    for (const side of sides) {
      const pod = side.local.pod;
      if (!pod || !node.endpoints.has(pod.key)) continue;
      checked++;
      const packet = { peer: formatIP(side.remote.ip), protocol: flow.protocol, ...(flow.port !== undefined ? { port: flow.port } : {}) };
      const out = interpret(node, pod.key, side.direction, packet, learned, opts.now);
      const got = asEvaluator(node, out);
      const want = comparable(side.want);
      const t = `${got.verdict}:${got.tier}${out.reason === 'rule' && node.endpoints.get(pod.key)?.[side.direction].prefixes.get(out.cidr)?.rules.find((x) => x.ruleId === out.ruleId)?.fqdn ? ':fqdn' : ''}`;
      tally.set(t, (tally.get(t) ?? 0) + 1);
      if (got.verdict !== want.verdict || got.tier !== want.tier || got.policy !== want.policy || got.rule !== want.rule) {
        disagreements.push({ flow, direction: side.direction, evaluator: { ...want, reason: side.want.reason }, compiled: { ...out, policy: got.policy, rule: got.rule } });
      }
    }
  }
  return { node, checked, disagreements, tally };
}
