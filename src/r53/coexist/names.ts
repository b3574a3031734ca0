// The names a coexistence analysis looks at: by default every domainNames pattern of the policies
// and every entry of the firewall's domain lists; a wildcard stands in as one representative name
// below it (`*.x.com` -> `dnsgate-probe.x.com`), since the two systems are compared name by name.
import { parseDomainPattern } from '../../fqdn/pattern.js';
import type { PolicyModel } from '../../policy/model.js';
import type { FirewallConfig } from '../firewall-model.js';
import { canonicalName, nameProblem } from '../names.js';
import { CoexistInputError } from './errors.js';
import type { NameEntry, NameSource } from './types.js';

/** The label put in front of a wildcard's suffix to get a name the wildcard matches. */
export const PROBE_LABEL = 'dnsgate-probe';

class NameCollector {
  private readonly byName = new Map<string, { probeFor: string | null; sources: NameSource[] }>();

  add(name: string, probeFor: string | null, source: NameSource): void {
    const entry = this.byName.get(name);
    if (entry) {
      entry.sources.push(source);
      return;
    }
    this.byName.set(name, { probeFor, sources: [source] });
  }

  entries(): NameEntry[] {
    return [...this.byName.entries()]
      .map(([name, e]) => ({ name, probeFor: e.probeFor, sources: e.sources }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** `*.suffix` -> the probe name; an exact name -> itself. Input canonical. */
function nameFor(pattern: string): { name: string; probeFor: string | null } {
  if (pattern.startsWith('*.')) return { name: `${PROBE_LABEL}.${pattern.slice(2)}`, probeFor: pattern };
  return { name: pattern, probeFor: null };
}

export function namesFromPolicies(model: PolicyModel, into = new NameCollector()): NameCollector {
  for (const policy of [...model.cluster, ...model.namespaced]) {
    for (const rule of policy.egress) {
      if (rule.peers === 'any') continue;
      for (const peer of rule.peers) {
        if (peer.kind !== 'domainNames') continue;
        for (const raw of peer.patterns) {
          const pattern = canonicalName(raw);
          const { name, probeFor } = nameFor(pattern);
          into.add(name, probeFor, { kind: 'policy', policy: policy.ref, rule: rule.id, pattern: raw });
        }
      }
    }
  }
  return into;
}

/** Firewall entries; the catch-all `*` has no representative name and is reported by the caller. */
export function namesFromFirewall(config: FirewallConfig, into = new NameCollector()): NameCollector {
  for (const association of config.associations) {
    for (const rule of association.ruleGroup.rules) {
      for (const entry of rule.domainList.entries.entries) {
        if (entry.kind === 'any') continue;
        // "*example.com" matches "example.com" itself under either reading; a rest that is no
        // name ("*-cdn.example.com") has no representative.
        if (entry.kind === 'glued' && (entry.rest === '' || nameProblem(entry.rest) !== undefined)) continue;
        const { name, probeFor } =
          entry.kind === 'exact' ? { name: entry.name, probeFor: null } : entry.kind === 'glued' ? { name: entry.rest, probeFor: null } : nameFor(`*.${entry.suffix}`);
        into.add(name, probeFor, {
          kind: 'firewall',
          ruleGroup: association.ruleGroup.name,
          rule: rule.name,
          domainList: rule.domainList.name,
          entry: entry.raw,
        });
      }
    }
  }
  return into;
}

/** The default name set: policies first, then the firewall's lists. */
export function defaultNames(model: PolicyModel, config: FirewallConfig): NameEntry[] {
  return namesFromFirewall(config, namesFromPolicies(model)).entries();
}

/** Names given by the user (`--name`, `--names FILE`): exact names or `*.suffix` patterns. */
export function userNames(raw: readonly string[], origin: string): NameEntry[] {
  const collector = new NameCollector();
  raw.forEach((text, i) => {
    const trimmed = text.trim();
    const where = `${origin}[${i}]`;
    if (trimmed.startsWith('*.')) {
      const parsed = parseDomainPattern(trimmed);
      if (!parsed.ok) throw new CoexistInputError(where, trimmed, parsed.reason);
      const { name, probeFor } = nameFor(parsed.pattern);
      collector.add(name, probeFor, { kind: 'user', entry: trimmed });
      return;
    }
    const name = canonicalName(trimmed);
    const problem = name === '' ? 'empty name' : nameProblem(name);
    if (problem !== undefined) throw new CoexistInputError(where, trimmed, problem);
    collector.add(name, null, { kind: 'user', entry: trimmed });
  });
  return collector.entries();
}

/** A names file: one name or `*.suffix` per line; blank lines and `#` comments ignored. */
export function parseNamesFile(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '');
}
