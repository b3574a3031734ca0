// The DNS side of one (name, query type): what the emulator's engine answers (the firewall applied
// to the test zones), what the same zones answer without the firewall, and the addresses dnsgate's
// proxy would take from each answer. Decisions come from answerQuestion/decideFirewall only.
import { formatIP, tryParseIP } from '../../policy/ip.js';
import type { RuleMatch } from '../decide.js';
import { answerQuestion } from '../engine.js';
import type { EngineAnswer } from '../engine.js';
import type { FirewallConfig } from '../firewall-model.js';
import { canonicalName } from '../names.js';
import { resolveName } from '../resolve.js';
import type { ResourceRecord, ZoneSet } from '../zone-model.js';
import type { AnswerRecord, DnsView, FirewallView, PodRcode, QueryType } from './types.js';

export const QTYPE_NUMBERS: Readonly<Record<QueryType, number>> = { A: 1, AAAA: 28 };

export interface Address {
  readonly ip: string;
  /** Lowest TTL along the chain from the query name. */
  readonly ttl: number;
}

export interface NameAnswer {
  readonly qtype: QueryType;
  readonly engine: EngineAnswer;
  readonly firewall: FirewallView;
  readonly dns: DnsView;
  /** Addresses reachable from the query name in the engine's answer. */
  readonly addresses: readonly Address[];
  /**
   * Why the proxy would refuse the engine's answer for a pod that learns from it (SERVFAIL,
   * nothing learned), or null: the same chain rules as src/dns/answer.ts.
   */
  readonly chainProblem: string | null;
  /** The CNAME targets the zones lead to (what the firewall inspects after the query name). */
  readonly chain: readonly string[];
  /** The zones' own answer, without the firewall: what the policy author expects the name to be. */
  readonly unfiltered: { readonly addresses: readonly Address[]; readonly known: boolean };
}

const MAX_CHAIN = 16;

/**
 * A/AAAA records reachable from `qname` through the CNAMEs of `answers`, each with the lowest TTL
 * on its way; an address reached twice keeps the longer TTL. This is SEMANTICS.md section 5's
 * "only the A/AAAA records actually in the answer ... through the CNAME chain" (src/dns applies the
 * same rule to wire messages; the proxy consistency test holds the two together).
 */
export function learnableAddresses(answers: readonly ResourceRecord[], qname: string): Address[] {
  const cname = new Map<string, ResourceRecord>();
  for (const rr of answers) if (rr.type === 'CNAME' && !cname.has(canonicalName(rr.name))) cname.set(canonicalName(rr.name), rr);
  const reach = new Map<string, number>([[canonicalName(qname), Number.POSITIVE_INFINITY]]);
  let current = canonicalName(qname);
  let ttl = Number.POSITIVE_INFINITY;
  for (let hops = 0; hops < MAX_CHAIN; hops++) {
    const link = cname.get(current);
    if (link === undefined) break;
    const target = canonicalName(link.data as string);
    if (reach.has(target)) break;
    ttl = Math.min(ttl, link.ttl);
    current = target;
    reach.set(current, ttl);
  }
  const best = new Map<string, number>();
  for (const rr of answers) {
    if (rr.type !== 'A' && rr.type !== 'AAAA') continue;
    const chainTtl = reach.get(canonicalName(rr.name));
    if (chainTtl === undefined) continue;
    const parsed = tryParseIP(rr.data);
    if (!parsed) continue;
    const ip = formatIP(parsed);
    const t = Math.min(chainTtl, rr.ttl);
    const prev = best.get(ip);
    if (prev === undefined || t > prev) best.set(ip, t);
  }
  return [...best].map(([ip, t]) => ({ ip, ttl: t }));
}

/**
 * What makes dnsgate's proxy treat an answer's CNAME chain as invalid: two different targets for
 * one name (RFC 2181 10.1), a loop, or more than MAX_CHAIN hops. The pod's resolver could read
 * such a chain differently from the proxy, so the proxy answers SERVFAIL instead of learning.
 */
export function chainProblem(answers: readonly ResourceRecord[], qname: string): string | null {
  const target = new Map<string, string>();
  for (const rr of answers) {
    if (rr.type !== 'CNAME') continue;
    const owner = canonicalName(rr.name);
    const to = canonicalName(rr.data as string);
    const seen = target.get(owner);
    if (seen === undefined) target.set(owner, to);
    else if (seen !== to) return `two CNAME targets for ${owner}`;
  }
  const visited = new Set<string>([canonicalName(qname)]);
  let current = canonicalName(qname);
  for (let hops = 0; ; hops++) {
    const next = target.get(current);
    if (next === undefined) return null;
    if (visited.has(next)) return `CNAME loop at ${next}`;
    if (hops === MAX_CHAIN) return `CNAME chain longer than ${MAX_CHAIN}`;
    visited.add(next);
    current = next;
  }
}

function recordView(rr: ResourceRecord): AnswerRecord {
  const data = typeof rr.data === 'string' ? rr.data : JSON.stringify(rr.data);
  return { name: rr.name, type: rr.type, ttl: rr.ttl, data };
}

/** The rcode as the pod's resolver reports it, NODATA told apart from an answer. */
export function podRcode(engine: EngineAnswer, qtype: QueryType): PodRcode {
  if (engine.rcode !== 'NOERROR') return engine.rcode;
  return engine.answers.some((r) => r.type === qtype) ? 'NOERROR' : 'NOERROR-NODATA';
}

function firewallView(engine: EngineAnswer): FirewallView {
  const d = engine.decision;
  const m: RuleMatch | undefined = d.deciding;
  const blockResponse = d.verdict === 'BLOCK' ? (m?.rule.blockResponse ?? 'NODATA') : null;
  return {
    verdict: d.verdict,
    action: d.action ?? null,
    blockResponse,
    overrideDomain: blockResponse === 'OVERRIDE' ? (m?.rule.override?.domain ?? null) : null,
    ruleGroup: m?.ruleGroupName ?? null,
    rule: m?.ruleName ?? null,
    domainList: m?.domainListName ?? null,
    entry: m?.entry ?? null,
    matchedName: m?.name ?? null,
    chainIndex: m?.chainIndex ?? null,
    redirection: m?.rule.redirection ?? null,
    inspected: [...d.inspected],
    bypassed: d.bypassed,
  };
}

/** Whether the engine's answer is the whole truth, or stands in for a resolver outside the zones. */
function answerKnown(zones: ZoneSet, firewall: FirewallConfig, engine: EngineAnswer, name: string, qtype: number, inZones: boolean): boolean {
  const d = engine.decision;
  if (d.verdict === 'SERVFAIL') return true;
  if (d.verdict === 'ANSWER') return inZones;
  const rule = d.deciding?.rule;
  if (rule?.blockResponse !== 'OVERRIDE' || !firewall.settings.overrideResolvesTarget) return true;
  // inspectOverrideTarget: a blocked target's answer is the firewall's, known whatever the zones hold.
  if (engine.overrideTarget?.decision.verdict === 'BLOCK') return true;
  // The VPC resolver resolves the override target; the emulator only knows it from the zones.
  const target = resolveName(zones, rule.override?.domain ?? name, qtype, { unknownNameRcode: firewall.settings.unknownNameRcode });
  return target.inZones;
}

export function answerFor(zones: ZoneSet, firewall: FirewallConfig, name: string, qtype: QueryType): NameAnswer {
  const type = QTYPE_NUMBERS[qtype];
  const resolution = resolveName(zones, name, type, { unknownNameRcode: firewall.settings.unknownNameRcode });
  const engine = answerQuestion(zones, firewall, name, type);
  const known = answerKnown(zones, firewall, engine, name, type, resolution.inZones);
  return {
    qtype,
    engine,
    firewall: firewallView(engine),
    dns: { rcode: podRcode(engine, qtype), answers: engine.answers.map(recordView), known },
    addresses: learnableAddresses(engine.answers, name),
    chainProblem: chainProblem(engine.answers, name),
    chain: resolution.names.slice(1),
    unfiltered: { addresses: learnableAddresses(resolution.answers, name), known: resolution.inZones },
  };
}
