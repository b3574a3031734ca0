// Live harnesses of this process and the hooks that tear them down when the process ends: normal
// exit, an uncaught error (both end in 'exit'), and SIGINT/SIGTERM/SIGHUP. Teardown here is
// synchronous because exit and signal handlers cannot wait for promises.

export interface Destroyable {
  destroySync(): void;
}

const live = new Set<Destroyable>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function destroyAll(): void {
  for (const h of [...live]) {
    live.delete(h);
    try {
      h.destroySync();
    } catch {
      // keep going: the other harnesses must still be removed
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAll();
  // When we are the only handler, behave as if there were none: die by the same signal.
  if (process.listenerCount(signal) <= 1) {
    uninstall();
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', destroyAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', destroyAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

export function register(h: Destroyable): void {
  install();
  live.add(h);
}

export function unregister(h: Destroyable): void {
  live.delete(h);
  if (live.size === 0) uninstall();
}

export function liveCount(): number {
  return live.size;
}
