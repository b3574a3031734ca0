// The DNS Firewall decision, as a pure function of the configuration, the query and the CNAME
// chain the resolver followed. `dnsgate coexist` calls this too, so the emulator's answers and the
// coexistence analysis cannot disagree.
//
// What AWS documents and this follows:
// - rule groups are evaluated by association priority (lowest first), rules inside a group by rule
//   priority (lowest first); the first rule whose domain list (and Qtype, when set) matches decides;
// - ALLOW, ALERT and BLOCK all stop the inspection of that name ("Alert - stop inspecting the query,
//   permit it to go through, and send an alert to the logs");
// - INSPECT_REDIRECTION_DOMAIN (the default) inspects every domain of the redirection chain;
//   TRUST_REDIRECTION_DOMAIN "inspects only the first domain in the redirection chain".
// Reading of TRUST, the `trustRedirectionScope` setting:
// - first-name (default, the plain reading of AWS's sentence): a TRUST rule only ever matches the
//   query name. When it matches and lets the name through (ALLOW or ALERT), the CNAME targets are
//   trusted and not inspected. On a CNAME target TRUST rules are skipped, so a later rule (of any
//   priority) decides there as if they did not exist.
// - any-name: the redirection action belongs to whichever rule matched a name, anywhere in the
//   chain; a TRUST rule that lets a name through trusts the names after it.
// In both, after an INSPECT rule or when no rule matched, the next name of the chain is inspected
// against the rules again.
import type { FirewallConfig, FirewallRule, RuleAction, RuleGroupAssociation } from './firewall-model.js';
import { canonicalName } from './names.js';
import { qtypeNumber } from './qtypes.js';

export interface RuleMatch {
  /** 0 = the query name, 1 = the first CNAME target, and so on. */
  readonly chainIndex: number;
  readonly name: string;
  /** The domain list entry that matched, as written. */
  readonly entry: string;
  readonly associationId: string;
  readonly associationPriority: number;
  readonly ruleGroupId: string;
  readonly ruleGroupName: string;
  readonly rule: FirewallRule;
  readonly ruleName: string;
  readonly rulePriority: number;
  readonly domainListId: string;
  readonly domainListName: string;
  readonly action: RuleAction;
}

export type FirewallVerdict =
  /** Answer with what the zones hold (no rule, ALLOW, ALERT, or firewall down and failing open). */
  | 'ANSWER'
  /** A BLOCK rule matched the name at `blockedAt`. */
  | 'BLOCK'
  /** The firewall is unavailable and fails closed. */
  | 'SERVFAIL';

export interface FirewallDecision {
  readonly verdict: FirewallVerdict;
  /** The action that shaped the answer: BLOCK, else ALERT if one alerted, else ALLOW, else none. */
  readonly action: RuleAction | undefined;
  /** The match Route 53 reports in the query log (only ALERT and BLOCK are logged by AWS). */
  readonly logged: RuleMatch | undefined;
  /** The match whose action decided (includes ALLOW). */
  readonly deciding: RuleMatch | undefined;
  readonly blockedAt: number | undefined;
  /** One entry per inspected name that matched a rule, in chain order. */
  readonly matches: readonly RuleMatch[];
  /** Names actually inspected, in chain order. */
  readonly inspected: readonly string[];
  /** The firewall was unavailable and FirewallFailOpen let the query through uninspected. */
  readonly bypassed: boolean;
}

function ruleMatch(
  association: RuleGroupAssociation,
  rule: FirewallRule,
  name: string,
  entry: string,
  chainIndex: number,
): RuleMatch {
  return {
    chainIndex,
    name,
    entry,
    associationId: association.id,
    associationPriority: association.priority,
    ruleGroupId: association.ruleGroup.id,
    ruleGroupName: association.ruleGroup.name,
    rule,
    ruleName: rule.name,
    rulePriority: rule.priority,
    domainListId: rule.domainList.id,
    domainListName: rule.domainList.name,
    action: rule.action,
  };
}

/** First rule (across associations, then rules, by priority) that matches one name. */
export function firstMatchingRule(
  config: FirewallConfig,
  name: string,
  qtype: number,
  chainIndex = 0,
): RuleMatch | undefined {
  const canonical = canonicalName(name);
  const options = { wildcardMatchesApex: config.settings.wildcardMatchesApex, gluedWildcard: config.settings.gluedWildcard };
  const skipTrust = chainIndex > 0 && config.settings.trustRedirectionScope === 'first-name';
  for (const association of config.associations) {
    for (const rule of association.ruleGroup.rules) {
      if (rule.qtype !== undefined && rule.qtype !== qtype) continue;
      if (skipTrust && rule.redirection === 'TRUST_REDIRECTION_DOMAIN') continue;
      const entry = rule.domainList.entries.match(canonical, options);
      if (entry !== undefined) return ruleMatch(association, rule, canonical, entry, chainIndex);
    }
  }
  return undefined;
}

/**
 * Decides what DNS Firewall does with a query.
 * @param queryName the name asked for
 * @param qtype the query type, as a number or a name (`A`, `TYPE65`)
 * @param chain the CNAME targets the resolver followed from `queryName`, in order (may be empty)
 */
export function decideFirewall(
  config: FirewallConfig,
  queryName: string,
  qtype: number | string,
  chain: readonly string[] = [],
): FirewallDecision {
  const settings = config.settings;
  if (!settings.firewallAvailable) {
    const open = settings.failOpen === 'ENABLED';
    return {
      verdict: open ? 'ANSWER' : 'SERVFAIL',
      action: undefined,
      logged: undefined,
      deciding: undefined,
      blockedAt: undefined,
      matches: [],
      inspected: [],
      bypassed: open,
    };
  }
  const type = qtypeNumber(qtype);
  if (type === undefined) throw new RangeError(`unknown query type ${JSON.stringify(qtype)}`);

  const names = [queryName, ...chain].map(canonicalName);
  const matches: RuleMatch[] = [];
  const inspected: string[] = [];
  let blocked: RuleMatch | undefined;
  for (const [index, name] of names.entries()) {
    inspected.push(name);
    const match = firstMatchingRule(config, name, type, index);
    if (match === undefined) continue;
    matches.push(match);
    if (match.action === 'BLOCK') {
      blocked = match;
      break;
    }
    if (match.rule.redirection === 'TRUST_REDIRECTION_DOMAIN') break;
  }

  if (blocked !== undefined) {
    return {
      verdict: 'BLOCK',
      action: 'BLOCK',
      logged: blocked,
      deciding: blocked,
      blockedAt: blocked.chainIndex,
      matches,
      inspected,
      bypassed: false,
    };
  }
  const alert = matches.find((m) => m.action === 'ALERT');
  const deciding = alert ?? matches[0];
  return {
    verdict: 'ANSWER',
    action: deciding?.action,
    logged: alert,
    deciding,
    blockedAt: undefined,
    matches,
    inspected,
    bypassed: false,
  };
}
