// Reads of the kernel's routing, link, neighbour and bridge FDB tables through `ip -j` and
// `bridge -j` (one process per table per resync; route lookups are batched into one process).
import { spawn } from 'node:child_process';
import { canonicalIp } from './select.js';

export interface RouteAnswer {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  master?: string;
  kind?: string;
  address?: string;
  operstate?: string;
}

export interface NeighEntry {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

export interface FdbEntry {
  mac: string;
  ifname: string;
  master?: string;
  flags?: string[];
  state?: string;
}

export class NetlinkReadError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')}: ${stderr.trim() || 'failed'}`);
    this.name = 'NetlinkReadError';
  }
}

function exec(argv: string[], input: string | undefined, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

const withNs = (tool: string, netns: string | undefined, args: string[]) => (netns ? [tool, '-n', netns, ...args] : [tool, ...args]);

/** Parses several concatenated JSON arrays (one per batch line). */
function jsonArrays<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.startsWith('[')) out.push(...(JSON.parse(t) as T[]));
  }
  return out;
}

export class Netlink {
  constructor(
    private readonly netns?: string,
    private readonly timeoutMs = 10_000,
  ) {}

  private async json<T>(tool: string, args: string[], input?: string, tolerateFailure = false): Promise<T[]> {
    const argv = withNs(tool, this.netns, args);
    const r = await exec(argv, input, this.timeoutMs);
    if (r.code !== 0 && !tolerateFailure) throw new NetlinkReadError(argv, r.stderr);
    return jsonArrays<T>(r.stdout);
  }

  /** The route the kernel picks for each address, by canonical address; unroutable ones are absent. */
  async routeGet(ips: readonly string[]): Promise<Map<string, RouteAnswer>> {
    const out = new Map<string, RouteAnswer>();
    if (ips.length === 0) return out;
    // -force: an unreachable address fails its line only; its answer is simply missing.
    const routes = await this.json<RouteAnswer>('ip', ['-j', '-force', '-batch', '-'], ips.map((ip) => `route get ${ip}`).join('\n') + '\n', true);
    for (const r of routes) out.set(canonicalIp(r.dst), r);
    return out;
  }

  async links(): Promise<Map<string, LinkInfo>> {
    const raw = await this.json<{ ifindex: number; ifname: string; master?: string; address?: string; operstate?: string; linkinfo?: { info_kind?: string } }>('ip', ['-j', '-d', 'link', 'show']);
    return new Map(raw.map((l) => [l.ifname, { ifindex: l.ifindex, ifname: l.ifname, master: l.master, kind: l.linkinfo?.info_kind, address: l.address, operstate: l.operstate }]));
  }

  async neighbours(): Promise<NeighEntry[]> {
    return this.json<NeighEntry>('ip', ['-j', 'neigh', 'show']);
  }

  async fdb(): Promise<FdbEntry[]> {
    return this.json<FdbEntry>('bridge', ['-j', 'fdb', 'show']);
  }
}
