// Imports a real DNS Firewall setup from what the AWS CLI prints (JSON output):
//   aws route53resolver list-firewall-rule-groups                   -> { "FirewallRuleGroups": [ {Id, Name, ...} ] }
//   aws route53resolver list-firewall-rules --firewall-rule-group-id -> { "FirewallRules": [ {FirewallRuleGroupId,
//         FirewallDomainListId, Name, Priority, Action, BlockResponse, BlockOverrideDomain, BlockOverrideDnsType,
//         BlockOverrideTtl, FirewallDomainRedirectionAction, Qtype, ...} ] }
//   aws route53resolver list-firewall-domains --firewall-domain-list-id -> { "Domains": [ "..." ] }
//   aws route53resolver list-firewall-rule-group-associations       -> { "FirewallRuleGroupAssociations": [ {Id,
//         FirewallRuleGroupId, VpcId, Name, Priority, Status, ...} ] }
// and optionally list-firewall-domain-lists (names) and list-firewall-configs (FirewallFailOpen).
// `list-firewall-domains` does not say which list it printed, so each output is given with its id.
import { R53ConfigError } from './errors.js';
import { buildFirewall, parseSettings } from './firewall-build.js';
import type { AssociationSpec, DomainListSpec, FieldNames, RuleGroupSpec, RuleSpec } from './firewall-build.js';
import { DEFAULT_SETTINGS } from './firewall-model.js';
import type { EmulatorSettings, FailOpen, FirewallConfig } from './firewall-model.js';

export interface JsonDocument {
  readonly file: string;
  readonly json: unknown;
}

export interface AwsCliDocuments {
  readonly ruleGroups?: JsonDocument;
  readonly rules: readonly JsonDocument[];
  readonly domainLists?: JsonDocument;
  /** One `list-firewall-domains` output per domain list id. */
  readonly domains: ReadonlyArray<JsonDocument & { readonly domainListId: string }>;
  readonly associations: JsonDocument;
  readonly firewallConfigs?: JsonDocument;
  /** Keep only the associations of this VPC (required when they span several VPCs). */
  readonly vpcId?: string;
}

export interface ImportResult {
  readonly config: FirewallConfig;
  /** Things that exist in the account but cannot be emulated, skipped. */
  readonly warnings: readonly string[];
}

const AWS_FIELDS: FieldNames = {
  priority: 'Priority',
  action: 'Action',
  blockResponse: 'BlockResponse',
  overrideDomain: 'BlockOverrideDomain',
  overrideTtl: 'BlockOverrideTtl',
  overrideDnsType: 'BlockOverrideDnsType',
  redirection: 'FirewallDomainRedirectionAction',
  qtype: 'Qtype',
  domainList: 'FirewallDomainListId',
  ruleGroup: 'FirewallRuleGroupId',
  domains: 'Domains',
};

/** Association states in which the firewall filters queries. */
const ACTIVE_STATUS = new Set(['COMPLETE', 'UPDATING']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function items(doc: JsonDocument, key: string): Record<string, unknown>[] {
  if (!isObject(doc.json)) throw new R53ConfigError(doc.file, '(document)', `expected the JSON object printed by the AWS CLI, with a "${key}" list`);
  const list = doc.json[key];
  if (!Array.isArray(list)) throw new R53ConfigError(doc.file, key, 'missing or not a list (is this the right AWS CLI output?)');
  return list.map((item, i) => {
    if (!isObject(item)) throw new R53ConfigError(doc.file, `${key}[${i}]`, 'must be an object');
    return item;
  });
}

function str(item: Record<string, unknown>, key: string, file: string, field: string): string {
  const v = item[key];
  if (typeof v !== 'string' || v === '') throw new R53ConfigError(file, `${field}.${key}`, 'must be a non-empty string');
  return v;
}

export function importAwsCli(docs: AwsCliDocuments, rawSettings?: unknown, settingsFile = '(settings)'): ImportResult {
  const warnings: string[] = [];

  const listNames = new Map<string, string>();
  const managedLists = new Map<string, string>();
  if (docs.domainLists) {
    items(docs.domainLists, 'FirewallDomainLists').forEach((l, i) => {
      const id = str(l, 'Id', docs.domainLists!.file, `FirewallDomainLists[${i}]`);
      listNames.set(id, typeof l.Name === 'string' ? l.Name : '');
      if (typeof l.ManagedOwnerName === 'string') managedLists.set(id, l.ManagedOwnerName);
    });
  }
  const domainLists: DomainListSpec[] = docs.domains.map((doc) => {
    if (!isObject(doc.json) || !Array.isArray(doc.json.Domains)) {
      throw new R53ConfigError(doc.file, 'Domains', 'missing or not a list (expected the output of list-firewall-domains)');
    }
    return {
      id: doc.domainListId,
      name: listNames.get(doc.domainListId) || doc.domainListId,
      domains: doc.json.Domains,
      source: { file: doc.file, field: '' },
    };
  });
  const knownLists = new Set(domainLists.map((l) => l.id));

  const groupNames = new Map<string, string>();
  if (docs.ruleGroups) {
    items(docs.ruleGroups, 'FirewallRuleGroups').forEach((g, i) => {
      groupNames.set(str(g, 'Id', docs.ruleGroups!.file, `FirewallRuleGroups[${i}]`), typeof g.Name === 'string' ? g.Name : '');
    });
  }

  const rulesByGroup = new Map<string, RuleSpec[]>();
  for (const doc of docs.rules) {
    items(doc, 'FirewallRules').forEach((r, i) => {
      const field = `FirewallRules[${i}]`;
      const groupId = str(r, 'FirewallRuleGroupId', doc.file, field);
      const name = typeof r.Name === 'string' && r.Name !== '' ? r.Name : `rule-${String(r.Priority)}`;
      if (r.FirewallDomainListId === undefined && r.FirewallThreatProtectionId !== undefined) {
        warnings.push(`${doc.file}: ${field} (${name}): DNS Firewall Advanced rule (${String(r.DnsThreatProtection)}) skipped: threat detection cannot be emulated`);
        return;
      }
      const listId = str(r, 'FirewallDomainListId', doc.file, field);
      if (!knownLists.has(listId) && managedLists.has(listId)) {
        // AWS managed lists cannot be exported (list-firewall-domains is denied on them).
        warnings.push(`${doc.file}: ${field} (${name}): uses the ${managedLists.get(listId)} managed domain list ${listNames.get(listId) || listId}, whose domains cannot be exported; rule skipped`);
        return;
      }
      if (!knownLists.has(listId)) {
        throw new R53ConfigError(doc.file, `${field}.FirewallDomainListId`, `domain list ${listId} has no list-firewall-domains output in the bundle (add it under awsCli.domains)`);
      }
      const block = r.Action === 'BLOCK';
      const spec: RuleSpec = {
        name,
        priority: r.Priority,
        domainList: listId,
        action: r.Action,
        // The CLI may print block fields on non-BLOCK rules; only BLOCK uses them.
        blockResponse: block ? r.BlockResponse : undefined,
        overrideDomain: block ? r.BlockOverrideDomain : undefined,
        overrideTtl: block ? r.BlockOverrideTtl : undefined,
        overrideDnsType: block ? r.BlockOverrideDnsType : undefined,
        redirection: r.FirewallDomainRedirectionAction,
        qtype: r.Qtype,
        source: { file: doc.file, field },
      };
      const list = rulesByGroup.get(groupId) ?? [];
      list.push(spec);
      rulesByGroup.set(groupId, list);
    });
  }

  const assocFile = docs.associations.file;
  const all = items(docs.associations, 'FirewallRuleGroupAssociations');
  const vpcs = new Set(all.map((a) => a.VpcId).filter((v): v is string => typeof v === 'string'));
  let vpcId = docs.vpcId;
  if (vpcId === undefined) {
    if (vpcs.size > 1) {
      throw new R53ConfigError(assocFile, 'FirewallRuleGroupAssociations', `associations span several VPCs (${[...vpcs].sort().join(', ')}); set awsCli.vpcId`);
    }
    vpcId = [...vpcs][0];
  }
  const associations: AssociationSpec[] = [];
  all.forEach((a, i) => {
    const field = `FirewallRuleGroupAssociations[${i}]`;
    if (docs.vpcId !== undefined && a.VpcId !== docs.vpcId) return;
    const id = str(a, 'Id', assocFile, field);
    if (typeof a.Status === 'string' && !ACTIVE_STATUS.has(a.Status)) {
      warnings.push(`${assocFile}: ${field} (${id}): status ${a.Status}, not filtering; skipped`);
      return;
    }
    const groupId = str(a, 'FirewallRuleGroupId', assocFile, field);
    if (!rulesByGroup.has(groupId)) {
      warnings.push(`${assocFile}: ${field} (${id}): no list-firewall-rules output for rule group ${groupId}; it is treated as empty`);
      rulesByGroup.set(groupId, []);
    }
    associations.push({
      id,
      name: typeof a.Name === 'string' && a.Name !== '' ? a.Name : id,
      ruleGroup: groupId,
      priority: a.Priority,
      source: { file: assocFile, field },
    });
  });

  const ruleGroups: RuleGroupSpec[] = [...rulesByGroup].map(([id, rules]) => ({
    id,
    name: groupNames.get(id) || id,
    rules,
    source: { file: docs.rules[0]?.file ?? assocFile, field: `FirewallRuleGroup ${id}` },
  }));

  let base: EmulatorSettings = { ...DEFAULT_SETTINGS, ...(vpcId === undefined ? {} : { vpcId }) };
  if (docs.firewallConfigs) {
    const cfgFile = docs.firewallConfigs.file;
    const configs = items(docs.firewallConfigs, 'FirewallConfigs');
    const mine = configs.filter((c) => vpcId === undefined || c.ResourceId === vpcId);
    const chosen = mine[0];
    if (chosen) {
      const value = chosen.FirewallFailOpen;
      if (value !== 'ENABLED' && value !== 'DISABLED' && value !== 'USE_LOCAL_RESOURCE_SETTING') {
        throw new R53ConfigError(cfgFile, `FirewallConfigs[${configs.indexOf(chosen)}].FirewallFailOpen`, 'must be ENABLED, DISABLED or USE_LOCAL_RESOURCE_SETTING');
      }
      base = { ...base, failOpen: value as FailOpen, ...(typeof chosen.OwnerId === 'string' ? { accountId: chosen.OwnerId } : {}) };
    }
  }
  const settings = parseSettings(rawSettings, { file: settingsFile, field: 'settings' }, base);
  return { config: buildFirewall({ domainLists, ruleGroups, associations, settings, fields: AWS_FIELDS, warnings }), warnings };
}
