// The node agent: a cluster source, the local pod tracker, the reconciler (compile -> datapath),
// the DNS proxy fed from the same compilation, transparent DNS redirection, the decision log and
// the health/metrics endpoint, started in dependency order and stopped in reverse.
//
// Start order matters: the first compilation is programmed (with the interfaces already known)
// before the proxy answers anything, and the proxy listens before queries are redirected to it.
// Ready = all three done. Stopping keeps pinned maps, attached programs and the nft table, so
// pods stay enforced and keep resolving (through a restarted agent) across a restart.
import { rmSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ClusterState } from '../api/types.js';
import type { CompiledNode } from '../compile/types.js';
import { DnsProxy } from '../dns/proxy.js';
import { LocalPodTracker, type LocalPodAttachment, type LocalPodDetachment } from '../sources/local-pods.js';
import type { ClusterSource } from '../sources/types.js';
import type { AgentConfig } from './config.js';
import type { AgentDatapath } from './datapath-factory.js';
import { DecisionLog } from './decision-log.js';
import { AgentLifecycleError } from './errors.js';
import { formatHostPort, type HostPort } from './host-port.js';
import { AgentHttpServer } from './http-server.js';
import { AgentMetrics } from './metrics.js';
import { CompiledPolicyView } from './policy-view.js';
import { Reconciler, type ProgrammedPass } from './reconciler.js';
import type { AgentSidecar } from './policy-status.js';
import { NftRedirect } from './redirect.js';
import { StateStore } from './state-store.js';

export interface AgentDeps {
  readonly config: AgentConfig;
  /** Where cluster state comes from (files in standalone mode, the Kubernetes API otherwise). */
  readonly source: ClusterSource;
  readonly datapath: AgentDatapath;
  readonly logger?: Logger;
  /**
   * The compilation loaded from the state directory (undefined: the agent loads it itself; null:
   * none). The caller loads it first when the datapath must know (eBPF keepAdoptedLearned).
   */
  readonly previous?: CompiledNode | null;
  /**
   * Parts started once the source has synced and stopped before it (the Kubernetes source's
   * leader-elected policy status writer).
   */
  readonly sidecars?: readonly AgentSidecar[];
  /** Local pod tracker tuning (tests shorten the poll). */
  readonly tracker?: { pollIntervalMs?: number; debounceMs?: number };
}

export type AgentPhase = 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export class Agent {
  readonly config: AgentConfig;
  readonly registry = new Registry();
  readonly metrics: AgentMetrics;
  readonly view = new CompiledPolicyView();
  readonly proxy: DnsProxy;
  readonly reconciler: Reconciler;
  readonly tracker: LocalPodTracker;
  readonly redirect: NftRedirect | undefined;
  readonly logger: Logger;
  private readonly source: ClusterSource;
  private readonly datapath: AgentDatapath;
  private readonly http: AgentHttpServer;
  private readonly decisions: DecisionLog;
  private readonly stateStore: StateStore;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly ifindexes = new Map<string, number>();
  private readonly ifnames = new Map<string, string>();
  private readonly sidecars: readonly AgentSidecar[];
  private sourceSynced = false;
  private programmedOnce = false;
  private redirected = false;
  private proxyUp = false;
  private phase: AgentPhase = 'new';
  private httpAddress: { host: string; port: number } | undefined;
  private lastDiagnostics = '';
  private lastProblems = '[]';

  constructor(deps: AgentDeps) {
    const cfg = deps.config;
    this.config = cfg;
    this.source = deps.source;
    this.datapath = deps.datapath;
    this.sidecars = deps.sidecars ?? [];
    this.logger = deps.logger ?? pino({ name: 'dnsgate-agent', level: cfg.log.level });
    this.metrics = new AgentMetrics(this.registry, {
      datapath: () => (this.phase === 'running' || this.phase === 'starting' ? this.datapath.counters() : undefined),
      endpoints: () => ({ enforced: this.reconciler.applied?.enforced ?? 0, pending: this.reconciler.applied?.pending.length ?? 0 }),
      ready: () => this.ready().ok,
    });
    this.decisions = new DecisionLog(this.logger, this.metrics);
    this.proxy = new DnsProxy(
      {
        listen: cfg.dns.listen.map((l) => ({ host: l.host, port: l.port })),
        upstreams: [...cfg.dns.upstreams],
        upstreamTimeoutMs: cfg.dns.upstreamTimeoutMs,
        programTimeoutMs: cfg.dns.programTimeoutMs,
        ttlBounds: { minTTL: cfg.dns.minTTL, maxTTL: cfg.dns.maxTTL },
        learnedLimits: { maxIPsPerName: cfg.dns.maxIPsPerName, maxLearnedPerPod: cfg.dns.maxLearnedPerPod },
        queryFilter: cfg.dns.queryFilter,
        allowedSuffixes: [...cfg.dns.allowedSuffixes],
        tcpFrameTimeoutMs: cfg.dns.tcpFrameTimeoutMs,
        tcpMaxConnectionLifetimeMs: cfg.dns.tcpMaxConnectionLifetimeMs,
        tcpWriteBufferSoftBytes: cfg.dns.tcpWriteBufferSoftBytes,
        tcpWriteBufferHardBytes: cfg.dns.tcpWriteBufferHardBytes,
      },
      { view: this.view, datapath: this.datapath, logger: this.logger.child({ part: 'dns' }), registry: this.registry },
    );
    this.stateStore = new StateStore(cfg.paths.state, (err) => this.logger.warn({ event: 'state_dir', err }, `state directory ${cfg.paths.state}: ${err.message}`));
    const previous = deps.previous === undefined ? this.stateStore.load() : (deps.previous ?? undefined);
    if (previous) this.logger.info({ event: 'state_adopted', endpoints: previous.endpoints.size, path: this.stateStore.path }, 'keeping the ids of the last compilation');
    this.reconciler = new Reconciler({
      datapath: this.datapath,
      mode: cfg.mode,
      nodeName: cfg.nodeName,
      debounceMs: cfg.reconcile.debounceMs,
      logger: this.logger.child({ part: 'reconcile' }),
      metrics: this.metrics,
      onProgrammed: (pass) => this.programmed(pass),
      ...(previous ? { previous } : {}),
    });
    this.tracker = new LocalPodTracker({
      mode: cfg.nodeName === undefined ? 'standalone' : 'cluster',
      ...(cfg.nodeName !== undefined ? { nodeName: cfg.nodeName } : {}),
      pollIntervalMs: deps.tracker?.pollIntervalMs ?? 5000,
      debounceMs: deps.tracker?.debounceMs ?? 50,
    });
    if (cfg.dns.clusterDnsIPs.length > 0) {
      const first = (family: 4 | 6): HostPort | undefined => cfg.dns.listen.find((l) => l.family === family && l.host !== '0.0.0.0' && l.host !== '::');
      const t4 = first(4);
      const t6 = first(6);
      this.redirect = new NftRedirect({ dnsIPs: cfg.dns.clusterDnsIPs, target: { ...(t4 ? { 4: t4 } : {}), ...(t6 ? { 6: t6 } : {}) } });
    }
    this.http = new AgentHttpServer(this.registry, { healthy: () => this.healthy(), ready: () => this.ready() });
  }

  get state(): AgentPhase {
    return this.phase;
  }

  /** Where /healthz, /readyz and /metrics are served (after start). */
  get httpListen(): { host: string; port: number } | undefined {
    return this.httpAddress;
  }

  healthy(): { ok: boolean; detail: string } {
    return this.phase === 'starting' || this.phase === 'running' ? { ok: true, detail: this.phase } : { ok: false, detail: this.phase };
  }

  ready(): { ok: boolean; detail: string } {
    // Until the first full sync nothing new is programmed: pinned state of a previous run enforces.
    if (this.phase === 'starting' && !this.sourceSynced) return { ok: false, detail: 'cluster source not synced yet' };
    if (this.phase !== 'running') return { ok: false, detail: this.phase };
    if (!this.programmedOnce) return { ok: false, detail: 'first programming not done' };
    if (!this.proxyUp) return { ok: false, detail: 'DNS proxy not listening' };
    if (this.redirect && !this.redirected) return { ok: false, detail: 'DNS redirection not installed' };
    return { ok: true, detail: 'programmed' };
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new AgentLifecycleError('start', `called in phase ${this.phase}`);
    this.phase = 'starting';
    const log = this.logger;
    try {
      await this.redirect?.probe();
      this.httpAddress = await this.http.listen(this.config.http.listen);
      log.info({ event: 'http_listening', address: formatHostPort(this.httpAddress) }, `health and metrics on http://${formatHostPort(this.httpAddress)}`);

      this.unsubscribe.push(this.datapath.onEvent((e) => this.decisions.record(e)));
      log.info({ event: 'source_starting' }, 'waiting for the first full sync of the cluster source');
      await this.source.start();
      this.sourceSynced = true;
      log.info({ event: 'source_synced' }, 'cluster source synced');
      const state = this.source.snapshot();
      this.reportProblems();
      this.unsubscribe.push(
        this.source.onChange((change) => {
          this.reportProblems();
          this.tracker.update(change.state);
          this.reconciler.stateChanged(change.state, change.changes);
        }),
      );

      this.unsubscribe.push(this.tracker.on('attach', (a) => this.attached(a)));
      this.unsubscribe.push(this.tracker.on('detach', (d) => this.detached(d)));
      this.unsubscribe.push(this.tracker.on('error', (e) => log.warn({ event: 'tracker_error', err: e }, 'local pod tracker')));
      this.unsubscribe.push(this.tracker.on('warning', (ref, message) => log.warn({ event: 'tracker_warning', pod: ref }, message)));
      await this.tracker.start(state);

      this.reconciler.stateChanged(state, []);
      this.reconciler.interfacesChanged(this.ifindexes);
      await this.reconciler.flush();

      const bound = await this.proxy.start();
      this.proxyUp = true;
      log.info({ event: 'dns_listening', addresses: bound.map((b) => formatHostPort({ host: b.address, port: b.port })) }, 'DNS proxy listening');
      if (this.redirect) {
        await this.redirect.setInterfaces(this.ifnames.values());
        this.redirected = true;
        log.info({ event: 'redirect_installed', dnsIPs: this.config.dns.clusterDnsIPs, interfaces: this.redirect.interfaces.length }, 'DNS redirection installed');
      }
      for (const s of this.sidecars) s.start();
      this.phase = 'running';
      log.info({ event: 'ready', endpoints: this.reconciler.applied?.enforced ?? 0, pending: this.reconciler.applied?.pending ?? [] }, 'ready');
    } catch (err) {
      this.phase = 'failed';
      await this.teardown();
      throw err instanceof AgentLifecycleError ? err : new AgentLifecycleError('start', (err as Error).message, { cause: err });
    }
  }

  /** Stops serving; pinned state, attached programs and the nft table stay (enforcement goes on). */
  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'stopping') return;
    this.phase = 'stopping';
    await this.teardown();
    this.phase = 'stopped';
    this.logger.info({ event: 'stopped' }, 'stopped (pinned state kept)');
  }

  /** Stops and removes everything dnsgate put on the node: programs, pins, the nft table. */
  async uninstall(): Promise<void> {
    const wasRunning = this.phase !== 'stopped';
    if (wasRunning) {
      this.phase = 'stopping';
      await this.teardown({ keepDatapath: true });
    }
    await this.redirect?.remove();
    rmSync(this.stateStore.path, { force: true });
    if (this.datapath.uninstall) await this.datapath.uninstall();
    else await this.datapath.close();
    this.phase = 'stopped';
    this.logger.info({ event: 'uninstalled' }, 'uninstalled');
  }

  private async teardown(opts: { keepDatapath?: boolean } = {}): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    const step = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.logger.warn({ event: 'stop_step_failed', step: name, err }, `stopping ${name} failed`);
      }
    };
    await step('reconciler', () => this.reconciler.stop());
    this.stateStore.flush();
    await step('dns proxy', () => this.proxy.close());
    this.proxyUp = false;
    await step('tracker', () => this.tracker.stop());
    for (const s of this.sidecars) await step('policy status', () => s.stop());
    await step('source', () => this.source.stop());
    await step('http', () => this.http.close());
    if (!opts.keepDatapath) await step('datapath', () => this.datapath.close());
  }

  private attached(a: LocalPodAttachment): void {
    this.ifindexes.set(a.ref, a.ifindex);
    this.ifnames.set(a.ref, a.ifname);
    this.logger.info({ event: 'pod_attached', pod: a.ref, ifname: a.ifname, ifindex: a.ifindex, via: a.via }, `pod ${a.ref} on ${a.ifname}`);
    this.interfacesChanged();
  }

  private detached(d: LocalPodDetachment): void {
    if (this.ifindexes.get(d.ref) === d.ifindex) {
      this.ifindexes.delete(d.ref);
      this.ifnames.delete(d.ref);
    }
    this.logger.info({ event: 'pod_detached', pod: d.ref, ifname: d.ifname, reason: d.reason }, `pod ${d.ref} left ${d.ifname} (${d.reason})`);
    if (d.reason === 'pod-gone') {
      void this.proxy.forgetPod(d.ref).catch((err: unknown) => this.logger.warn({ event: 'forget_failed', pod: d.ref, err }, 'forgetting learned entries failed'));
    }
    this.interfacesChanged();
  }

  private interfacesChanged(): void {
    if (this.phase === 'new') return;
    this.reconciler.interfacesChanged(this.ifindexes);
    if (this.redirect && this.redirected) {
      this.redirect.setInterfaces(this.ifnames.values()).then(
        () => this.metrics.redirectInterfaces.set(this.ifnames.size),
        (err: unknown) => this.logger.error({ event: 'redirect_failed', err }, 'updating DNS redirection failed'),
      );
    }
  }

  private programmed(pass: ProgrammedPass): void {
    this.view.rebuild(pass.node, pass.state);
    this.programmedOnce = true;
    this.stateStore.save(pass.node);
    const diagnostics = pass.node.diagnostics.map((d) => d.message).join('\n');
    if (diagnostics !== this.lastDiagnostics) {
      this.lastDiagnostics = diagnostics;
      for (const d of pass.node.diagnostics) this.logger.warn({ event: 'compile_diagnostic', kind: d.kind }, d.message);
    }
    if (pass.result.pending.length > 0) this.logger.debug({ event: 'pending_endpoints', pending: pass.result.pending }, 'local pods without a known interface');
    this.logger.info({ event: 'programmed', full: pass.full, latencyMs: pass.latencyMs, endpoints: pass.result.enforced, pending: pass.result.pending.length }, 'programmed');
  }

  private reportProblems(): void {
    // Only when they changed: a source reports its whole problem list with every change.
    const problems = this.source.problems();
    const text = JSON.stringify(problems);
    if (text === this.lastProblems) return;
    this.lastProblems = text;
    for (const p of problems) {
      this.logger[p.severity === 'error' ? 'error' : 'warn']({ event: 'manifest_problem', source: p.source, ref: p.ref, field: p.field }, p.message);
    }
  }

  /** The snapshot in force (diagnostics, tests). */
  snapshot(): ClusterState {
    return this.source.snapshot();
  }
}
