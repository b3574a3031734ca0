// Shared helpers of the r53 tests: firewall configs from inline documents, and a real `dig`.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { firewallFromDocument } from '../../src/r53/firewall-yaml.js';
import type { FirewallConfig } from '../../src/r53/firewall-model.js';
import { parseZones } from '../../src/r53/zone-load.js';
import { ZoneSet } from '../../src/r53/zone-model.js';
import { parse as parseYaml } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES = join(here, '..', '..', 'examples', 'r53');

export function firewall(doc: unknown): FirewallConfig {
  return firewallFromDocument(doc, 'test.yaml');
}

export function exampleZones(): ZoneSet {
  const file = join(EXAMPLES, 'zones.yaml');
  return new ZoneSet(parseZones(readFileSync(file, 'utf8'), file));
}

export function exampleFirewall(settings: Record<string, unknown> = {}): FirewallConfig {
  const doc = parseYaml(readFileSync(join(EXAMPLES, 'firewall.yaml'), 'utf8')) as Record<string, unknown>;
  return firewallFromDocument({ ...doc, settings: { ...(doc.settings as object), ...settings } }, 'firewall.yaml');
}

export interface DigRecord {
  readonly name: string;
  readonly ttl: number;
  readonly type: string;
  readonly data: string;
}

export interface DigResult {
  readonly status: string;
  readonly flags: readonly string[];
  readonly answers: readonly DigRecord[];
  readonly authorities: readonly DigRecord[];
  readonly raw: string;
}

const run = promisify(execFile);

function records(section: string | undefined): DigRecord[] {
  if (!section) return [];
  return section
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .map((l) => {
      const [name, ttl, , type, ...rest] = l.split(/\s+/);
      return { name: name!, ttl: Number(ttl), type: type!, data: rest.join(' ') };
    });
}

/** Runs the real dig against the emulator and parses status, flags and sections. */
export async function dig(
  server: { address: string; port: number },
  name: string,
  type: string,
  options: { tcp?: boolean; extra?: string[] } = {},
): Promise<DigResult> {
  const args = [
    `@${server.address}`,
    '-p',
    String(server.port),
    name,
    type,
    '+noall',
    '+comments',
    '+answer',
    '+authority',
    '+tries=1',
    '+time=3',
    ...(options.tcp ? ['+tcp'] : ['+notcp']),
    ...(options.extra ?? []),
  ];
  const { stdout } = await run('dig', args);
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'NO-ANSWER';
  const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const answerSection = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|\n;;|$)/.exec(stdout)?.[1];
  const authoritySection = /;; AUTHORITY SECTION:\n([\s\S]*?)(?:\n\n|\n;;|$)/.exec(stdout)?.[1];
  return { status, flags, answers: records(answerSection), authorities: records(authoritySection), raw: stdout };
}
