// `dnsgate coexist -f PATH... --firewall FILE [--zones FILE...] [--names FILE|--name N...]
//   [-o table|json] [--mode standard|strict] [--port PROTO/N...] [--firewall-unavailable]
//   [--fail-open ENABLED|DISABLED] [--fail-on-conflict] [--min-ttl S] [--max-ttl S]`
// The CLI wiring (src/cli) calls runCoexistCommand with the arguments after the subcommand.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadManifests } from '../../api/load.js';
import { DEFAULT_TTL_BOUNDS } from '../../fqdn/learned.js';
import { PolicyModelError } from '../../policy/model.js';
import { loadFirewallFile } from '../config-load.js';
import { R53ConfigError, ZoneError } from '../errors.js';
import type { FailOpen, FirewallConfig } from '../firewall-model.js';
import { loadZoneFiles } from '../zone-load.js';
import type { ZoneSet } from '../zone-model.js';
import { analyzeCoexistence } from './analyze.js';
import { CoexistInputError } from './errors.js';
import { parseNamesFile, userNames } from './names.js';
import { renderTable } from './render-table.js';
import type { PortProbe } from './subjects.js';
import type { NameEntry } from './types.js';

export const COEXIST_USAGE = `usage: dnsgate coexist -f PATH [PATH ...] --firewall FILE [--zones FILE ...]
         [--names FILE | --name NAME ...] [-o table|json] [--mode standard|strict]
         [--port PROTO/PORT ...] [--firewall-unavailable] [--fail-open ENABLED|DISABLED] [--fail-on-conflict]
         [--min-ttl SECONDS] [--max-ttl SECONDS]

Explains how the cluster's egress policies and Route 53 Resolver DNS Firewall combine, per pod
group and name, and flags where they disagree.
  -f, --file PATH         manifests: policies and cluster state (files or directories, repeatable)
  --firewall FILE         firewall YAML, or a bundle of AWS CLI outputs (as r53-emulator reads)
  --zones FILE            YAML test zones, to follow CNAME chains and OVERRIDE targets to addresses
  --names FILE            names to analyse, one per line ("*.x.com" stands for dnsgate-probe.x.com)
  --name NAME             a name to analyse (repeatable); default: every policy pattern and firewall entry
  -o, --output FORMAT     table (default) or json
  --mode MODE             default for pods no policy selects: standard (allow, default) or strict
  --port PROTO/PORT       destination ports to probe (repeatable; default: TCP/443 and the rules' ports)
  --firewall-unavailable  simulate DNS Firewall being down (SERVFAIL unless fail-open)
  --fail-open VALUE       override FirewallFailOpen (ENABLED or DISABLED)
  --fail-on-conflict      exit 1 when a conflict is found
  --min-ttl SECONDS       the proxy's minTTL: learned addresses stay open at least this long (default ${DEFAULT_TTL_BOUNDS.minTTL})
  --max-ttl SECONDS       the proxy's maxTTL: and at most this long (default ${DEFAULT_TTL_BOUNDS.maxTTL})`;

export interface CoexistIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (line: string) => void;
}

const defaultIo: CoexistIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (line) => void process.stderr.write(`${line}\n`),
};

function parsePort(text: string, i: number): PortProbe {
  const m = /^(TCP|UDP|SCTP)\/(\d{1,5})$/i.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new CoexistInputError(`--port[${i}]`, text, 'expected PROTO/PORT with PROTO TCP, UDP or SCTP and PORT 1..65535');
  return { protocol: m[1]!.toUpperCase() as PortProbe['protocol'], port };
}

/** Same range as the agent's dns.minTTL / dns.maxTTL. */
const MAX_TTL_OPTION = 86_400 * 365;

function seconds(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return n <= MAX_TTL_OPTION ? n : undefined;
}

async function readText(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CoexistInputError(option, file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function loadZones(files: readonly string[]): Promise<ZoneSet> {
  for (const [i, f] of files.entries()) await readText(f, `--zones[${i}]`);
  return loadZoneFiles(files);
}

function isInputError(err: unknown): err is Error {
  return err instanceof CoexistInputError || err instanceof R53ConfigError || err instanceof ZoneError || err instanceof PolicyModelError;
}

/** Runs the analysis; returns the exit code (0 ok, 1 conflicts with --fail-on-conflict, 2 bad input). */
export async function runCoexistCommand(argv: readonly string[], io: CoexistIo = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        firewall: { type: 'string' },
        zones: { type: 'string', multiple: true },
        names: { type: 'string' },
        name: { type: 'string', multiple: true },
        output: { type: 'string', short: 'o', default: 'table' },
        mode: { type: 'string', default: 'standard' },
        port: { type: 'string', multiple: true },
        'firewall-unavailable': { type: 'boolean', default: false },
        'fail-open': { type: 'string' },
        'fail-on-conflict': { type: 'boolean', default: false },
        'min-ttl': { type: 'string' },
        'max-ttl': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      // `-f a.yaml b.yaml` (as the other subcommands accept): extra words are more manifest paths.
      allowPositionals: true,
    });
  } catch (err) {
    io.stderr(`dnsgate coexist: ${(err as Error).message}\n${COEXIST_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stderr(COEXIST_USAGE);
    return 0;
  }
  const usage = (message: string): number => {
    io.stderr(`dnsgate coexist: ${message}\n${COEXIST_USAGE}`);
    return 2;
  };
  const files = [...(values.file ?? []), ...positionals];
  if (files.length === 0 || !values.firewall) return usage('-f and --firewall are required');
  if (values.output !== 'table' && values.output !== 'json') return usage('-o must be table or json');
  if (values.mode !== 'standard' && values.mode !== 'strict') return usage('--mode must be standard or strict');
  if (values.names !== undefined && values.name !== undefined) return usage('give --names or --name, not both');
  const failOpen = values['fail-open'];
  if (failOpen !== undefined && failOpen !== 'ENABLED' && failOpen !== 'DISABLED') return usage('--fail-open must be ENABLED or DISABLED');
  const minTTL = seconds(values['min-ttl'], DEFAULT_TTL_BOUNDS.minTTL);
  if (minTTL === undefined) return usage(`--min-ttl must be a whole number of seconds 0..${MAX_TTL_OPTION}`);
  const maxTTL = seconds(values['max-ttl'], Math.max(DEFAULT_TTL_BOUNDS.maxTTL, minTTL));
  if (maxTTL === undefined) return usage(`--max-ttl must be a whole number of seconds 0..${MAX_TTL_OPTION}`);
  if (maxTTL < minTTL) return usage(`--max-ttl (${maxTTL}) must be >= --min-ttl (${minTTL})`);

  try {
    const ports = values.port?.map(parsePort);
    let names: NameEntry[] | undefined;
    if (values.names !== undefined) names = userNames(parseNamesFile(await readText(values.names, '--names')), values.names);
    else if (values.name !== undefined) names = userNames(values.name, '--name');

    const loaded = await loadManifests(files);
    const errors = loaded.problems.filter((p) => p.severity === 'error');
    for (const p of loaded.problems) {
      const where = [p.source, p.ref, p.field].filter((x) => x !== undefined).join(' ');
      io.stderr(`${p.severity}: ${where}: ${p.message}`);
    }
    if (errors.length > 0) {
      io.stderr(`dnsgate coexist: ${errors.length} manifest error(s)`);
      return 2;
    }
    const { config, warnings } = await loadFirewallFile(values.firewall);
    for (const w of warnings) io.stderr(`warning: ${w}`);
    const firewall: FirewallConfig = {
      ...config,
      settings: {
        ...config.settings,
        ...(values['firewall-unavailable'] ? { firewallAvailable: false } : {}),
        ...(failOpen ? { failOpen: failOpen as FailOpen } : {}),
      },
    };
    const zones = values.zones?.length ? await loadZones(values.zones) : undefined;
    const report = analyzeCoexistence({
      state: loaded.state,
      firewall,
      mode: values.mode,
      ttlBounds: { minTTL, maxTTL },
      ...(zones ? { zones } : {}),
      ...(names ? { names } : {}),
      ...(ports ? { ports } : {}),
    });
    io.stdout(values.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderTable(report));
    return values['fail-on-conflict'] && report.conflicts.length > 0 ? 1 : 0;
  } catch (err) {
    if (isInputError(err)) {
      io.stderr(`dnsgate coexist: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
