// The emulator's own firewall file (YAML or JSON):
//
//   settings: { wildcardMatchesApex: false, failOpen: DISABLED, ... }   # see EmulatorSettings
//   domainLists:
//     - { name: malware, id: rslvr-fdl-malware, domains: ["*.bad.example", evil.example] }
//   ruleGroups:
//     - name: corp
//       rules:
//         - { name: block-malware, priority: 100, domainList: malware, action: BLOCK, blockResponse: NXDOMAIN }
//         - { name: rewrite, priority: 200, domainList: legacy, action: BLOCK, blockResponse: OVERRIDE,
//             blockOverrideDomain: new.example, blockOverrideTtl: 60, blockOverrideDnsType: CNAME,
//             firewallDomainRedirectionAction: TRUST_REDIRECTION_DOMAIN, qtype: A }
//   associations:
//     - { ruleGroup: corp, priority: 101 }
//
// `id` defaults to `name`; references accept either. A file with an `awsCli` key instead points at
// AWS CLI outputs (see aws-cli-import.ts).
import { R53ConfigError } from './errors.js';
import { buildFirewall, parseSettings } from './firewall-build.js';
import type { AssociationSpec, DomainListSpec, FieldNames, RuleGroupSpec, RuleSpec, Source } from './firewall-build.js';
import type { FirewallConfig } from './firewall-model.js';

export const YAML_FIELDS: FieldNames = {
  priority: 'priority',
  action: 'action',
  blockResponse: 'blockResponse',
  overrideDomain: 'blockOverrideDomain',
  overrideTtl: 'blockOverrideTtl',
  overrideDnsType: 'blockOverrideDnsType',
  redirection: 'firewallDomainRedirectionAction',
  qtype: 'qtype',
  domainList: 'domainList',
  ruleGroup: 'ruleGroup',
  domains: 'domains',
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(doc: Record<string, unknown>, key: string, file: string, required: boolean): unknown[] {
  const v = doc[key];
  if (v === undefined && !required) return [];
  if (!Array.isArray(v)) throw new R53ConfigError(file, key, 'must be a list');
  return v;
}

function named(raw: unknown, file: string, field: string): { obj: Record<string, unknown>; name: string; id: string; source: Source } {
  if (!isObject(raw)) throw new R53ConfigError(file, field, 'must be a mapping');
  if (typeof raw.name !== 'string' || raw.name === '') throw new R53ConfigError(file, `${field}.name`, 'must be a non-empty string');
  if (raw.id !== undefined && (typeof raw.id !== 'string' || raw.id === '')) throw new R53ConfigError(file, `${field}.id`, 'must be a non-empty string');
  return { obj: raw, name: raw.name, id: (raw.id as string | undefined) ?? raw.name, source: { file, field } };
}

/** Builds the firewall from a parsed native document; guesses it had to make go to `warnings`. */
export function firewallFromDocument(doc: unknown, file: string, warnings?: string[]): FirewallConfig {
  if (!isObject(doc)) throw new R53ConfigError(file, '(document)', 'must be a mapping');
  const known = new Set(['settings', 'domainLists', 'ruleGroups', 'associations']);
  for (const key of Object.keys(doc)) if (!known.has(key)) throw new R53ConfigError(file, key, `unknown key (known: ${[...known].join(', ')})`);
  const settings = parseSettings(doc.settings, { file, field: 'settings' });

  const domainLists: DomainListSpec[] = list(doc, 'domainLists', file, false).map((raw, i) => {
    const { obj, name, id, source } = named(raw, file, `domainLists[${i}]`);
    if (!Array.isArray(obj.domains)) throw new R53ConfigError(file, `${source.field}.domains`, 'must be a list of domain names');
    return { id, name, domains: obj.domains, source };
  });

  const ruleGroups: RuleGroupSpec[] = list(doc, 'ruleGroups', file, true).map((raw, i) => {
    const { obj, name, id, source } = named(raw, file, `ruleGroups[${i}]`);
    const rulesRaw = obj.rules ?? [];
    if (!Array.isArray(rulesRaw)) throw new R53ConfigError(file, `${source.field}.rules`, 'must be a list');
    const rules: RuleSpec[] = rulesRaw.map((r: unknown, j: number) => {
      const { obj: rule, name: ruleName, source: ruleSource } = named(r, file, `${source.field}.rules[${j}]`);
      return {
        name: ruleName,
        priority: rule.priority,
        domainList: rule.domainList,
        action: rule.action,
        blockResponse: rule.blockResponse,
        overrideDomain: rule.blockOverrideDomain,
        overrideTtl: rule.blockOverrideTtl,
        overrideDnsType: rule.blockOverrideDnsType,
        redirection: rule.firewallDomainRedirectionAction,
        qtype: rule.qtype,
        source: ruleSource,
      };
    });
    return { id, name, rules, source };
  });

  const associations: AssociationSpec[] = list(doc, 'associations', file, true).map((raw, i) => {
    const field = `associations[${i}]`;
    if (!isObject(raw)) throw new R53ConfigError(file, field, 'must be a mapping with ruleGroup and priority');
    const ref = typeof raw.ruleGroup === 'string' ? raw.ruleGroup : '';
    const name = typeof raw.name === 'string' ? raw.name : `${ref}-association`;
    const id = typeof raw.id === 'string' ? raw.id : name;
    return { id, name, ruleGroup: raw.ruleGroup, priority: raw.priority, source: { file, field } };
  });

  return buildFirewall({ domainLists, ruleGroups, associations, settings, fields: YAML_FIELDS, ...(warnings ? { warnings } : {}) });
}
