// Local pods and the host interface each one is behind, kept current as the cluster state changes
// and as interfaces appear and disappear. The agent attaches its programs on 'attach' and removes
// them on 'detach'. Sources of truth: the cluster state (`update`) and the kernel's tables, read on
// every resync; a resync runs after `update`, after `ip monitor` reports a link/route (or, while a
// bridged pod waits for its MAC, neighbour) change, and on a periodic poll that also covers a
// monitor that died.
import { spawn, type ChildProcess } from 'node:child_process';
import type { ClusterState } from '../api/types.js';
import { emptyClusterState } from '../api/types.js';
import { Netlink } from './local/netlink.js';
import { resolvePod, type NetTables } from './local/resolve.js';
import { selectLocalPods, type LocalPodCandidate, type LocalPodSelection } from './local/select.js';
import { SerialRunner } from './serial-runner.js';

export interface LocalPodTrackerOptions extends LocalPodSelection {
  /** Read the tables of this network namespace (by name) instead of the agent's own. */
  netns?: string;
  /** Periodic resync (default 5000 ms; 0 disables). */
  pollIntervalMs?: number;
  /** React to `ip monitor` events (default true). */
  monitor?: boolean;
  /** Quiet time after an update or event before resyncing (default 50 ms). */
  debounceMs?: number;
}

export interface LocalPodAttachment {
  /** "namespace/name" */
  ref: string;
  namespace: string;
  name: string;
  uid?: string;
  ips: string[];
  ifname: string;
  ifindex: number;
  via: 'route' | 'fdb';
}

export type DetachReason = 'pod-gone' | 'interface-gone' | 'interface-changed' | 'ips-changed';

export interface LocalPodDetachment extends LocalPodAttachment {
  reason: DetachReason;
}

export interface PendingPod {
  ref: string;
  ips: string[];
  reason: string;
}

interface Events {
  attach: (a: LocalPodAttachment) => void;
  detach: (d: LocalPodDetachment) => void;
  /** A resync or the monitor failed; the previous attachments stay as they are. */
  error: (e: Error) => void;
  /** A pod's IPs resolve to different interfaces (dual-stack misrouting). */
  warning: (ref: string, message: string) => void;
}

const podKey = (p: { ref: string; uid?: string }) => `${p.ref}#${p.uid ?? ''}`;

export class LocalPodTracker {
  private state: ClusterState = emptyClusterState();
  private readonly current = new Map<string, LocalPodAttachment>();
  private waiting: PendingPod[] = [];
  private readonly listeners: { [K in keyof Events]: Set<Events[K]> } = { attach: new Set(), detach: new Set(), error: new Set(), warning: new Set() };
  private readonly netlink: Netlink;
  private monitorChild: ChildProcess | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private readonly runner = new SerialRunner(() => this.resyncOnce(), () => this.stopped);
  private stopped = false;
  private started = false;
  private resyncs = 0;

  constructor(private readonly opts: LocalPodTrackerOptions) {
    // Validates the selection now rather than on the first resync.
    selectLocalPods(emptyClusterState(), opts);
    this.netlink = new Netlink(opts.netns);
  }

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  /** New cluster state: resync soon (debounced). */
  update(state: ClusterState): void {
    this.state = state;
    if (this.started) this.schedule();
  }

  /** Initial resync (attach events for what is already there), then monitor and poll. */
  async start(state?: ClusterState): Promise<void> {
    if (state) this.state = state;
    this.started = true;
    if (this.opts.monitor !== false) this.startMonitor();
    await this.resync();
    const every = this.opts.pollIntervalMs ?? 5000;
    if (every > 0) {
      this.poll = setInterval(() => {
        if (this.opts.monitor !== false && !this.monitorChild) this.startMonitor();
        void this.resync();
      }, every);
      this.poll.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.poll) clearInterval(this.poll);
    this.monitorChild?.kill();
    this.monitorChild = undefined;
    await this.runner.current;
  }

  attachments(): LocalPodAttachment[] {
    return [...this.current.values()];
  }

  /** Local pods not (yet) attached, and why. */
  pending(): PendingPod[] {
    return [...this.waiting];
  }

  /** How many resyncs completed (diagnostics and tests). */
  get resyncCount(): number {
    return this.resyncs;
  }

  /** Re-reads the tables now (after any resync in progress) and applies the result. */
  resync(): Promise<void> {
    return this.runner.run();
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.resync();
    }, this.opts.debounceMs ?? 50);
    this.debounce.unref();
  }

  private startMonitor(): void {
    const argv = this.opts.netns ? ['ip', '-n', this.opts.netns, 'monitor', 'label', 'link', 'route', 'neigh'] : ['ip', 'monitor', 'label', 'link', 'route', 'neigh'];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitorChild = child;
    child.stdout?.on('data', (d: Buffer) => {
      // Neighbour churn matters only while a bridged pod waits for its MAC to be learned.
      const lines = d.toString().split('\n').filter(Boolean);
      const bridgedWait = this.waiting.some((p) => p.reason.includes('behind bridge'));
      if (lines.some((l) => !l.startsWith('[NEIGH]') || bridgedWait)) this.schedule();
    });
    child.once('exit', () => {
      if (this.monitorChild === child) this.monitorChild = undefined;
    });
    child.once('error', (e) => this.emit('error', e));
    child.unref();
  }

  private async resyncOnce(): Promise<void> {
    let candidates: LocalPodCandidate[];
    let tables: NetTables;
    try {
      candidates = selectLocalPods(this.state, this.opts);
      const [routes, links] = await Promise.all([this.netlink.routeGet(candidates.flatMap((c) => c.ips)), this.netlink.links()]);
      const bridged = [...routes.values()].some((r) => r.dev !== undefined && links.get(r.dev)?.kind === 'bridge');
      const [neighbours, fdb] = bridged ? await Promise.all([this.netlink.neighbours(), this.netlink.fdb()]) : [[], []];
      tables = { routes, links, neighbours, fdb };
    } catch (e) {
      this.emit('error', e as Error);
      return;
    }
    if (this.stopped) return;
    const desired = new Map<string, LocalPodAttachment>();
    const waiting: PendingPod[] = [];
    for (const c of candidates) {
      const r = resolvePod(c, tables);
      if (!r.ok) {
        waiting.push({ ref: c.ref, ips: c.ips, reason: r.reason });
        continue;
      }
      if (r.warning) this.emit('warning', c.ref, r.warning);
      desired.set(podKey(c), { ref: c.ref, namespace: c.namespace, name: c.name, uid: c.uid, ips: c.ips, ...r.iface });
    }
    this.waiting = waiting;
    const podsNow = new Set(candidates.map(podKey));
    for (const [key, old] of [...this.current]) {
      const next = desired.get(key);
      let reason: DetachReason | undefined;
      if (!next) reason = podsNow.has(key) ? 'interface-gone' : 'pod-gone';
      else if (next.ifindex !== old.ifindex || next.ifname !== old.ifname) reason = 'interface-changed';
      else if (next.ips.join(',') !== old.ips.join(',')) reason = 'ips-changed';
      if (reason) {
        this.current.delete(key);
        this.emit('detach', { ...old, reason });
      }
    }
    for (const [key, a] of desired) {
      if (this.current.has(key)) continue;
      this.current.set(key, a);
      this.emit('attach', a);
    }
    this.resyncs++;
  }

  private emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const l of [...this.listeners[event]]) {
      try {
        (l as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (e) {
        if (event !== 'error') this.emit('error', e as Error);
      }
    }
  }
}

export { selectLocalPods, canonicalIp, LocalPodSelectionError, type LocalPodCandidate, type LocalPodSelection } from './local/select.js';
export { resolvePod, type Resolution, type ResolvedInterface, type NetTables } from './local/resolve.js';
