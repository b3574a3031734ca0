// Where DNS Firewall and the cluster's policies disagree, from the analysed rows and from the two
// rule sets side by side. Redirection differences are found by asking the emulator's own
// decideFirewall about the same chain with every rule's redirection action flipped.
import { patternMatchesName } from '../../fqdn/pattern.js';
import { decideFirewall } from '../decide.js';
import type { FirewallDecision } from '../decide.js';
import type { FirewallConfig, FirewallRule, RedirectionAction } from '../firewall-model.js';
import { isAtOrBelow } from '../names.js';
import type { AnalysisContext } from './analyze.js';
import { QTYPE_NUMBERS } from './firewall-answer.js';
import { ruleText } from './outcome.js';
import type { Conflict, NameEntry, PatternRef, Row } from './types.js';

class ConflictSet {
  private readonly byKey = new Map<string, { conflict: Conflict; subjects: Set<string> }>();

  add(conflict: Conflict): void {
    const key = `${conflict.kind}|${conflict.name ?? ''}|${conflict.policy ?? ''}|${conflict.firewall ?? ''}|${conflict.detail}`;
    const found = this.byKey.get(key);
    if (found) for (const s of conflict.subjects) found.subjects.add(s);
    else this.byKey.set(key, { conflict, subjects: new Set(conflict.subjects) });
  }

  list(): Conflict[] {
    return [...this.byKey.values()].map(({ conflict, subjects }) => ({ ...conflict, subjects: [...subjects].sort() }));
  }
}

function policyText(p: PatternRef): string {
  return `${p.policy} rule ${String(p.rule)} pattern ${p.pattern}`;
}

/** Every (rule, entry) of the firewall with its place, for the static comparisons. */
function firewallEntries(config: FirewallConfig) {
  return config.associations.flatMap((a) =>
    a.ruleGroup.rules.flatMap((rule) => rule.domainList.entries.entries.map((entry) => ({ group: a.ruleGroup.name, rule, entry }))),
  );
}

function entryRuleText(e: ReturnType<typeof firewallEntries>[number]): string {
  return `${e.group}/${e.rule.name} (list ${e.rule.domainList.name}: ${e.entry.raw})`;
}

/** Firewall entries below `suffix` that let names through: a block of the probe is not "always". */
function exceptionsUnder(config: FirewallConfig, suffix: string): string[] {
  return firewallEntries(config)
    .filter((e) => e.rule.action !== 'BLOCK' || e.rule.blockResponse === 'OVERRIDE')
    .filter((e) => {
      const entry = e.entry;
      if (entry.kind === 'exact') return isAtOrBelow(entry.name, suffix);
      if (entry.kind === 'wildcard') return isAtOrBelow(entry.suffix, suffix);
      return entry.kind === 'glued' && isAtOrBelow(entry.rest, suffix);
    })
    .map((e) => e.entry.raw);
}

function deadRules(context: AnalysisContext, rows: readonly Row[], out: ConflictSet): void {
  for (const row of rows) {
    const applicable = row.results.filter((r) => r.outcome.kind !== 'no-family');
    if (applicable.length === 0) continue;
    if (!applicable.every((r) => r.outcome.kind === 'blocked-by-firewall' && r.firewall.verdict === 'BLOCK')) continue;
    const intended = applicable.filter((r) => r.intended?.verdict === 'Allow');
    if (intended.length === 0) continue;
    // Only the pattern the row stands for: a wildcard is not dead because one name below it is.
    const own = row.patterns.filter((p) => p.pattern.toLowerCase().replace(/\.$/, '') === (row.probeFor ?? row.name));
    if (own.length === 0) continue;
    if (row.probeFor !== null && exceptionsUnder(context.firewall, row.probeFor.slice(2)).length > 0) continue;
    const first = applicable[0]!;
    const ports = [...new Set(intended.flatMap((r) => r.intended?.allowedPorts ?? []))].join(', ');
    for (const p of own) {
      out.add({
        kind: 'dead-rule',
        name: row.name,
        subjects: [row.subject],
        policy: policyText(p),
        firewall: ruleText(first.firewall),
        detail: `the policy allows ${p.pattern} on ${ports}, but the firewall answers ${applicable.map((r) => `${r.qtype} ${r.dns.rcode}`).join(', ')}: the rule never opens anything`,
      });
    }
  }
}

function unreachableOverrides(rows: readonly Row[], out: ConflictSet): void {
  const byRule = new Map<string, { firewall: string; target: string; names: Set<string>; subjects: Set<string>; reached: boolean }>();
  for (const row of rows) {
    for (const r of row.results) {
      if (r.firewall.blockResponse !== 'OVERRIDE' || r.outcome.kind === 'no-family') continue;
      const firewall = ruleText(r.firewall);
      const key = `${r.firewall.ruleGroup ?? ''}/${r.firewall.rule ?? ''}`;
      let group = byRule.get(key);
      if (!group) {
        group = { firewall, target: r.firewall.overrideDomain ?? '?', names: new Set(), subjects: new Set(), reached: false };
        byRule.set(key, group);
      }
      group.names.add(row.name);
      group.subjects.add(row.subject);
      if (r.outcome.kind === 'override-allowed') group.reached = true;
    }
  }
  for (const g of byRule.values()) {
    if (g.reached) continue;
    out.add({
      kind: 'override-unreachable',
      name: g.target,
      subjects: [...g.subjects],
      policy: null,
      firewall: g.firewall,
      detail: `OVERRIDE target ${g.target} (for ${[...g.names].sort().join(', ')}) is reachable by none of the analysed pods`,
    });
  }
}

function wildcardDifferences(context: AnalysisContext, out: ConflictSet, notes: string[]): void {
  const apexMatches = context.firewall.settings.wildcardMatchesApex;
  const entries = firewallEntries(context.firewall);
  for (const ctx of context.subjects) {
    for (const p of ctx.patterns) {
      const pattern = p.pattern.toLowerCase().replace(/\.$/, '');
      for (const e of entries) {
        if (e.entry.kind === 'any') {
          out.add({
            kind: 'wildcard-semantics',
            name: null,
            subjects: [ctx.subject.id],
            policy: policyText(p),
            firewall: entryRuleText(e),
            detail: `the firewall's "*" matches every name (single-label names and zone apexes included); a domainNames pattern cannot say that ("*." needs two labels after it), so ${e.rule.action} applies to ${pattern} and to everything else`,
          });
          continue;
        }
        if (e.entry.kind !== 'wildcard' || !pattern.startsWith('*.')) continue;
        const suffix = pattern.slice(2);
        if (!e.entry.suffix.includes('.') && isAtOrBelow(suffix, e.entry.suffix)) {
          out.add({
            kind: 'wildcard-semantics',
            name: null,
            subjects: [ctx.subject.id],
            policy: policyText(p),
            firewall: entryRuleText(e),
            detail: `the firewall entry ${e.entry.raw} covers a whole top-level domain, which no domainNames pattern can (two labels needed after "*."), and ${e.rule.action} applies to all of ${pattern}`,
          });
        }
        if (e.entry.suffix !== suffix) continue;
        if (apexMatches) {
          out.add({
            kind: 'wildcard-apex',
            name: suffix,
            subjects: [ctx.subject.id],
            policy: policyText(p),
            firewall: entryRuleText(e),
            detail: `${e.entry.raw} matches the apex ${suffix} in the firewall (wildcardMatchesApex: true), ${pattern} never matches it in the policy: ${e.rule.action} applies to ${suffix}, the policy does not open it`,
          });
        } else {
          const note = `${pattern} (policy) and ${e.entry.raw} (${e.group}/${e.rule.name}) agree on the apex ${suffix} only because wildcardMatchesApex is false; AWS does not document it, and with true the firewall's ${e.rule.action} would also apply to ${suffix}`;
          if (!notes.includes(note)) notes.push(note);
        }
      }
    }
  }
}

function subjectsMatching(context: AnalysisContext, name: string): string[] {
  return context.subjects.filter((c) => c.patterns.some((p) => patternMatchesName(p.pattern, name))).map((c) => c.subject.id);
}

function qtypeSplits(context: AnalysisContext, names: readonly NameEntry[], out: ConflictSet): void {
  for (const entry of names) {
    const [a, aaaa] = context.answers.get(entry.name) ?? [];
    if (!a || !aaaa) continue;
    const fa = a.firewall;
    const f6 = aaaa.firewall;
    if (fa.verdict === f6.verdict && fa.blockResponse === f6.blockResponse) continue;
    const filtered = [a, aaaa].find((x) => x.engine.decision.deciding?.rule.qtype !== undefined);
    if (!filtered) continue;
    const blocked = [a, aaaa].filter((x) => x.firewall.verdict === 'BLOCK').map((x) => x.qtype);
    const open = [a, aaaa].filter((x) => x.firewall.verdict !== 'BLOCK').map((x) => x.qtype);
    out.add({
      kind: 'qtype-split',
      name: entry.name,
      subjects: subjectsMatching(context, entry.name),
      policy: null,
      firewall: ruleText(filtered.firewall),
      detail: `a Qtype-limited rule treats ${entry.name} differently by type: ${blocked.join('/')} blocked (${[a, aaaa]
        .filter((x) => x.firewall.verdict === 'BLOCK')
        .map((x) => x.dns.rcode)
        .join('/')}), ${open.join('/')} answered; dual-stack pods fall back to the other family, single-stack pods of the blocked family cannot reach it`,
    });
  }
}

/** The config with `redirection` on every rule, or only on `only` (rules compared by identity). */
function withRedirection(config: FirewallConfig, redirection: RedirectionAction, only?: ReadonlySet<FirewallRule>): FirewallConfig {
  return {
    ...config,
    associations: config.associations.map((a) => ({
      ...a,
      ruleGroup: { ...a.ruleGroup, rules: a.ruleGroup.rules.map((r) => (only === undefined || only.has(r) ? { ...r, redirection } : r)) },
    })),
  };
}

/** Same outcome and same deciding rule (compared by identity fields: flipped configs copy rules). */
function sameDecision(x: FirewallDecision, y: FirewallDecision): boolean {
  const rule = (d: FirewallDecision): string => (d.deciding ? `${d.deciding.associationId}/${d.deciding.ruleName}@${d.deciding.chainIndex}` : '');
  return x.verdict === y.verdict && x.blockedAt === y.blockedAt && rule(x) === rule(y);
}

function redirectionChains(context: AnalysisContext, names: readonly NameEntry[], out: ConflictSet): void {
  const inspectAll = withRedirection(context.firewall, 'INSPECT_REDIRECTION_DOMAIN');
  // TRUST can only help through the rules that let the names before the blocked one through; with
  // trustRedirectionScope first-name only the query name's rule (TRUST never matches further on).
  const firstNameOnly = context.firewall.settings.trustRedirectionScope === 'first-name';
  for (const entry of names) {
    for (const answer of context.answers.get(entry.name) ?? []) {
      if (answer.chain.length === 0 || answer.engine.decision.verdict === 'SERVFAIL') continue;
      const actual = answer.engine.decision;
      const type = QTYPE_NUMBERS[answer.qtype];
      const inspected = decideFirewall(inspectAll, entry.name, type, answer.chain);
      const chain = [entry.name, ...answer.chain].join(' -> ');
      const subjects = subjectsMatching(context, entry.name);
      if (actual.verdict !== 'BLOCK' && inspected.verdict === 'BLOCK' && !sameDecision(actual, inspected)) {
        const trustedBy = actual.matches.find((m) => m.rule.redirection === 'TRUST_REDIRECTION_DOMAIN');
        const blocker = inspected.deciding!;
        out.add({
          kind: 'redirection-chain',
          name: entry.name,
          subjects,
          policy: null,
          firewall: trustedBy ? `${trustedBy.ruleGroupName}/${trustedBy.ruleName} (TRUST_REDIRECTION_DOMAIN)` : null,
          detail: `chain ${chain}: TRUST_REDIRECTION_DOMAIN lets ${blocker.name} through uninspected; inspected, ${blocker.ruleGroupName}/${blocker.ruleName} would block it, and the pod learns ${blocker.name}'s addresses under ${entry.name}`,
        });
      }
      const passedBefore = actual.matches.filter((m) => m.chainIndex < (actual.blockedAt ?? 0) && (!firstNameOnly || m.chainIndex === 0));
      const trusted =
        passedBefore.length === 0
          ? actual
          : decideFirewall(withRedirection(context.firewall, 'TRUST_REDIRECTION_DOMAIN', new Set(passedBefore.map((m) => m.rule))), entry.name, type, answer.chain);
      if (actual.verdict === 'BLOCK' && (actual.blockedAt ?? 0) > 0 && !sameDecision(actual, trusted)) {
        const blocker = actual.deciding!;
        const first = actual.matches.find((m) => m.chainIndex === 0);
        out.add({
          kind: 'redirection-chain',
          name: entry.name,
          subjects,
          policy: null,
          firewall: `${blocker.ruleGroupName}/${blocker.ruleName} (list ${blocker.domainListName}: ${blocker.entry})`,
          detail: `chain ${chain}: ${entry.name} itself passes (${first ? `${first.ruleGroupName}/${first.ruleName} ${first.action}, INSPECT_REDIRECTION_DOMAIN` : 'no rule'}) but its CNAME target ${blocker.name} is blocked, so a policy that allows ${entry.name} gets ${answer.dns.rcode}; with TRUST_REDIRECTION_DOMAIN on that rule it would resolve`,
        });
      }
    }
  }
}

export function findConflicts(context: AnalysisContext, names: readonly NameEntry[], rows: readonly Row[]): { conflicts: Conflict[]; notes: string[] } {
  const out = new ConflictSet();
  const notes: string[] = [];
  deadRules(context, rows, out);
  unreachableOverrides(rows, out);
  wildcardDifferences(context, out, notes);
  qtypeSplits(context, names, out);
  redirectionChains(context, names, out);
  return { conflicts: out.list(), notes };
}
