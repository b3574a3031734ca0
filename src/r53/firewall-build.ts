// Validates a firewall description (from YAML or from AWS CLI JSON) and builds the model the
// decision engine runs. Each piece carries where it came from, so every error names the file and
// the field a user has to fix.
import { CompiledDomainList, GLUED_WILDCARD_READINGS, parseDomainEntry } from './domain-list.js';
import type { DomainEntry } from './domain-list.js';
import { R53ConfigError } from './errors.js';
import { DEFAULT_SETTINGS, TRUST_REDIRECTION_SCOPES } from './firewall-model.js';
import type {
  BlockResponse,
  DomainList,
  EmulatorSettings,
  FirewallConfig,
  FirewallRule,
  RedirectionAction,
  RuleAction,
  RuleGroup,
  RuleGroupAssociation,
} from './firewall-model.js';
import { canonicalName, nameProblem } from './names.js';
import { qtypeNumber } from './qtypes.js';

export interface Source {
  readonly file: string;
  /** Path of the object inside the file, e.g. `ruleGroups[0].rules[2]` or `FirewallRules[2]`. */
  readonly field: string;
}

/** Field names as they appear in the source, so errors quote what the user wrote. */
export interface FieldNames {
  readonly priority: string;
  readonly action: string;
  readonly blockResponse: string;
  readonly overrideDomain: string;
  readonly overrideTtl: string;
  readonly overrideDnsType: string;
  readonly redirection: string;
  readonly qtype: string;
  readonly domainList: string;
  readonly ruleGroup: string;
  readonly domains: string;
}

export interface DomainListSpec {
  readonly id: string;
  readonly name: string;
  readonly domains: readonly unknown[];
  readonly source: Source;
}

export interface RuleSpec {
  readonly name: string;
  readonly priority: unknown;
  readonly domainList: unknown;
  readonly action: unknown;
  readonly blockResponse?: unknown;
  readonly overrideDomain?: unknown;
  readonly overrideTtl?: unknown;
  readonly overrideDnsType?: unknown;
  readonly redirection?: unknown;
  readonly qtype?: unknown;
  readonly source: Source;
}

export interface RuleGroupSpec {
  readonly id: string;
  readonly name: string;
  readonly rules: readonly RuleSpec[];
  readonly source: Source;
}

export interface AssociationSpec {
  readonly id: string;
  readonly name: string;
  readonly ruleGroup: unknown;
  readonly priority: unknown;
  readonly source: Source;
}

export interface FirewallSpec {
  readonly domainLists: readonly DomainListSpec[];
  readonly ruleGroups: readonly RuleGroupSpec[];
  readonly associations: readonly AssociationSpec[];
  readonly settings: EmulatorSettings;
  readonly fields: FieldNames;
  /** Receives what loads but is a guess (entries whose meaning AWS does not document). */
  readonly warnings?: string[];
}

const ACTIONS: readonly RuleAction[] = ['ALLOW', 'ALERT', 'BLOCK'];
const BLOCK_RESPONSES: readonly BlockResponse[] = ['NODATA', 'NXDOMAIN', 'OVERRIDE'];
const REDIRECTIONS: readonly RedirectionAction[] = ['INSPECT_REDIRECTION_DOMAIN', 'TRUST_REDIRECTION_DOMAIN'];
/** BlockOverrideTtl range accepted by the API. */
const MAX_OVERRIDE_TTL = 604_800;

function fail(source: Source, field: string, reason: string): never {
  const path = field === '' ? source.field : source.field === '' ? field : `${source.field}.${field}`;
  throw new R53ConfigError(source.file, path, reason);
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], source: Source, field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(source, field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function integer(value: unknown, min: number, max: number, source: Source, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(source, field, `must be an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function where(source: Source, field: string): string {
  return `${source.file}: ${source.field === '' ? field : `${source.field}.${field}`}`;
}

function buildDomainList(spec: DomainListSpec, fields: FieldNames, settings: EmulatorSettings, warnings: string[] | undefined): DomainList {
  const entries: DomainEntry[] = spec.domains.map((raw, i) => {
    const parsed = parseDomainEntry(raw as string);
    if (typeof parsed === 'string') fail(spec.source, `${fields.domains}[${i}]`, `${JSON.stringify(raw)}: ${parsed}`);
    if (parsed.kind === 'glued') {
      const reading =
        settings.gluedWildcard === 'text-suffix'
          ? `any name whose text ends with "${parsed.rest}" ("bad${parsed.rest}" too)`
          : `"${parsed.rest}" and the names below it`;
      warnings?.push(
        `${where(spec.source, `${fields.domains}[${i}]`)}: ${JSON.stringify(parsed.raw)}: AWS does not document what a "*" glued to a name matches; it matches ${reading} (settings.gluedWildcard: ${settings.gluedWildcard})`,
      );
    }
    return parsed;
  });
  return { id: spec.id, name: spec.name, entries: new CompiledDomainList(entries) };
}

function buildRule(spec: RuleSpec, lists: ReadonlyMap<string, DomainList>, f: FieldNames): FirewallRule {
  const s = spec.source;
  const priority = integer(spec.priority, 0, 2_147_483_647, s, f.priority);
  const listRef = spec.domainList;
  if (typeof listRef !== 'string') fail(s, f.domainList, 'must name a domain list (id or name)');
  const domainList = lists.get(listRef);
  if (!domainList) fail(s, f.domainList, `no domain list with id or name ${JSON.stringify(listRef)}`);
  const action = oneOf(spec.action, ACTIONS, s, f.action);
  const redirection =
    spec.redirection === undefined ? 'INSPECT_REDIRECTION_DOMAIN' : oneOf(spec.redirection, REDIRECTIONS, s, f.redirection);
  let qtype: number | undefined;
  if (spec.qtype !== undefined && spec.qtype !== null) {
    qtype = typeof spec.qtype === 'string' || typeof spec.qtype === 'number' ? qtypeNumber(spec.qtype) : undefined;
    if (qtype === undefined) fail(s, f.qtype, `unknown query type ${JSON.stringify(spec.qtype)} (use a name such as AAAA or TYPE<N>)`);
  }
  const base = { name: spec.name, priority, domainList, action, redirection, ...(qtype === undefined ? {} : { qtype }) };
  if (action !== 'BLOCK') {
    for (const [key, field] of [
      [spec.blockResponse, f.blockResponse],
      [spec.overrideDomain, f.overrideDomain],
    ] as const) {
      if (key !== undefined && key !== null) fail(s, field, `only applies to ${f.action} BLOCK`);
    }
    return base;
  }
  // AWS's consoles and SDK constructs default a BLOCK without a response to NODATA.
  const blockResponse = spec.blockResponse === undefined ? 'NODATA' : oneOf(spec.blockResponse, BLOCK_RESPONSES, s, f.blockResponse);
  if (blockResponse !== 'OVERRIDE') return { ...base, blockResponse };
  if (typeof spec.overrideDomain !== 'string' || spec.overrideDomain.trim() === '') {
    fail(s, f.overrideDomain, 'is required when the block response is OVERRIDE');
  }
  const domain = canonicalName(spec.overrideDomain.trim());
  const problem = nameProblem(domain);
  if (problem) fail(s, f.overrideDomain, `${JSON.stringify(spec.overrideDomain)}: ${problem}`);
  if (spec.overrideTtl === undefined) fail(s, f.overrideTtl, 'is required when the block response is OVERRIDE');
  const ttl = integer(spec.overrideTtl, 0, MAX_OVERRIDE_TTL, s, f.overrideTtl);
  if (spec.overrideDnsType !== undefined) oneOf(spec.overrideDnsType, ['CNAME'], s, f.overrideDnsType);
  return { ...base, blockResponse, override: { domain, ttl, dnsType: 'CNAME' } };
}

export function buildFirewall(spec: FirewallSpec): FirewallConfig {
  const f = spec.fields;
  const lists = new Map<string, DomainList>();
  for (const ls of spec.domainLists) {
    if (lists.has(ls.id)) fail(ls.source, '', `domain list id ${JSON.stringify(ls.id)} is defined twice`);
    const list = buildDomainList(ls, f, spec.settings, spec.warnings);
    lists.set(ls.id, list);
    if (!lists.has(ls.name)) lists.set(ls.name, list);
  }
  const groups = new Map<string, RuleGroup>();
  for (const gs of spec.ruleGroups) {
    if (groups.has(gs.id)) fail(gs.source, '', `rule group id ${JSON.stringify(gs.id)} is defined twice`);
    const priorities = new Map<number, string>();
    const rules = gs.rules.map((rs) => {
      const rule = buildRule(rs, lists, f);
      const other = priorities.get(rule.priority);
      if (other !== undefined) fail(rs.source, f.priority, `priority ${rule.priority} is already used by rule ${other} of this group`);
      priorities.set(rule.priority, rule.name);
      return rule;
    });
    rules.sort((a, b) => a.priority - b.priority);
    const group: RuleGroup = { id: gs.id, name: gs.name, rules };
    groups.set(gs.id, group);
    if (!groups.has(gs.name)) groups.set(gs.name, group);
  }
  const priorities = new Map<number, string>();
  const associations: RuleGroupAssociation[] = spec.associations.map((as) => {
    if (typeof as.ruleGroup !== 'string') fail(as.source, f.ruleGroup, 'must name a rule group (id or name)');
    const ruleGroup = groups.get(as.ruleGroup);
    if (!ruleGroup) fail(as.source, f.ruleGroup, `no rule group with id or name ${JSON.stringify(as.ruleGroup)}`);
    const priority = integer(as.priority, 0, 2_147_483_647, as.source, f.priority);
    const other = priorities.get(priority);
    if (other !== undefined) fail(as.source, f.priority, `priority ${priority} is already used by association ${other}`);
    priorities.set(priority, as.name);
    return { id: as.id, name: as.name, priority, ruleGroup };
  });
  associations.sort((a, b) => a.priority - b.priority);
  return { associations, settings: spec.settings };
}

const SETTING_KINDS: Record<keyof EmulatorSettings, 'boolean' | 'string' | readonly string[]> = {
  wildcardMatchesApex: 'boolean',
  gluedWildcard: GLUED_WILDCARD_READINGS,
  trustRedirectionScope: TRUST_REDIRECTION_SCOPES,
  keepChainBeforeBlock: 'boolean',
  overrideResolvesTarget: 'boolean',
  inspectOverrideTarget: 'boolean',
  soaInNegativeAnswers: 'boolean',
  soaInBlockResponses: 'boolean',
  authoritativeAnswer: 'boolean',
  recursionAvailable: 'boolean',
  unknownNameRcode: ['NXDOMAIN', 'REFUSED', 'SERVFAIL'],
  failOpen: ['ENABLED', 'DISABLED', 'USE_LOCAL_RESOURCE_SETTING'],
  firewallAvailable: 'boolean',
  accountId: 'string',
  region: 'string',
  vpcId: 'string',
  instanceId: 'string',
};

/** Validates a `settings` mapping over the defaults; unknown keys are errors (typos must not pass). */
export function parseSettings(raw: unknown, source: Source, base: EmulatorSettings = DEFAULT_SETTINGS): EmulatorSettings {
  if (raw === undefined || raw === null) return base;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(source, '', 'must be a mapping');
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(raw)) {
    const kind = SETTING_KINDS[key as keyof EmulatorSettings];
    if (kind === undefined) fail(source, key, `unknown setting (known: ${Object.keys(SETTING_KINDS).join(', ')})`);
    if (Array.isArray(kind)) oneOf(value, kind, source, key);
    else if (typeof value !== kind) fail(source, key, `must be a ${String(kind)}`);
    out[key] = value;
  }
  return out as unknown as EmulatorSettings;
}
