// Loud, typed reports of what the compiler could not express exactly, and what it did instead.
// Every one of them names the endpoint and the policies involved, and every fallback fails closed.
import type { DirName, FamilyNumber } from './types.js';

export abstract class CompileDiagnostic {
  abstract readonly kind: string;
  abstract readonly message: string;
  readonly severity = 'error' as const;
}

/** A prefix needs more rules than a list holds even after merging: the direction fails closed. */
export class RuleListOverflow extends CompileDiagnostic {
  readonly kind = 'rule-list-overflow';
  readonly message: string;
  constructor(
    readonly endpoint: string,
    readonly direction: DirName,
    readonly cidr: string,
    readonly count: number,
    readonly max: number,
    readonly policies: readonly string[],
  ) {
    super();
    this.message =
      `${endpoint} ${direction}: prefix ${cidr} needs ${count} rules, more than ${max}; ` +
      `all ${direction} traffic of the pod is denied until fewer rules apply (policies: ${policies.join(', ')})`;
  }
}

/**
 * Two or more cluster policies share a tier and priority, and one of them has a domainNames
 * Accept rule written before an overlapping Deny rule: whether that Deny is the policy's first
 * match depends on learned IPs, which one rule list cannot express next to the other policies'
 * rules. The direction fails closed.
 */
export class AmbiguousFqdnOrder extends CompileDiagnostic {
  readonly kind = 'ambiguous-fqdn-order';
  readonly message: string;
  constructor(
    readonly endpoint: string,
    readonly direction: DirName,
    readonly cidr: string,
    readonly policies: readonly string[],
  ) {
    super();
    this.message =
      `${endpoint} ${direction}: at ${cidr}, ${policies[0] ?? '?'} has a domainNames Accept before an overlapping Deny ` +
      `while sharing its tier and priority with other policies (${policies.join(', ')}); all ${direction} traffic of the pod is denied`;
  }
}

/** The node's LPM map of one family would overflow: endpoints past the limit fail closed. */
export class PrefixMapOverflow extends CompileDiagnostic {
  readonly kind = 'prefix-map-overflow';
  readonly message: string;
  constructor(
    readonly endpoint: string,
    readonly family: FamilyNumber,
    readonly needed: number,
    readonly max: number,
  ) {
    super();
    this.message = `${endpoint}: the IPv${family} policy map holds at most ${max} prefixes and the node needs ${needed}; the pod's enforced directions fail closed`;
  }
}

/** More local pods than endpoint ids: the pod is left out (the agent must not attach it). */
export class EndpointIdsExhausted extends CompileDiagnostic {
  readonly kind = 'endpoint-ids-exhausted';
  readonly message: string;
  constructor(
    readonly endpoint: string,
    readonly max: number,
  ) {
    super();
    this.message = `${endpoint}: no endpoint id left (at most ${max - 1} local pods); the pod is not compiled`;
  }
}
