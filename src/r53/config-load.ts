// Reads the --firewall file: the emulator's own YAML, or a bundle pointing at AWS CLI outputs:
//
//   awsCli:
//     vpcId: vpc-0a1b2c3d4e5f60718                       # needed when associations span VPCs
//     ruleGroups: list-firewall-rule-groups.json        # optional (names)
//     rules: [rules-corp.json, rules-baseline.json]     # list-firewall-rules, one per rule group
//     domainLists: list-firewall-domain-lists.json      # optional (names)
//     domains: { rslvr-fdl-0123456789abcdef0: domains-malware.json }   # list-firewall-domains per list
//     associations: list-firewall-rule-group-associations.json
//     firewallConfigs: list-firewall-configs.json       # optional (FirewallFailOpen)
//   settings: { ... }                                   # optional emulator settings
//
// Paths are relative to the bundle file.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { importAwsCli } from './aws-cli-import.js';
import type { ImportResult, JsonDocument } from './aws-cli-import.js';
import { R53ConfigError } from './errors.js';
import { firewallFromDocument } from './firewall-yaml.js';

async function readDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new R53ConfigError(file, '(file)', `cannot read: ${(err as Error).message}`);
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new R53ConfigError(file, '(document)', `not valid YAML or JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function loadFirewallFile(file: string): Promise<ImportResult> {
  const doc = await readDocument(file);
  if (!isObject(doc) || doc.awsCli === undefined) {
    const warnings: string[] = [];
    return { config: firewallFromDocument(doc, file, warnings), warnings };
  }

  const bundle = doc.awsCli;
  if (!isObject(bundle)) throw new R53ConfigError(file, 'awsCli', 'must be a mapping');
  for (const key of Object.keys(doc)) {
    if (key !== 'awsCli' && key !== 'settings') throw new R53ConfigError(file, key, 'unknown key next to awsCli (allowed: settings)');
  }
  const base = dirname(file);
  const load = async (field: string, value: unknown): Promise<JsonDocument> => {
    if (typeof value !== 'string' || value === '') throw new R53ConfigError(file, field, 'must be a file path');
    const path = resolve(base, value);
    return { file: path, json: await readDocument(path) };
  };
  const optional = async (field: string): Promise<JsonDocument | undefined> =>
    bundle[field] === undefined ? undefined : load(`awsCli.${field}`, bundle[field]);

  const rulesRaw = typeof bundle.rules === 'string' ? [bundle.rules] : bundle.rules;
  if (!Array.isArray(rulesRaw)) throw new R53ConfigError(file, 'awsCli.rules', 'must be a file path or a list of them');
  const rules = await Promise.all(rulesRaw.map((r: unknown, i: number) => load(`awsCli.rules[${i}]`, r)));
  if (!isObject(bundle.domains)) throw new R53ConfigError(file, 'awsCli.domains', 'must map each domain list id to its list-firewall-domains output');
  const domains = await Promise.all(
    Object.entries(bundle.domains).map(async ([id, path]) => ({ ...(await load(`awsCli.domains.${id}`, path)), domainListId: id })),
  );
  if (bundle.vpcId !== undefined && typeof bundle.vpcId !== 'string') throw new R53ConfigError(file, 'awsCli.vpcId', 'must be a string');
  const ruleGroups = await optional('ruleGroups');
  const domainLists = await optional('domainLists');
  const firewallConfigs = await optional('firewallConfigs');
  return importAwsCli(
    {
      rules,
      domains,
      associations: await load('awsCli.associations', bundle.associations),
      ...(ruleGroups ? { ruleGroups } : {}),
      ...(domainLists ? { domainLists } : {}),
      ...(firewallConfigs ? { firewallConfigs } : {}),
      ...(typeof bundle.vpcId === 'string' ? { vpcId: bundle.vpcId } : {}),
    },
    doc.settings,
    file,
  );
}
