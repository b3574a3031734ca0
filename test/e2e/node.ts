// An end-to-end node: the sandbox harness (pods, upstream DNS, outside servers in namespaces) plus
// a real `dnsgate agent` process running inside the node's network namespace with the eBPF
// datapath and nftables redirection. `nsenter --net` (not `ip netns exec`, which remounts /sys and
// hides /sys/fs/bpf) keeps bpffs visible to the agent (src/cli/agent-process.ts). Teardown stops the agent, runs
// `dnsgate agent --uninstall` there (programs, pins, nft table) and destroys the harness, also
// when a test fails.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { loadManifests } from '../../src/api/load.js';
import type { ClusterState } from '../../src/api/types.js';
import { AgentProcess, dnsgateArgv, type AgentLogLine, type DecisionLogLine } from '../../src/cli/agent-process.js';
import { Harness, run, type HarnessOptions, type RunResult, type ZoneRecord } from '../../src/sandbox/index.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KUBE_DNS = join(REPO, 'test/e2e/fixtures/kube-dns.yaml');
export const example = (name: string, file = ''): string => join(REPO, 'examples', name, file);

export const needRoot = process.getuid?.() === 0 || process.env.CI === 'true';
if (!needRoot) console.warn('\n*** test/e2e: NOT ROOT and CI is not set: SKIPPING the end-to-end agent tests (need netns, nftables, BPF) ***\n');

export type LogLine = AgentLogLine;
export type DecisionLine = DecisionLogLine;
type DecisionFilter = Partial<Pick<DecisionLine, 'pod' | 'decision' | 'src' | 'dst' | 'dport' | 'protocol'>>;

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
  /**
   * Kubernetes mode: called once the node exists (before the agent starts) to make an API server
   * reachable from the node namespace; the agent then reads the cluster from it, not from files.
   */
  kube?: (h: Harness, dir: string) => Promise<KubeEndpoint>;
}

/** What the agent needs to reach a Kubernetes API from the node namespace. */
export interface KubeEndpoint {
  kubeconfig: string;
  /** Removes what was made for it (links, listeners); called by destroy(), also on failure. */
  close(): Promise<void>;
}

const NODE_V4 = '10.250.255.1';
const NODE_V6 = 'fd00:250::1';
const UPSTREAM_V4 = '10.250.53.53';

export class E2eNode {
  private agent: AgentProcess | undefined;
  private kube: KubeEndpoint | undefined;
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

  /** The current agent's log lines. */
  get logs(): LogLine[] {
    return this.agent?.logs ?? [];
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
      if (opts.kube) node.kube = await opts.kube(h, node.dir);
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
      ...(this.kube ? { kubeconfig: this.kube.kubeconfig, manifests: [], kubernetes: { leaseNamespace: 'dnsgate-system' } } : { manifests: this.opts.manifests }),
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

  /** Starts a (new) agent process in the node namespace; resolves when it is ready. */
  async startAgent(): Promise<void> {
    writeFileSync(this.configFile, toYaml(this.agentConfig()));
    this.agent = new AgentProcess({ args: ['--config', this.configFile], cwd: REPO, ...(this.h.nodeNetns ? { netns: this.h.nodeNetns } : {}) });
    await this.agent.start();
  }

  waitLog(pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
    if (!this.agent) throw new Error('no agent started');
    return this.agent.waitLog(pred, timeoutMs);
  }

  decisions(filter: DecisionFilter = {}): DecisionLine[] {
    return this.agent?.decisions(filter) ?? [];
  }

  /** The decision line for a flow (waits for it: events arrive asynchronously). */
  decision(filter: DecisionFilter, timeoutMs = 5000): Promise<DecisionLine> {
    if (!this.agent) throw new Error('no agent started');
    return this.agent.decision(filter, timeoutMs);
  }

  exec(pod: string, argv: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return this.h.exec(pod, argv, timeoutMs !== undefined ? { timeoutMs } : {});
  }

  /** `curl` from a pod: the body on success, or the curl exit code (28 = timed out). */
  async curl(pod: string, url: string, seconds = 2): Promise<{ ok: boolean; code: number | null; body: string; stderr: string }> {
    const r = await this.exec(pod, ['curl', '-sS', '-m', String(seconds), url], (seconds + 5) * 1000);
    return { ok: r.code === 0, code: r.code, body: r.stdout.trim(), stderr: r.stderr.trim() };
  }

  /** Stops the agent (SIGTERM keeps pinned state); resolves with its exit code. */
  stopAgent(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    return this.agent?.stop(signal) ?? Promise.resolve(null);
  }

  async uninstall(): Promise<RunResult> {
    return run(dnsgateArgv(['agent', '--config', this.configFile, '--uninstall'], this.h.nodeNetns), { timeoutMs: 30_000 });
  }

  async destroy(): Promise<void> {
    try {
      await this.stopAgent();
      if (existsSync(this.configFile)) await this.uninstall();
    } finally {
      rmSync(this.bpffs, { recursive: true, force: true });
      await this.kube?.close();
      await this.h.destroy();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
