// Running commands on the host or inside a network namespace. `ip netns exec` gives the command
// the namespace's /etc/netns/<name> files (resolv.conf); `ip -n` is used for plain ip commands.
import { execFileSync, spawn } from 'node:child_process';
import { SandboxCommandError } from './errors.js';

export interface RunOptions {
  /** Run inside this network namespace (by name). */
  netns?: string;
  /** Kill the command after this long (default 10 s); the result says `timedOut`. */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export function inNetns(netns: string | undefined, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : ['ip', 'netns', 'exec', netns, ...argv];
}

/** Runs a command to completion (never throws for a non-zero exit; see `runOk`). */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = inNetns(opts.netns, argv);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, durationMs: Date.now() - started });
    });
    child.stdin.on('error', () => {
      // the command may exit without reading its input
    });
    child.stdin.end(opts.input ?? '');
  });
}

export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new SandboxCommandError(argv, opts.netns, r.code, r.timedOut ? `timed out after ${opts.timeoutMs ?? 10_000} ms; ${r.stderr}` : r.stderr);
  return r.stdout;
}

/** `ip [-n netns] -batch -` with one command per line; stops at the first failing line. */
export async function ipBatch(netns: string | undefined, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns === undefined ? ['ip', '-batch', '-'] : ['ip', '-n', netns, '-batch', '-'];
  await runOk(argv, { input: `${lines.join('\n')}\n`, timeoutMs: 30_000 });
}

/** Synchronous form for teardown paths (exit and signal handlers cannot await). */
export function runSync(argv: readonly string[], opts: { netns?: string; timeoutMs?: number } = {}): { ok: boolean; stdout: string; stderr: string } {
  const full = inNetns(opts.netns, argv);
  try {
    const stdout = execFileSync(full[0]!, full.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 10_000 });
    return { ok: true, stdout, stderr: '' };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}
