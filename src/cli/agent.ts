// `dnsgate agent`: the node agent in the foreground until SIGTERM/SIGINT (pinned state kept), or
// with --uninstall, remove everything an agent put on this node and exit.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { Agent } from '../agent/agent.js';
import { CONFIG_FIELDS } from '../agent/config-fields.js';
import { readConfigFile, resolveAgentConfig, type AgentConfig, type ConfigOverrides } from '../agent/config.js';
import { openDatapath } from '../agent/datapath-factory.js';
import type { AgentSidecar } from '../agent/policy-status.js';
import { AgentConfigError } from '../agent/errors.js';
import { removeRedirectTable } from '../agent/redirect.js';
import { STATE_FILE, StateStore } from '../agent/state-store.js';
import { FileSource } from '../sources/files/index.js';
import type { ClusterSource } from '../sources/types.js';
import { EXIT, InputError } from './errors.js';
import type { CommandOutput } from './output.js';

/** Adds one option per config field that has a flag, so flags and fields cannot drift apart. */
export function addAgentOptions(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'YAML config file (flags override its fields)');
  for (const f of CONFIG_FIELDS) {
    if (!f.flag) continue;
    const opt = new Option(f.flag, `${f.doc} [${f.path}]`);
    if (f.type.kind === 'enum') opt.choices([...f.type.values]);
    cmd.addOption(opt);
  }
  cmd.option('--uninstall', 'remove the eBPF programs, pinned maps and the nft table, then exit');
  return cmd;
}

/** Commander's parsed options -> config overrides by field path. */
export function overridesFromOptions(opts: Record<string, unknown>): ConfigOverrides {
  const out: Record<string, unknown> = {};
  for (const f of CONFIG_FIELDS) {
    if (!f.flag) continue;
    const v = opts[new Option(f.flag).attributeName()];
    if (v !== undefined) out[f.path] = v;
  }
  return out;
}

export function agentConfigFrom(opts: Record<string, unknown>): AgentConfig {
  const file = typeof opts.config === 'string' ? readConfigFile(opts.config) : undefined;
  return resolveAgentConfig({ ...(file ? { file } : {}), overrides: overridesFromOptions(opts) });
}

/** Manifests given: the standalone file source; otherwise the Kubernetes API. */
async function sourceFor(config: AgentConfig, log: pino.Logger): Promise<{ source: ClusterSource; sidecars: AgentSidecar[] }> {
  if (config.manifests.length > 0) return { source: new FileSource({ paths: [...config.manifests] }), sidecars: [] };
  if (config.nodeName === undefined) throw new AgentConfigError('nodeName', 'required with the Kubernetes API source (no manifests): which pods are this node\'s');
  const { KubeClusterSource, loadKubeConfig } = await import('../sources/kube/index.js');
  const kubeConfig = loadKubeConfig(
    config.kubeconfig !== undefined ? { mode: 'file', path: config.kubeconfig } : process.env.KUBERNETES_SERVICE_HOST ? { mode: 'in-cluster' } : { mode: 'default' },
  );
  const source = new KubeClusterSource({ kubeConfig, logger: log.child({ part: 'kube' }) });
  const { PolicyStatusPublisher } = await import('../agent/policy-status.js');
  return { source, sidecars: [new PolicyStatusPublisher(source, config, log)] };
}

async function uninstall(config: AgentConfig, log: pino.Logger): Promise<void> {
  const hadTable = await removeRedirectTable();
  log.info({ event: 'uninstall', nftTable: hadTable ? 'removed' : 'absent' }, 'nft table');
  rmSync(join(config.paths.state, STATE_FILE), { force: true });
  if (config.datapath === 'ebpf' && existsSync(config.paths.bpffs)) {
    const dp = await openDatapath(config);
    await dp.uninstall?.();
    log.info({ event: 'uninstall', bpffs: config.paths.bpffs }, 'eBPF programs and pins removed');
  }
}

/** Runs the agent until a signal; resolves with the exit code. */
export async function runAgent(opts: Record<string, unknown>): Promise<CommandOutput> {
  let config: AgentConfig;
  try {
    config = agentConfigFrom(opts);
  } catch (err) {
    if (err instanceof AgentConfigError) throw new InputError(`invalid agent configuration: ${err.message}`, []);
    throw err;
  }
  const log = pino({ name: 'dnsgate-agent', level: config.log.level });
  if (opts.uninstall === true) {
    await uninstall(config, log);
    return { exitCode: EXIT.ok, stdout: '', stderr: '' };
  }
  let source: ClusterSource;
  let sidecars: AgentSidecar[];
  let datapath;
  try {
    ({ source, sidecars } = await sourceFor(config, log));
  } catch (err) {
    if (err instanceof AgentConfigError) throw new InputError(`invalid agent configuration: ${err.message}`, []);
    log.fatal({ event: 'start_failed', err }, (err as Error).message);
    return { exitCode: EXIT.internal, stdout: '', stderr: `dnsgate agent: ${(err as Error).message}\n` };
  }
  // Loaded before the datapath opens: learned entries in pinned maps are only kept when the ids
  // they are keyed by come back unchanged (the compiler is seeded with this compilation).
  const previous = new StateStore(config.paths.state, (err) => log.warn({ event: 'state_dir', err }, err.message)).load() ?? null;
  try {
    datapath = await openDatapath(config, { keepAdoptedLearned: previous !== null });
  } catch (err) {
    log.fatal({ event: 'start_failed', err }, (err as Error).message);
    return { exitCode: EXIT.internal, stdout: '', stderr: `dnsgate agent: ${(err as Error).message}\n` };
  }
  const agent = new Agent({ config, source, datapath, logger: log, previous, sidecars });
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ event: 'signal', signal }, 'second signal: exiting now');
        process.exit(EXIT.internal);
      }
      log.info({ event: 'signal', signal }, 'stopping');
      stopping = agent.stop().finally(resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ event: 'start_failed', err }, (err as Error).message);
    return { exitCode: EXIT.internal, stdout: '', stderr: `dnsgate agent: ${(err as Error).message}\n` };
  }
  await stopped;
  return { exitCode: EXIT.ok, stdout: '', stderr: '' };
}
