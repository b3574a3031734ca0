// Turns one question into the answer the emulated VPC resolver gives: resolve from the test zones,
// let DNS Firewall decide on the query name and the CNAME chain, then shape the response.
//
// Choices AWS leaves open, each a setting (EmulatorSettings):
// - keepChainBeforeBlock (default on): a BLOCK on a name inside the chain keeps the CNAME records
//   that lead to it and applies the block response to that name, as a resolver applying policy at
//   each step would present it; off, the block response stands alone, as for the query name.
// - OVERRIDE answers a CNAME from the blocked name to BlockOverrideDomain with BlockOverrideTtl and,
//   when overrideResolvesTarget is on and the target lies in a test zone, the target's records.
// - inspectOverrideTarget (default off): the target is answered as if it had been asked itself,
//   firewall included, so a blocked target gives its block response after the CNAME and a target
//   rewritten again follows that rewrite; a rewrite to a name already asked or rewritten is a loop
//   and answers SERVFAIL.
import { decideFirewall } from './decide.js';
import type { FirewallDecision } from './decide.js';
import type { FirewallConfig } from './firewall-model.js';
import { canonicalName } from './names.js';
import { resolveName } from './resolve.js';
import type { ResolveRcode } from './resolve.js';
import type { ResourceRecord, ZoneSet } from './zone-model.js';

export type ResponseRcode = ResolveRcode;

export interface EngineAnswer {
  readonly rcode: ResponseRcode;
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  readonly decision: FirewallDecision;
  /** With inspectOverrideTarget: the OVERRIDE target's own answer (firewall decision included). */
  readonly overrideTarget?: EngineAnswer;
}

const CNAME_TYPE = 5;
/** Rewrites followed at most (a longer series is treated as a loop). */
const MAX_OVERRIDE_HOPS = 8;

export function answerQuestion(zones: ZoneSet, firewall: FirewallConfig, queryName: string, qtype: number): EngineAnswer {
  return answerName(zones, firewall, canonicalName(queryName), qtype, new Set());
}

function answerName(zones: ZoneSet, firewall: FirewallConfig, name: string, qtype: number, rewritten: Set<string>): EngineAnswer {
  const settings = firewall.settings;
  const options = { unknownNameRcode: settings.unknownNameRcode };
  const resolution = resolveName(zones, name, qtype, options);
  const decision = decideFirewall(firewall, name, qtype, resolution.names.slice(1));

  if (decision.verdict === 'SERVFAIL') return { rcode: 'SERVFAIL', answers: [], authorities: [], decision };

  if (decision.verdict === 'ANSWER') {
    const negative = resolution.negativeSoa !== undefined && settings.soaInNegativeAnswers;
    return {
      rcode: resolution.rcode,
      answers: resolution.answers,
      authorities: negative && resolution.negativeSoa ? [resolution.negativeSoa] : [],
      decision,
    };
  }

  const at = decision.blockedAt ?? 0;
  const rule = decision.deciding!.rule;
  const blockedName = resolution.names[at] ?? name;
  // Each step of the chain contributed exactly one CNAME record, in order.
  const prefix = settings.keepChainBeforeBlock ? resolution.answers.slice(0, at) : [];
  const zoneSoa = zones.zoneFor(blockedName)?.soa;
  const blockSoa = settings.soaInBlockResponses && zoneSoa ? [zoneSoa] : [];

  switch (rule.blockResponse ?? 'NODATA') {
    case 'NXDOMAIN':
      return { rcode: 'NXDOMAIN', answers: prefix, authorities: blockSoa, decision };
    case 'NODATA':
      return { rcode: 'NOERROR', answers: prefix, authorities: blockSoa, decision };
    case 'OVERRIDE': {
      const override = rule.override!;
      const cname: ResourceRecord = { name: blockedName, type: 'CNAME', ttl: override.ttl, data: override.domain };
      const answers = [...prefix, cname];
      if (settings.inspectOverrideTarget) return inspectedOverride(zones, firewall, { name, blockedName, qtype, answers, decision, rewritten });
      if (!settings.overrideResolvesTarget || qtype === CNAME_TYPE) return { rcode: 'NOERROR', answers, authorities: [], decision };
      const target = resolveName(zones, override.domain, qtype, options);
      if (!target.inZones && target.answers.length === 0) return { rcode: 'NOERROR', answers, authorities: [], decision };
      const negative = target.negativeSoa !== undefined && settings.soaInNegativeAnswers;
      return {
        rcode: target.rcode,
        answers: [...answers, ...target.answers],
        authorities: negative && target.negativeSoa ? [target.negativeSoa] : [],
        decision,
      };
    }
  }
}

interface OverrideStep {
  /** The name asked at this step (the query name, or the target of an earlier rewrite). */
  readonly name: string;
  readonly blockedName: string;
  readonly qtype: number;
  /** The records so far, ending with the OVERRIDE CNAME. */
  readonly answers: readonly ResourceRecord[];
  readonly decision: FirewallDecision;
  readonly rewritten: Set<string>;
}

function inspectedOverride(zones: ZoneSet, firewall: FirewallConfig, step: OverrideStep): EngineAnswer {
  const { answers, decision } = step;
  const targetName = decision.deciding!.rule.override!.domain;
  // Every name asked or rewritten so far: a target among them (directly, or through a CNAME chain
  // that leads back to a rewritten name) would repeat this step forever.
  const rewritten = new Set(step.rewritten).add(step.name).add(step.blockedName);
  if (rewritten.has(targetName) || rewritten.size > MAX_OVERRIDE_HOPS) return { rcode: 'SERVFAIL', answers: [], authorities: [], decision };
  if (step.qtype === CNAME_TYPE) return { rcode: 'NOERROR', answers, authorities: [], decision };
  const target = answerName(zones, firewall, targetName, step.qtype, rewritten);
  if (target.rcode === 'SERVFAIL') return { rcode: 'SERVFAIL', answers: [], authorities: [], decision, overrideTarget: target };
  const settings = firewall.settings;
  const blocked = target.decision.verdict === 'BLOCK';
  // A target outside the zones that passes: what the real resolver would add is unknown.
  const unknown = !blocked && target.answers.length === 0 && !resolveName(zones, targetName, step.qtype, { unknownNameRcode: settings.unknownNameRcode }).inZones;
  if (unknown) return { rcode: 'NOERROR', answers, authorities: [], decision, overrideTarget: target };
  if (!settings.overrideResolvesTarget) {
    // Only the CNAME, but the target's block decides the rcode.
    return { rcode: blocked ? target.rcode : 'NOERROR', answers, authorities: [], decision, overrideTarget: target };
  }
  return { rcode: target.rcode, answers: [...answers, ...target.answers], authorities: target.authorities, decision, overrideTarget: target };
}
