// A `dnsgate agent` child process, optionally inside a network namespace, whose JSON log lines are
// collected and can be awaited (the demo and the end-to-end tests read verdicts from its decision
// log). `nsenter --net` is used rather than `ip netns exec`, which remounts /sys and would hide
// the bpffs pins from the agent.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DecisionRecord } from '../agent/decision-log.js';

/** One JSON log line of the agent. */
export type AgentLogLine = Record<string, unknown> & { msg?: string; event?: string };
export type DecisionLogLine = AgentLogLine & DecisionRecord & { event: 'decision' };

/** argv running this checkout's dnsgate CLI (from source under tsx, or compiled), in `netns`. */
export function dnsgateArgv(args: readonly string[], netns?: string): string[] {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const entry = fileURLToPath(new URL(`./index.${fromSource ? 'ts' : 'js'}`, here));
  const inner = fromSource ? [process.execPath, '--import', 'tsx', entry, ...args] : [process.execPath, entry, ...args];
  return netns !== undefined ? ['nsenter', `--net=/run/netns/${netns}`, ...inner] : inner;
}

export class AgentProcess {
  readonly logs: AgentLogLine[] = [];
  private child: ChildProcess | undefined;
  private stderrTail = '';
  private readonly waiters: { pred: (l: AgentLogLine) => boolean; resolve: (l: AgentLogLine) => void }[] = [];

  constructor(
    private readonly opts: {
      /** Arguments after `dnsgate agent`. */
      args: readonly string[];
      netns?: string;
      cwd?: string;
      /** Every log line is also appended to this file. */
      logFile?: string;
    },
  ) {}

  get process(): ChildProcess | undefined {
    return this.child;
  }

  /** Starts the agent and resolves once it logs `ready` (rejects if it exits first). */
  async start(readyTimeoutMs = 60_000): Promise<void> {
    const argv = dnsgateArgv(['agent', ...this.opts.args], this.opts.netns);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: this.opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (this.opts.logFile) appendFileSync(this.opts.logFile, `${text}\n`);
        let line: AgentLogLine;
        try {
          line = JSON.parse(text) as AgentLogLine;
        } catch {
          line = { msg: text };
        }
        this.logs.push(line);
        for (const w of [...this.waiters]) {
          if (w.pred(line)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-8000)));
    await this.waitLog((l) => l.event === 'ready', readyTimeoutMs);
  }

  /** The first log line (already seen or future) matching `pred`. */
  waitLog(pred: (l: AgentLogLine) => boolean, timeoutMs = 10_000): Promise<AgentLogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    const child = this.child;
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (l: AgentLogLine) => {
          clearTimeout(timer);
          child?.off('exit', onExit);
          resolve(l);
        },
      };
      const fail = (why: string): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        child?.off('exit', onExit);
        reject(new Error(`${why}\n--- agent stderr ---\n${this.stderrTail}\n--- last agent log lines ---\n${this.logs.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`));
      };
      const timer = setTimeout(() => fail(`no matching agent log line within ${timeoutMs} ms`), timeoutMs);
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        fail(`agent exited (code ${String(code)})`);
      };
      child?.once('exit', onExit);
      this.waiters.push(waiter);
    });
  }

  decisions(filter: Partial<DecisionRecord> = {}): DecisionLogLine[] {
    return this.logs.filter((l): l is DecisionLogLine => l.event === 'decision' && matches(l, filter));
  }

  /** Waits for a decision line matching `filter` (events arrive asynchronously). */
  decision(filter: Partial<DecisionRecord>, timeoutMs = 5000): Promise<DecisionLogLine> {
    return this.waitLog((l) => l.event === 'decision' && matches(l, filter), timeoutMs) as Promise<DecisionLogLine>;
  }

  /** The http address the agent logged (`/healthz`, `/readyz`, `/metrics`). */
  httpAddress(): string | undefined {
    const line = this.logs.find((l) => l.event === 'http_listening');
    return typeof line?.address === 'string' ? line.address : undefined;
  }

  /** Sends `signal` and resolves with the exit code (SIGKILL after 10 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

function matches(line: AgentLogLine, filter: Partial<DecisionRecord>): boolean {
  return Object.entries(filter).every(([k, v]) => line[k] === v);
}
