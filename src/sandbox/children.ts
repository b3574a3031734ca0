// Server processes started inside a harness namespace (`ip netns exec` execs the command, so the
// child's pid is the server's). A child is ready when it prints "ready" (or a probe succeeds).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SandboxChildError } from './errors.js';

/** How to run one of this folder's TypeScript entry points from source or from dist/. */
export function nodeEntry(relative: string): string[] {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const file = fileURLToPath(new URL(`${relative}${fromSource ? '.ts' : '.js'}`, here));
  return fromSource ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file];
}

export interface NetnsChild {
  name: string;
  process: ChildProcess;
  stderr(): string;
  /** Resolves at the next stdout line equal to `line`. */
  waitLine(line: string, timeoutMs: number): Promise<void>;
}

export function startChild(name: string, netns: string, argv: readonly string[]): NetnsChild {
  const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let buffered = '';
  const waiters: { line: string; resolve: () => void }[] = [];
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      const i = waiters.findIndex((w) => w.line === line);
      if (i >= 0) waiters.splice(i, 1)[0]?.resolve();
    }
  });
  child.on('error', () => {
    // reported through exit / waitLine
  });
  return {
    name,
    process: child,
    stderr: () => stderr,
    waitLine(line, timeoutMs) {
      return new Promise((resolve, reject) => {
        const onExit = (code: number | null) => finish(new SandboxChildError(name, `exited (code ${code}) before printing "${line}"`, stderr));
        const timer = setTimeout(() => finish(new SandboxChildError(name, `no "${line}" within ${timeoutMs} ms`, stderr)), timeoutMs);
        const waiter = { line, resolve: () => finish() };
        const finish = (err?: Error) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          const i = waiters.indexOf(waiter);
          if (i >= 0) waiters.splice(i, 1);
          if (err) reject(err);
          else resolve();
        };
        if (child.exitCode !== null) return onExit(child.exitCode);
        waiters.push(waiter);
        child.once('exit', onExit);
      });
    },
  };
}
