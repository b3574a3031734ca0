// The normalised DNS Firewall configuration the decision engine evaluates. Both the YAML loader
// and the AWS CLI importer produce this shape; nothing downstream knows where it came from.
import type { CompiledDomainList, GluedWildcard } from './domain-list.js';

export type RuleAction = 'ALLOW' | 'ALERT' | 'BLOCK';
export type BlockResponse = 'NODATA' | 'NXDOMAIN' | 'OVERRIDE';
export type RedirectionAction = 'INSPECT_REDIRECTION_DOMAIN' | 'TRUST_REDIRECTION_DOMAIN';
/**
 * Where a TRUST_REDIRECTION_DOMAIN rule applies. AWS: TRUST "inspects only the first domain in the
 * redirection chain". first-name (default) reads that as: the rule only ever matches the query
 * name; on a CNAME target it is skipped like a rule of another query type. any-name: the rule may
 * match any name of the chain, and then trusts the names after that one.
 */
export type TrustRedirectionScope = 'first-name' | 'any-name';
export const TRUST_REDIRECTION_SCOPES: readonly TrustRedirectionScope[] = ['first-name', 'any-name'];
/** FirewallFailOpen as in the VPC's FirewallConfig; USE_LOCAL_RESOURCE_SETTING behaves as DISABLED. */
export type FailOpen = 'ENABLED' | 'DISABLED' | 'USE_LOCAL_RESOURCE_SETTING';

export interface DomainList {
  readonly id: string;
  readonly name: string;
  readonly entries: CompiledDomainList;
}

export interface BlockOverride {
  readonly domain: string; // canonical
  readonly ttl: number;
  readonly dnsType: 'CNAME';
}

export interface FirewallRule {
  readonly name: string;
  readonly priority: number;
  readonly domainList: DomainList;
  readonly action: RuleAction;
  /** Set for BLOCK only. AWS's default when a BLOCK rule omits it is NODATA. */
  readonly blockResponse?: BlockResponse;
  readonly override?: BlockOverride;
  readonly redirection: RedirectionAction;
  /** Query type number the rule is limited to; undefined = every type. */
  readonly qtype?: number;
}

export interface RuleGroup {
  readonly id: string;
  readonly name: string;
  /** Sorted by ascending priority (unique within the group). */
  readonly rules: readonly FirewallRule[];
}

export interface RuleGroupAssociation {
  readonly id: string;
  readonly name: string;
  readonly priority: number;
  readonly ruleGroup: RuleGroup;
}

/** Behaviour AWS leaves undocumented or that only an emulator needs; every choice is a switch. */
export interface EmulatorSettings {
  /** Whether `*.example.com` also matches `example.com` (AWS does not document it). */
  readonly wildcardMatchesApex: boolean;
  /** What `*example.com` (a `*` glued to the text) matches; AWS accepts it but does not say. */
  readonly gluedWildcard: GluedWildcard;
  /** Where TRUST_REDIRECTION_DOMAIN rules match (see TrustRedirectionScope). */
  readonly trustRedirectionScope: TrustRedirectionScope;
  /** A BLOCK on a CNAME target keeps the CNAME records leading to it in the answer. */
  readonly keepChainBeforeBlock: boolean;
  /** After an OVERRIDE CNAME, append the target's records when the zones can resolve it. */
  readonly overrideResolvesTarget: boolean;
  /** The OVERRIDE target (and its chain) is itself run through the firewall. */
  readonly inspectOverrideTarget: boolean;
  /** SOA in the authority section of NXDOMAIN/NODATA answers that come from the zones. */
  readonly soaInNegativeAnswers: boolean;
  /** SOA (of the enclosing test zone, when there is one) in firewall BLOCK NXDOMAIN/NODATA answers. */
  readonly soaInBlockResponses: boolean;
  /** AA flag on answers (the VPC resolver is a recursive resolver, so off by default). */
  readonly authoritativeAnswer: boolean;
  /** RA flag on answers. */
  readonly recursionAvailable: boolean;
  /** Rcode for names under no test zone (the emulator has no internet to recurse to). */
  readonly unknownNameRcode: 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL';
  /** The VPC's FirewallFailOpen setting. */
  readonly failOpen: FailOpen;
  /** Simulates the firewall being available; when false, fail-open decides the answer. */
  readonly firewallAvailable: boolean;
  /** Identity fields written to the query log. */
  readonly accountId: string;
  readonly region: string;
  readonly vpcId: string;
  readonly instanceId: string;
}

export const DEFAULT_SETTINGS: EmulatorSettings = {
  wildcardMatchesApex: false,
  gluedWildcard: 'text-suffix',
  trustRedirectionScope: 'first-name',
  keepChainBeforeBlock: true,
  overrideResolvesTarget: true,
  inspectOverrideTarget: false,
  soaInNegativeAnswers: true,
  soaInBlockResponses: false,
  authoritativeAnswer: false,
  recursionAvailable: true,
  unknownNameRcode: 'NXDOMAIN',
  failOpen: 'DISABLED',
  firewallAvailable: true,
  accountId: '111122223333',
  region: 'us-east-1',
  vpcId: 'vpc-0emulator0000000',
  instanceId: 'i-0emulator0000000',
};

export interface FirewallConfig {
  /** Sorted by ascending association priority. */
  readonly associations: readonly RuleGroupAssociation[];
  readonly settings: EmulatorSettings;
}
