// Removes what a crashed harness left behind, by name prefix: processes inside its namespaces,
// the namespaces (their veths and routes go with them), host-side links of a root-mode harness and
// /etc/netns/<name> directories. Only names starting with the given prefix are touched; the default
// prefix matches every harness, so call it with no argument only when no harness is running.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_PREFIX } from './names.js';
import { runSync } from './run.js';
import { SandboxConfigError } from './errors.js';

export interface SweepReport {
  netns: string[];
  links: string[];
  etcDirs: string[];
  killed: number[];
}

export function listNetns(): string[] {
  const r = runSync(['ip', '-j', 'netns', 'list']);
  if (!r.ok || r.stdout.trim() === '') return [];
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
}

export function listLinks(netns?: string): string[] {
  const r = runSync(netns ? ['ip', '-n', netns, '-j', 'link', 'show'] : ['ip', '-j', 'link', 'show']);
  if (!r.ok || r.stdout.trim() === '') return [];
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
}

export function killNetnsPids(netns: string): number[] {
  const r = runSync(['ip', 'netns', 'pids', netns]);
  const pids = r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

export function sweep(prefix: string = SANDBOX_PREFIX): SweepReport {
  if (!prefix.startsWith(SANDBOX_PREFIX)) throw new SandboxConfigError('prefix', `sweep only removes harness objects (prefix ${SANDBOX_PREFIX}...), got "${prefix}"`);
  const report: SweepReport = { netns: [], links: [], etcDirs: [], killed: [] };
  for (const ns of listNetns().filter((n) => n.startsWith(prefix))) {
    report.killed.push(...killNetnsPids(ns));
    if (runSync(['ip', 'netns', 'del', ns]).ok) report.netns.push(ns);
  }
  for (const link of listLinks().filter((l) => l.startsWith(prefix))) {
    if (runSync(['ip', 'link', 'del', link]).ok) report.links.push(link);
  }
  let etc: string[] = [];
  try {
    etc = readdirSync('/etc/netns').filter((n) => n.startsWith(prefix));
  } catch {
    // no /etc/netns
  }
  for (const d of etc) {
    rmSync(join('/etc/netns', d), { recursive: true, force: true });
    report.etcDirs.push(d);
  }
  return report;
}
