// The `dnsgate` command: parses arguments, runs one subcommand, maps errors to exit codes.
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT, InputError } from './errors.js';
import { addAgentOptions, runAgent } from './agent.js';
import { DEFAULT_TOUR, runDemo } from './agent-demo.js';
import { runExplain } from './explain.js';
import { runLint } from './lint.js';
import { runR53EmulatorCommand } from '../r53/command.js';
import { runCoexistCommand } from '../r53/coexist/command.js';
import type { CommandOutput } from './output.js';
import { parseAt } from './time.js';

export function buildProgram(emit: (out: CommandOutput) => void): Command {
  const program = new Command('dnsgate')
    .description('FQDN-aware Kubernetes network policy: node-local DNS proxy + eBPF datapath')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('explain')
    .description('why each flow is allowed or denied (reference evaluator)')
    .requiredOption('-f, --file <paths...>', 'manifest files or directories (policies and cluster state)')
    .requiredOption('--flows <file>', 'YAML/JSON list of flows {from, to, protocol, port, fqdn?}')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(new Option('--mode <mode>', 'default for unselected pods').choices(['standard', 'strict']).default('standard'))
    .option('--at <time>', 'evaluate at this time (ISO 8601 or epoch ms); default now')
    .action(async (o: { file: string[]; flows: string; output: 'table' | 'json'; mode: 'standard' | 'strict'; at?: string }) => {
      emit(await runExplain({ files: o.file, flows: o.flows, output: o.output, mode: o.mode, at: parseAt(o.at) }));
    });

  program
    .command('lint')
    .description('validate manifests and warn about ambiguous or ineffective policies')
    .requiredOption('-f, --file <paths...>', 'manifest files or directories')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (o: { file: string[]; output: 'text' | 'json' }) => {
      emit(await runLint({ files: o.file, output: o.output }));
    });

  addAgentOptions(
    program
      .command('agent')
      .description('the node agent: DNS proxy, transparent DNS redirection, policy compiler and datapath (runs until SIGTERM/SIGINT)'),
  ).action(async (o: Record<string, unknown>) => {
    emit(await runAgent(o));
  });

  program
    .command('demo')
    .description('live tour on a node made of namespaces: the examples\' flows with real clients, verdicts from the agent\'s decision log (root)')
    .argument('[examples...]', `example directories under examples/ (default: ${DEFAULT_TOUR.join(' ')})`)
    .option('--non-interactive', 'exit after the tour instead of keeping the last node up until Ctrl-C')
    .option('--repo <dir>', 'checkout holding examples/ (default: this one)')
    .action(async (examples: string[], o: { nonInteractive?: boolean; repo?: string }) => {
      const repo = o.repo ?? fileURLToPath(new URL('../..', import.meta.url));
      const exitCode = await runDemo({
        repo,
        examples: examples.length > 0 ? examples : DEFAULT_TOUR,
        interactive: o.nonInteractive !== true,
        out: (line) => void process.stdout.write(`${line}\n`),
      });
      emit({ exitCode, stdout: '', stderr: '' });
    });

  // Subcommands that own their argument parsing get the raw arguments.
  program
    .command('r53-emulator')
    .description('Route 53 Resolver DNS Firewall emulator (test zones + firewall rules) over UDP/TCP')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      const exitCode = await runR53EmulatorCommand(cmd.args, { stderr: (line) => void process.stderr.write(`${line}\n`) });
      emit({ exitCode, stdout: '', stderr: '' });
    });

  program
    .command('coexist')
    .description('how EKS-style FQDN policies and Route 53 DNS Firewall rules combine, per pod and name')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      emit({ exitCode: await runCoexistCommand(cmd.args), stdout: '', stderr: '' });
    });

  return program;
}

/** Runs the CLI for `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], write = defaultWrite): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((out) => {
    write(out);
    exitCode = out.exitCode;
  });
  program.configureOutput({
    writeOut: (s) => write({ exitCode: 0, stdout: s, stderr: '' }),
    writeErr: (s) => write({ exitCode: EXIT.input, stdout: '', stderr: s }),
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    return handleError(err, write);
  }
}

function handleError(err: unknown, write: (out: CommandOutput) => void): number {
  if (err instanceof CommanderError) {
    // help and version are "errors" to commander; they already printed.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    return EXIT.input;
  }
  if (err instanceof InvalidArgumentError || err instanceof InputError) {
    const details = err instanceof InputError ? err.details.map((d) => `  ${d}\n`).join('') : '';
    write({ exitCode: EXIT.input, stdout: '', stderr: `dnsgate: ${err.message}\n${details}` });
    return EXIT.input;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  write({ exitCode: EXIT.internal, stdout: '', stderr: `dnsgate: internal error (please report): ${text}\n` });
  return EXIT.internal;
}

function defaultWrite(out: CommandOutput): void {
  if (out.stdout) process.stdout.write(out.stdout);
  if (out.stderr) process.stderr.write(out.stderr);
}
