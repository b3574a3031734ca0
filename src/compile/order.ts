// The order of one endpoint direction's rules in every list: Admin by ascending priority, then NP
// rules, then Baseline. Inside one priority level with a single policy the policy's evaluation
// order is kept (written order upstream, Deny/Accept/Pass for EKS: the model already sorted it).
// With several policies at one level the evaluator takes each policy's FIRST matching rule and
// then the best action (Deny > Accept > Pass), then name order: the list sorts that level by
// (action, policy, rule) and marks it `multi`, so the list builder removes from each rule what an
// earlier rule of the same policy with a weaker action would have matched first.
import type { ClusterPolicyModel, Direction, NamespacedPolicyModel, RuleModel } from '../policy/model.js';
import { actionRank } from '../policy/model.js';
import type { RuleAction, RuleTier } from './types.js';

export interface OrderedRule {
  readonly pos: number;
  readonly tier: RuleTier;
  readonly action: RuleAction;
  readonly rank: number;
  /** Unique per policy within the endpoint direction. */
  readonly policyPos: number;
  /** Position in the policy's evaluation-order rule list. */
  readonly evalIdx: number;
  readonly multi: boolean;
  readonly policyRef: string;
  readonly rule: RuleModel;
  readonly ruleId: number;
}

export interface SelectedPolicies {
  /** Sorted like PolicyModel.cluster (priority, then comparePolicyNames). */
  readonly admin: readonly ClusterPolicyModel[];
  readonly baseline: readonly ClusterPolicyModel[];
  /** Sorted by ref; only those whose policyTypes include the direction. */
  readonly np: readonly NamespacedPolicyModel[];
}

const LOWER: Record<string, RuleAction> = { Accept: 'accept', Deny: 'deny', Pass: 'pass' };

export function orderRules(
  direction: Direction,
  selected: SelectedPolicies,
  ruleId: (policyRef: string, rule: RuleModel) => number,
): OrderedRule[] {
  const out: OrderedRule[] = [];
  let policyPos = 0;
  const rulesOf = (p: ClusterPolicyModel | NamespacedPolicyModel): readonly RuleModel[] => (direction === 'Egress' ? p.egress : p.ingress);

  const clusterTier = (tier: RuleTier, policies: readonly ClusterPolicyModel[]): void => {
    let i = 0;
    while (i < policies.length) {
      const priority = (policies[i] as ClusterPolicyModel).priority;
      const level: ClusterPolicyModel[] = [];
      for (; i < policies.length && (policies[i] as ClusterPolicyModel).priority === priority; i++) level.push(policies[i] as ClusterPolicyModel);
      const multi = level.filter((p) => rulesOf(p).length > 0).length > 1;
      const items = level.flatMap((p) => {
        const pp = policyPos++;
        return rulesOf(p).map((rule, evalIdx) => ({ p, pp, rule, evalIdx }));
      });
      if (multi) items.sort((a, b) => actionRank(a.rule.action) - actionRank(b.rule.action) || a.pp - b.pp || a.evalIdx - b.evalIdx);
      for (const it of items) {
        out.push({
          pos: out.length,
          tier,
          action: LOWER[it.rule.action] ?? 'deny',
          rank: actionRank(it.rule.action),
          policyPos: it.pp,
          evalIdx: it.evalIdx,
          multi,
          policyRef: it.p.ref,
          rule: it.rule,
          ruleId: ruleId(it.p.ref, it.rule),
        });
      }
    }
  };

  clusterTier('admin', selected.admin);
  for (const p of selected.np) {
    const pp = policyPos++;
    rulesOf(p).forEach((rule, evalIdx) =>
      out.push({ pos: out.length, tier: 'np', action: 'accept', rank: 1, policyPos: pp, evalIdx, multi: false, policyRef: p.ref, rule, ruleId: ruleId(p.ref, rule) }),
    );
  }
  clusterTier('baseline', selected.baseline);
  return out;
}
