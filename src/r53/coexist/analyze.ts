// `dnsgate coexist` as a pure function: cluster state + firewall (+ zones, names) -> report.
import type { ClusterState } from '../../api/types.js';
import { DEFAULT_TTL_BOUNDS } from '../../fqdn/learned.js';
import type { TTLBounds } from '../../fqdn/learned.js';
import { patternMatchesName } from '../../fqdn/pattern.js';
import { Evaluator } from '../../policy/evaluate.js';
import type { EnforcementMode } from '../../policy/verdict.js';
import type { FirewallConfig } from '../firewall-model.js';
import { ZoneSet } from '../zone-model.js';
import { findConflicts } from './conflicts.js';
import { answerFor } from './firewall-answer.js';
import type { NameAnswer } from './firewall-answer.js';
import { defaultNames } from './names.js';
import { typeResult } from './outcome.js';
import type { TypeSettings } from './outcome.js';
import { PLACEHOLDER_ADDRESS } from './policy-check.js';
import { buildSubjects } from './subjects.js';
import type { PortProbe, SubjectContext } from './subjects.js';
import type { CoexistReport, NameEntry, QueryType, Row, TypeResult } from './types.js';

export interface CoexistInput {
  readonly state: ClusterState;
  readonly firewall: FirewallConfig;
  /** Test zones; without them every answer the firewall lets through is "not known". */
  readonly zones?: ZoneSet;
  /** Names to analyse; default: the policies' patterns and the firewall's entries. */
  readonly names?: readonly NameEntry[];
  readonly mode?: EnforcementMode;
  /** Ports to probe instead of the ones the subjects' egress rules name. */
  readonly ports?: readonly PortProbe[];
  /** The instant of the evaluation (ms); learnings are made at this instant. */
  readonly now?: number;
  /** The proxy's minTTL/maxTTL (default: the proxy's defaults, DEFAULT_TTL_BOUNDS). */
  readonly ttlBounds?: TTLBounds;
}

export interface AnalysisContext {
  readonly evaluator: Evaluator;
  readonly firewall: FirewallConfig;
  readonly subjects: readonly SubjectContext[];
  readonly answers: ReadonlyMap<string, readonly NameAnswer[]>;
}

const QTYPES: readonly QueryType[] = ['A', 'AAAA'];

function rowNotes(ctx: SubjectContext, entry: NameEntry, results: readonly TypeResult[], learn: boolean): string[] {
  const notes: string[] = [];
  if (entry.probeFor !== null) notes.push(`${entry.name} stands for every name under ${entry.probeFor}`);
  const override = results.find((r) => r.firewall.blockResponse === 'OVERRIDE' && r.outcome.kind !== 'no-family');
  if (override) {
    const target = override.firewall.overrideDomain ?? '?';
    if (learn) {
      notes.push(`the proxy learns ${target}'s addresses under ${entry.name} (the query name), so the pattern that matches ${entry.name} opens them`);
    } else {
      notes.push(`no pattern of the pod matches ${entry.name}, so the proxy learns nothing from the rewritten answer`);
      const onTarget = ctx.patterns.filter((p) => patternMatchesName(p.pattern, target));
      if (onTarget.length > 0) {
        notes.push(
          `${onTarget.map((p) => p.pattern).join(', ')} matches the target ${target}, but the proxy matches patterns against the query name only: ${target} is not opened through it`,
        );
      }
    }
  }
  if (results.some((r) => r.policy !== null && !r.policy.addressesKnown)) {
    notes.push(`the answer's addresses are not in --zones: evaluated at ${PLACEHOLDER_ADDRESS[4]} / ${PLACEHOLDER_ADDRESS[6]}, which only catch-all CIDRs cover`);
  }
  return notes;
}

function buildRow(context: AnalysisContext, ctx: SubjectContext, entry: NameEntry, settings: TypeSettings): Row {
  const patterns = ctx.patterns.filter((p) => patternMatchesName(p.pattern, entry.name));
  const answers = context.answers.get(entry.name) ?? [];
  const results = answers.map((answer) => typeResult(context.evaluator, { subject: ctx, name: entry.name, patterns, answer }, settings));
  const primary = ctx.subject.families.includes(4) ? results[0] : results[1];
  return {
    subject: ctx.subject.id,
    name: entry.name,
    probeFor: entry.probeFor,
    patterns,
    results,
    outcome: primary?.outcome.kind ?? 'no-family',
    notes: rowNotes(ctx, entry, results, patterns.length > 0),
  };
}

export function analyzeCoexistence(input: CoexistInput): CoexistReport {
  const evaluator = new Evaluator(input.state);
  const zones = input.zones ?? new ZoneSet([]);
  const mode = input.mode ?? 'standard';
  const now = input.now ?? 0;
  const ttlBounds = input.ttlBounds ?? DEFAULT_TTL_BOUNDS;
  const { subjects, skipped } = buildSubjects(evaluator, input.ports ? { ports: input.ports } : {});
  const names = input.names ?? defaultNames(evaluator.model, input.firewall);

  const answers = new Map<string, NameAnswer[]>();
  for (const entry of names) answers.set(entry.name, QTYPES.map((q) => answerFor(zones, input.firewall, entry.name, q)));
  const context: AnalysisContext = { evaluator, firewall: input.firewall, subjects, answers };

  const rows = subjects.flatMap((ctx) => names.map((entry) => buildRow(context, ctx, entry, { mode, now, ttlBounds })));
  const notes = skipped.map((s) => `not analysed: ${s}`);
  if (subjects.length === 0) notes.push('no pod to analyse: give the cluster state (Pods, Namespaces) with the policies');
  if (input.zones === undefined) notes.push('no --zones: answers the firewall lets through are not known; their addresses are placeholders');
  const found = findConflicts(context, names, rows);
  const s = input.firewall.settings;
  return {
    version: 1,
    mode,
    firewall: {
      wildcardMatchesApex: s.wildcardMatchesApex,
      gluedWildcard: s.gluedWildcard,
      trustRedirectionScope: s.trustRedirectionScope,
      keepChainBeforeBlock: s.keepChainBeforeBlock,
      overrideResolvesTarget: s.overrideResolvesTarget,
      inspectOverrideTarget: s.inspectOverrideTarget,
      available: s.firewallAvailable,
      failOpen: s.failOpen,
    },
    zonesGiven: input.zones !== undefined,
    learning: { minTTL: ttlBounds.minTTL, maxTTL: ttlBounds.maxTTL },
    subjects: subjects.map((c) => c.subject),
    names,
    rows,
    conflicts: found.conflicts,
    notes: [...notes, ...found.notes],
  };
}
