// `dnsgate r53-emulator --zones FILE [--zones FILE...] --firewall FILE [--listen ADDR:PORT]
//   [--query-log FILE|-] [--firewall-unavailable] [--fail-open ENABLED|DISABLED]`
// The CLI wiring (src/cli) calls runR53EmulatorCommand with the arguments after the subcommand.
import { isIP, isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { loadFirewallFile } from './config-load.js';
import { ListenAddressError, R53ConfigError, ZoneError } from './errors.js';
import type { FailOpen } from './firewall-model.js';
import { fileQueryLog } from './query-log.js';
import { startEmulator } from './server.js';
import type { RunningEmulator } from './server.js';
import { loadZoneFiles } from './zone-load.js';

export const DEFAULT_LISTEN = '127.0.0.1:5300';

export const R53_EMULATOR_USAGE = `usage: dnsgate r53-emulator --zones FILE [--zones FILE ...] --firewall FILE
         [--listen ADDR:PORT] [--query-log FILE|-] [--firewall-unavailable] [--fail-open ENABLED|DISABLED]

Serves the test zones over UDP and TCP and applies Route 53 Resolver DNS Firewall rules first.
  --zones FILE            YAML zone file (repeatable)
  --firewall FILE         firewall YAML, or a bundle of AWS CLI outputs (awsCli: ...)
  --listen ADDR:PORT      listen address (default ${DEFAULT_LISTEN}; IPv6 as [::1]:5300)
  --query-log FILE        append Route 53 style query log lines (JSON) to FILE, "-" for stdout
  --firewall-unavailable  simulate DNS Firewall being down (SERVFAIL unless fail-open)
  --fail-open VALUE       override FirewallFailOpen (ENABLED or DISABLED)`;

export function parseListen(value: string): { host: string; port: number } {
  let host: string;
  let portText: string;
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2]!;
  } else if (isIPv6(value)) {
    throw new ListenAddressError(value, 'an IPv6 address needs brackets and a port: [::1]:5300');
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) throw new ListenAddressError(value, 'expected ADDR:PORT');
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
  }
  if (isIP(host) === 0) throw new ListenAddressError(value, `"${host}" is not an IP address`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new ListenAddressError(value, `"${portText}" is not a port number`);
  return { host, port };
}

export interface CommandIo {
  readonly stderr: (line: string) => void;
  /** Resolves when the emulator should stop; defaults to SIGINT/SIGTERM. */
  readonly stopped?: Promise<void>;
  /** Receives the running emulator once it listens (tests use it to learn the port). */
  readonly onListening?: (emulator: RunningEmulator) => void;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** Runs the emulator until stopped; returns the process exit code (2 = bad usage or config). */
export async function runR53EmulatorCommand(argv: readonly string[], io?: CommandIo): Promise<number> {
  const stderr = io?.stderr ?? ((line: string) => void process.stderr.write(`${line}\n`));
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        zones: { type: 'string', multiple: true },
        firewall: { type: 'string' },
        listen: { type: 'string', default: DEFAULT_LISTEN },
        'query-log': { type: 'string' },
        'firewall-unavailable': { type: 'boolean', default: false },
        'fail-open': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    stderr(`dnsgate r53-emulator: ${(err as Error).message}\n${R53_EMULATOR_USAGE}`);
    return 2;
  }
  if (values.help) {
    stderr(R53_EMULATOR_USAGE);
    return 0;
  }
  if (!values.zones?.length || !values.firewall) {
    stderr(`dnsgate r53-emulator: --zones and --firewall are required\n${R53_EMULATOR_USAGE}`);
    return 2;
  }
  const failOpen = values['fail-open'];
  if (failOpen !== undefined && failOpen !== 'ENABLED' && failOpen !== 'DISABLED') {
    stderr('dnsgate r53-emulator: --fail-open must be ENABLED or DISABLED');
    return 2;
  }

  let emulator: RunningEmulator;
  try {
    const listen = parseListen(values.listen);
    const zones = await loadZoneFiles(values.zones);
    const { config, warnings } = await loadFirewallFile(values.firewall);
    for (const w of warnings) stderr(`warning: ${w}`);
    const settings = {
      ...config.settings,
      ...(values['firewall-unavailable'] ? { firewallAvailable: false } : {}),
      ...(failOpen ? { failOpen: failOpen as FailOpen } : {}),
    };
    emulator = await startEmulator({
      zones,
      firewall: { ...config, settings },
      host: listen.host,
      port: listen.port,
      onEvent: (line) => stderr(`r53-emulator: ${line}`),
      ...(values['query-log'] ? { queryLog: fileQueryLog(values['query-log']) } : {}),
    });
  } catch (err) {
    if (err instanceof R53ConfigError || err instanceof ZoneError || err instanceof ListenAddressError) {
      stderr(`dnsgate r53-emulator: ${err.message}`);
      return 2;
    }
    // A zone or firewall file that cannot be read is bad input too; anything else (address in
    // use, ...) is a runtime failure.
    const errno = err as NodeJS.ErrnoException;
    stderr(`dnsgate r53-emulator: ${errno.message}`);
    return errno.syscall === 'open' || errno.syscall === 'read' || errno.syscall === 'scandir' ? 2 : 1;
  }
  const shown = emulator.family === 'IPv6' ? `[${emulator.address}]:${emulator.port}` : `${emulator.address}:${emulator.port}`;
  const rules = emulator.firewall.associations.reduce((n, a) => n + a.ruleGroup.rules.length, 0);
  stderr(`r53-emulator listening on ${shown} (udp, tcp): ${emulator.firewall.associations.length} rule group associations, ${rules} rules`);
  io?.onListening?.(emulator);
  await (io?.stopped ?? waitForSignal());
  await emulator.close();
  return 0;
}
