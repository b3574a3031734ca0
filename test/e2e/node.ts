// An end-to-end node: the sandbox harness (pods, upstream DNS, outside servers in namespaces) plus
// a real `dnsgate agent` process running inside the node's network namespace with the eBPF
// datapath and nftables redirection. `nsenter --net` (not `ip netns exec`, which remounts /sys and
// hides /sys/fs/bpf) keeps bpffs visible to the agent. Teardown stops the agent, runs
// `dnsgate agent --uninstall` there (programs, pins, nft table) and destroys the harness, also
// when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { loadManifests } from '../../src/api/load.js';
import type { ClusterState } from '../../src/api/types.js';
import { Harness, run, type HarnessOptions, type RunResult, type ZoneRecord } from '../../src/sandbox/index.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KUBE_DNS = join(REPO, 'test/e2e/fixtures/kube-dns.yaml');
export const example = (name: string, file = ''): string => join(REPO, 'examples', name, file);

export const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n*** test/e2e: NOT ROOT and CI is not set: SKIPPING the end-to-end agent tests (need netns, nftables, BPF) ***\n');

/** One JSON log line of the agent. */
export type LogLine = Record<string, unknown> & { msg?: string; event?: string; level?: number };

export interface DecisionLine extends LogLine {
  event: 'decision';
  decision: 'allow' | 'deny';
  pod: string;
  direction: 'egress' | 'ingress';
  src: string;
  dst: string;
  protocol: string;
  dport: number;
  tier: string | null;
  policy: string | null;
  rule: string | number | null;
  reason: string;
}

export interface E2eNodeOptions {
  /** Manifest files/directories: the cluster state and policies (also what the harness builds). */
  manifests: string[];
  zone: ZoneRecord[];
  /** Only this node's pods get namespaces and are enforced (default: every pod). */
  nodeName?: string;
  /** Extra agent config fields (merged over the defaults below). */
  agent?: Record<string, unknown>;
  /** Harness options beyond state and zone. */
  harness?: Partial<HarnessOptions>;
}

const NODE_V4 = '10.250.255.1';
const NODE_V6 = 'fd00:250::1';
const UPSTREAM_V4 = '10.250.53.53';

export class E2eNode {
  readonly logs: LogLine[] = [];
  private agentProcess: ChildProcess | undefined;
  private stderr = '';
  private readonly waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  readonly configFile: string;
  readonly bpffs: string;

  private constructor(
    readonly h: Harness,
    readonly state: ClusterState,
    private readonly opts: E2eNodeOptions,
    private readonly dir: string,
  ) {
    this.configFile = join(dir, 'agent.yaml');
    this.bpffs = `/sys/fs/bpf/dnsgate-e2e-${h.prefix}`;
  }

  static async create(opts: E2eNodeOptions): Promise<E2eNode> {
    const { state, problems } = await loadManifests(opts.manifests);
    const errors = problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) throw new Error(`manifest errors: ${JSON.stringify(errors)}`);
    const h = await Harness.create({
      state,
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      nodeAddress: { ipv4: NODE_V4, ipv6: NODE_V6 },
      upstream: { ipv4: UPSTREAM_V4, records: opts.zone },
      ...opts.harness,
    });
    const node = new E2eNode(h, state, opts, mkdtempSync(join(tmpdir(), 'dnsgate-e2e-')));
    try {
      await node.startAgent();
      return node;
    } catch (err) {
      await node.destroy();
      throw err;
    }
  }

  private agentConfig(): Record<string, unknown> {
    const base: Record<string, unknown> = {
      ...(this.opts.nodeName ? { nodeName: this.opts.nodeName } : {}),
      manifests: this.opts.manifests,
      datapath: 'ebpf',
      dns: {
        listen: [`${NODE_V4}:5353`, `[${NODE_V6}]:5353`],
        upstreams: [UPSTREAM_V4],
        clusterDnsIPs: [this.h.clusterDns.ipv4, this.h.clusterDns.ipv6].filter((x) => x !== undefined),
      },
      paths: { bpffs: this.bpffs, state: join(this.dir, 'state') },
      http: { listen: '127.0.0.1:0' },
      log: { level: 'info', allowSample: 1 },
      reconcile: { debounceMs: 20 },
    };
    const extra = this.opts.agent ?? {};
    const merged: Record<string, unknown> = { ...base, ...extra };
    for (const k of ['dns', 'paths', 'log', 'reconcile'] as const) {
      if (isObject(base[k]) && isObject(extra[k])) merged[k] = { ...base[k], ...extra[k] };
    }
    return merged;
  }

  /** argv running the dnsgate CLI (from source) inside the node's network namespace. */
  cli(args: readonly string[]): string[] {
    const node = this.h.nodeNetns;
    const inner = [process.execPath, '--import', 'tsx', join(REPO, 'src/cli/index.ts'), ...args];
    return node ? ['nsenter', `--net=/run/netns/${node}`, ...inner] : inner;
  }

  async startAgent(): Promise<void> {
    writeFileSync(this.configFile, toYaml(this.agentConfig()));
    const argv = this.cli(['agent', '--config', this.configFile]);
    const child = spawn(argv[0]!, argv.slice(1), { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    this.agentProcess = child;
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let line: LogLine;
        try {
          line = JSON.parse(text) as LogLine;
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
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-8000)));
    await this.waitLog((l) => l.event === 'ready', 60_000);
  }

  /** Resolves with the first log line (past or future) matching `pred`. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    const seen = this.logs.find(pred);
    if (seen) return Promise.resolve(seen);
    const child = this.agentProcess;
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          child?.off('exit', onExit);
          resolve(l);
        },
      };
      const fail = (why: string): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        child?.off('exit', onExit);
        reject(new Error(`${why}\n--- agent stderr ---\n${this.stderr}\n--- last agent log lines ---\n${this.logs.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`));
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

  decisions(filter: Partial<Pick<DecisionLine, 'pod' | 'decision' | 'dst' | 'dport' | 'protocol'>> = {}): DecisionLine[] {
    return this.logs.filter((l): l is DecisionLine => l.event === 'decision' && Object.entries(filter).every(([k, v]) => l[k] === v));
  }

  /** The decision line for a flow (waits for it: events arrive asynchronously). */
  decision(filter: Partial<Pick<DecisionLine, 'pod' | 'decision' | 'dst' | 'dport' | 'protocol'>>, timeoutMs = 5000): Promise<DecisionLine> {
    return this.waitLog((l) => l.event === 'decision' && Object.entries(filter).every(([k, v]) => l[k] === v), timeoutMs) as Promise<DecisionLine>;
  }

  exec(pod: string, argv: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return this.h.exec(pod, argv, timeoutMs !== undefined ? { timeoutMs } : {});
  }

  /** `curl` from a pod: the body on success, or the curl exit code (28 = timed out). */
  async curl(pod: string, url: string, seconds = 2): Promise<{ ok: boolean; code: number | null; body: string; stderr: string }> {
    const r = await this.exec(pod, ['curl', '-sS', '-m', String(seconds), url], (seconds + 5) * 1000);
    return { ok: r.code === 0, code: r.code, body: r.stdout.trim(), stderr: r.stderr.trim() };
  }

  /** Stops the agent with SIGTERM (pinned state kept); resolves with its exit code. */
  async stopAgent(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.agentProcess;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  async uninstall(): Promise<RunResult> {
    return run(this.cli(['agent', '--config', this.configFile, '--uninstall']), { timeoutMs: 30_000 });
  }

  async destroy(): Promise<void> {
    try {
      await this.stopAgent();
      if (existsSync(this.configFile)) await this.uninstall();
    } finally {
      rmSync(this.bpffs, { recursive: true, force: true });
      await this.h.destroy();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
