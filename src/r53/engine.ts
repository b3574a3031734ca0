// Turns one question into the answer the emulated VPC resolver gives: resolve from the test zones,
// let DNS Firewall decide on the query name and the CNAME chain, then shape the response.
//
// A BLOCK on a name inside the chain keeps the CNAME records that lead to it and applies the block
// response to that name (as a resolver applying policy at each step would present it). OVERRIDE
// answers a CNAME from the blocked name to BlockOverrideDomain with BlockOverrideTtl and, when
// `overrideResolvesTarget` is on and the target lies in a test zone, the target's records (the
// override target itself is not run through the firewall again).
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
}

const CNAME_TYPE = 5;

export function answerQuestion(zones: ZoneSet, firewall: FirewallConfig, queryName: string, qtype: number): EngineAnswer {
  const settings = firewall.settings;
  const options = { unknownNameRcode: settings.unknownNameRcode };
  const name = canonicalName(queryName);
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
  const prefix = resolution.answers.slice(0, at);
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
