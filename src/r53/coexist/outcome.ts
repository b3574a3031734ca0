// One (subject, name, query type) put together: the firewall's answer, what the proxy learns from
// it, the evaluator's verdict on the addresses the pod gets, and the effective outcome.
import { learnedExpiry } from '../../fqdn/learned.js';
import type { TTLBounds } from '../../fqdn/learned.js';
import type { Evaluator } from '../../policy/evaluate.js';
import type { NameAnswer } from './firewall-answer.js';
import { policyVerdict } from './policy-check.js';
import type { EvalSettings } from './policy-check.js';
import type { SubjectContext } from './subjects.js';
import type { FirewallView, LearnedView, Outcome, PatternRef, PolicyView, TypeResult } from './types.js';

const FAMILY = { A: 4, AAAA: 6 } as const;

export function ruleText(fw: FirewallView): string {
  return `${fw.ruleGroup ?? '?'}/${fw.rule ?? '?'} (list ${fw.domainList ?? '?'}: ${fw.entry ?? '?'})`;
}

function ports(p: PolicyView): string {
  return p.allowedPorts.join(', ');
}

function allowedBy(p: PolicyView): string {
  const by = p.policy === null ? `${p.tier} tier` : `${p.policy} rule ${String(p.rule)}`;
  return `${by}${p.byLearning ? ', through the learned addresses' : ''}`;
}

function addressText(p: PolicyView): string {
  return p.addressesKnown ? p.addresses.join(', ') : 'addresses outside --zones';
}

function effectiveOutcome(qtype: 'A' | 'AAAA', answer: NameAnswer, policy: PolicyView | null): Outcome {
  const fw = answer.firewall;
  const rcode = answer.dns.rcode;
  if (fw.verdict === 'SERVFAIL') {
    return { kind: 'blocked-by-firewall', rcode: 'SERVFAIL', summary: 'DNS Firewall unavailable and failing closed: SERVFAIL' };
  }
  if (fw.verdict === 'BLOCK' && fw.blockResponse !== 'OVERRIDE') {
    const where = fw.chainIndex ? ` at ${fw.matchedName ?? '?'} (CNAME chain step ${fw.chainIndex})` : '';
    return { kind: 'blocked-by-firewall', rcode, summary: `${ruleText(fw)} blocks${where}: ${rcode}` };
  }
  if (fw.verdict === 'BLOCK') {
    const target = fw.overrideDomain ?? '?';
    if (policy === null) {
      return { kind: 'override-denied', rcode, summary: `rewritten to ${target} by ${ruleText(fw)}, which has no ${qtype} record: nothing to connect to` };
    }
    if (policy.verdict === 'Allow') {
      return { kind: 'override-allowed', rcode, summary: `rewritten to ${target} by ${ruleText(fw)}; ${addressText(policy)} allowed on ${ports(policy)} (${allowedBy(policy)})` };
    }
    return { kind: 'override-denied', rcode, summary: `rewritten to ${target} by ${ruleText(fw)}; ${addressText(policy)} denied: ${policy.reason}` };
  }
  if (policy === null) return { kind: 'no-address', rcode, summary: `no ${qtype} address in the zones: ${rcode}` };
  if (policy.verdict === 'Deny') return { kind: 'blocked-by-policy', rcode, summary: `resolves to ${addressText(policy)}; egress denied: ${policy.reason}` };
  if (fw.action === 'ALERT') {
    return { kind: 'alert-only', rcode, summary: `reachable on ${ports(policy)} (${allowedBy(policy)}); ALERT logged by ${ruleText(fw)}` };
  }
  return { kind: 'reachable', rcode, summary: `reachable on ${ports(policy)} (${allowedBy(policy)})` };
}

export interface TypeQuestion {
  readonly subject: SubjectContext;
  readonly name: string;
  /** The subject's patterns matching the query name: the proxy learns iff there is one. */
  readonly patterns: readonly PatternRef[];
  readonly answer: NameAnswer;
}

export interface TypeSettings extends EvalSettings {
  /** The proxy's minTTL/maxTTL, which decide how long a learning opens new connections. */
  readonly ttlBounds: TTLBounds;
}

export function typeResult(evaluator: Evaluator, q: TypeQuestion, settings: TypeSettings): TypeResult {
  const { answer, subject, name } = q;
  const qtype = answer.qtype;
  const family = FAMILY[qtype];
  const fw = answer.firewall;
  const delivers = fw.verdict === 'ANSWER' || fw.blockResponse === 'OVERRIDE';
  const nothing = answer.dns.known && answer.addresses.length === 0;
  const learn = q.patterns.length > 0;
  if (learn && delivers && answer.chainProblem !== null) {
    // The proxy reads the chain only for a pod that learns from it; the others get the answer as is.
    const dns = { rcode: 'SERVFAIL' as const, answers: [], known: true };
    const summary = `the proxy answers SERVFAIL and learns nothing: ${answer.chainProblem}`;
    return { qtype, firewall: fw, dns, learned: [], policy: null, intended: null, outcome: { kind: 'refused-by-proxy', rcode: 'SERVFAIL', summary } };
  }

  // The proxy learns whatever the answer holds, also addresses of a family the pod does not have.
  const patterns = q.patterns.map((p) => p.pattern);
  let learned: LearnedView[] = [];
  if (learn && delivers && !nothing) {
    learned = answer.dns.known
      ? answer.addresses.map((a) => ({ name, ip: a.ip, ttl: a.ttl, learnedForSeconds: learnedExpiry(0, a.ttl, settings.ttlBounds) / 1000, patterns }))
      : [{ name, ip: '?', ttl: null, learnedForSeconds: null, patterns }];
  }

  if (!subject.subject.families.includes(family)) {
    return {
      qtype,
      firewall: fw,
      dns: answer.dns,
      learned,
      policy: null,
      intended: null,
      outcome: { kind: 'no-family', rcode: answer.dns.rcode, summary: `the pod has no IPv${family} address` },
    };
  }
  const base = { subject, family, name, learn } as const;
  // Nothing of this type to connect to, firewall or not: no intended verdict either.
  const unfiltered = answer.unfiltered;
  const intended =
    unfiltered.known && unfiltered.addresses.length === 0
      ? null
      : policyVerdict(evaluator, { ...base, addresses: unfiltered.addresses.map((a) => a.ip), known: unfiltered.known }, settings);
  const policy = delivers && !nothing ? policyVerdict(evaluator, { ...base, addresses: answer.addresses.map((a) => a.ip), known: answer.dns.known }, settings) : null;
  return { qtype, firewall: fw, dns: answer.dns, learned, policy, intended, outcome: effectiveOutcome(qtype, answer, policy) };
}
