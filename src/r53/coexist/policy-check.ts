// The policy side of one (subject, name, family): the reference evaluator asked about egress from
// the subject's pod to each address, on each probed port, with exactly the learnings dnsgate's
// proxy would have made from the answer (none when the pod has no pattern matching the name).
import type { Evaluator } from '../../policy/evaluate.js';
import { learnedAt } from '../../policy/learned.js';
import type { DirectionVerdict, EnforcementMode } from '../../policy/verdict.js';
import { portLabel } from './subjects.js';
import type { PortProbe, SubjectContext } from './subjects.js';
import type { PolicyView } from './types.js';

/**
 * Stand-ins for addresses the analysis cannot know (the answer comes from outside --zones):
 * 240.0.0.0/4 and 100::/64 are reserved and never assigned, so only catch-all CIDRs cover them.
 */
export const PLACEHOLDER_ADDRESS: Readonly<Record<4 | 6, string>> = { 4: '240.0.0.1', 6: '100::1' };

export interface PolicyQuestion {
  readonly subject: SubjectContext;
  readonly family: 4 | 6;
  readonly name: string;
  /** Addresses of `family` the pod would connect to; empty with known=false means unknown. */
  readonly addresses: readonly string[];
  readonly known: boolean;
  /** The proxy learns the addresses under `name` (some pattern of the pod matches it). */
  readonly learn: boolean;
}

export interface EvalSettings {
  readonly mode: EnforcementMode;
  readonly now: number;
}

function egress(evaluator: Evaluator, pod: string, ip: string, probe: PortProbe, learned: ReturnType<typeof learnedAt>[], settings: EvalSettings): DirectionVerdict {
  return evaluator.evaluate({ from: pod, to: ip, protocol: probe.protocol, port: probe.port }, { mode: settings.mode, now: settings.now, learned }).egress;
}

export function policyVerdict(evaluator: Evaluator, q: PolicyQuestion, settings: EvalSettings): PolicyView {
  const pod = q.subject.pod.key;
  const placeholder = !q.known || q.addresses.length === 0;
  const addresses = placeholder ? [PLACEHOLDER_ADDRESS[q.family]] : [...q.addresses];
  const learned = q.learn ? addresses.map((ip) => learnedAt(pod, q.name, ip, settings.now)) : [];

  const allowedPorts: string[] = [];
  const deniedPorts: string[] = [];
  let shown: DirectionVerdict | undefined;
  let firstDenied: DirectionVerdict | undefined;
  let byLearning = false;
  for (const probe of q.subject.ports) {
    const verdicts = addresses.map((ip) => egress(evaluator, pod, ip, probe, learned, settings));
    const denied = verdicts.find((v) => v.verdict === 'Deny');
    if (denied) {
      deniedPorts.push(portLabel(probe));
      firstDenied ??= denied;
      continue;
    }
    allowedPorts.push(portLabel(probe));
    shown ??= verdicts[0];
    if (learned.length > 0 && !byLearning) {
      byLearning = addresses.some((ip) => egress(evaluator, pod, ip, probe, [], settings).verdict === 'Deny');
    }
  }
  const decisive = (shown ?? firstDenied) as DirectionVerdict;
  return {
    verdict: allowedPorts.length > 0 ? 'Allow' : 'Deny',
    addresses,
    addressesKnown: !placeholder,
    allowedPorts,
    deniedPorts,
    byLearning,
    tier: decisive.tier,
    policy: decisive.policy,
    rule: decisive.rule,
    reason: decisive.reason,
  };
}
