// The DNS proxy: listeners, upstream client, learner and sweeper wired together.
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LearnedStore } from '../fqdn/index.js';
import type { Datapath } from '../datapath/types.js';
import { resolveConfig, type DnsProxyConfig, type DnsProxyConfigInput } from './config.js';
import { DnsConfigError } from './errors.js';
import { EventLog } from './event-log.js';
import { Learner } from './learner.js';
import { DnsMetrics } from './metrics.js';
import type { PolicyView } from './policy-view.js';
import { QueryHandler } from './query-handler.js';
import { RandomSource } from './random.js';
import { TcpServer } from './server-tcp.js';
import { UdpServer } from './server-udp.js';
import { Sweeper } from './sweeper.js';
import { parseUpstream } from './upstream-addr.js';
import { UpstreamClient } from './upstream-client.js';
import { TcpUpstreamPool } from './upstream-tcp.js';
import { UdpUpstreamPool } from './upstream-udp.js';

export interface DnsProxyDeps {
  readonly view: PolicyView;
  readonly datapath: Datapath;
  /** Shared with the agent when it also needs learned IPs; the proxy creates one otherwise. */
  readonly store?: LearnedStore;
  readonly logger?: Logger;
  /** Metrics go into this registry (a new one by default, never the global registry). */
  readonly registry?: Registry;
  readonly clock?: () => number;
}

export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

export class DnsProxy {
  readonly config: DnsProxyConfig;
  readonly metrics: DnsMetrics;
  readonly store: LearnedStore;
  readonly sweeper: Sweeper;
  readonly udpPool: UdpUpstreamPool;
  readonly tcpPool: TcpUpstreamPool;
  private readonly handler: QueryHandler;
  private readonly learner: Learner;
  private readonly datapath: Datapath;
  private readonly udpServers: UdpServer[] = [];
  private readonly tcpServers: TcpServer[] = [];
  private bound: BoundAddress[] = [];

  constructor(config: DnsProxyConfigInput, deps: DnsProxyDeps) {
    this.config = resolveConfig(config);
    const cfg = this.config;
    if (cfg.upstreams.length === 0) throw new DnsConfigError('upstreams', 'at least one upstream is required');
    if (cfg.listen.length === 0) throw new DnsConfigError('listen', 'at least one listen address is required');
    const upstreams = cfg.upstreams.map(parseUpstream);
    const clock = deps.clock ?? Date.now;
    this.datapath = deps.datapath;
    const logger = deps.logger ?? pino({ name: 'dnsgate-dns' });
    const log = new EventLog(logger, cfg.logLinesPerSecond, clock);
    this.metrics = new DnsMetrics(deps.registry);
    const metrics = this.metrics;
    this.store = deps.store ?? new LearnedStore(cfg.learnedLimits);
    const random = new RandomSource();
    const onDrop = (reason: Parameters<DnsMetrics['spoof']>[0], from: string): void => {
      metrics.spoof(reason);
      log.event('spoof_drop', { reason, from });
    };
    this.udpPool = new UdpUpstreamPool({
      sockets: cfg.udpSockets,
      maxUsesPerSocket: cfg.udpMaxUsesPerSocket,
      maxPendingPerSocket: cfg.udpMaxPendingPerSocket,
      random,
      onDrop,
    });
    this.tcpPool = new TcpUpstreamPool({
      connectionsPerUpstream: cfg.tcpUpstreamConnections,
      maxPendingPerConnection: cfg.tcpUpstreamMaxPending,
      idleMs: cfg.tcpUpstreamIdleMs,
      random,
      onDrop,
    });
    const latency = {
      udp: { ok: metrics.upstreamLatency.labels('udp', 'ok'), fail: metrics.upstreamLatency.labels('udp', 'fail') },
      tcp: { ok: metrics.upstreamLatency.labels('tcp', 'ok'), fail: metrics.upstreamLatency.labels('tcp', 'fail') },
    };
    const coalesced = { udp: metrics.coalesced.labels('udp'), tcp: metrics.coalesced.labels('tcp') };
    const upstream = new UpstreamClient({
      upstreams,
      timeoutMs: cfg.upstreamTimeoutMs,
      attempts: cfg.upstreamAttempts,
      failuresBeforeCooldown: cfg.upstreamFailuresBeforeCooldown,
      cooldownMs: cfg.upstreamCooldownMs,
      udp: this.udpPool,
      tcp: this.tcpPool,
      onCoalesced: (transport) => coalesced[transport].inc(),
      onAttempt: (u, transport, seconds, failure) => {
        latency[transport][failure === undefined ? 'ok' : 'fail'].observe(seconds);
        if (failure !== undefined) metrics.upstreamFailures.labels(u.label, failure).inc();
      },
    });
    const learner = (this.learner = new Learner({
      datapath: deps.datapath,
      store: this.store,
      ttlBounds: cfg.ttlBounds,
      programTimeoutMs: cfg.programTimeoutMs,
      metrics,
      log,
      clock,
    }));
    this.handler = new QueryHandler({
      view: deps.view,
      upstream,
      learner,
      metrics,
      log,
      queryFilter: cfg.queryFilter,
      allowedSuffixes: cfg.allowedSuffixes,
      maxInflight: cfg.maxInflight,
      maxInflightPerClient: cfg.maxInflightPerClient,
      clock,
    });
    const store = this.store;
    const handler = this.handler;
    const tcpPool = this.tcpPool;
    const servers = this.tcpServers;
    metrics.sources = {
      inflight: () => handler.inFlight,
      held: () => learner.held,
      learnedEntries: () => store.size,
      tcpCloses: () => {
        const sum = { frame_timeout: 0, lifetime: 0, idle: 0, bad_frame: 0, write_buffer: 0 };
        for (const { stats: s } of servers) {
          sum.frame_timeout += s.frameTimeouts;
          sum.lifetime += s.lifetimeCloses;
          sum.idle += s.idleCloses;
          sum.bad_frame += s.badFrames;
          sum.write_buffer += s.writeBufferCloses;
        }
        return sum;
      },
      upstreamStalls: () => tcpPool.stalls,
    };
    this.sweeper = new Sweeper({
      store: this.store,
      datapath: deps.datapath,
      intervalMs: cfg.sweepIntervalMs,
      maxWork: cfg.sweepMaxWork,
      metrics,
      log,
      clock,
    });
  }

  /** Bind every listener (UDP first; with port 0 TCP reuses the UDP port) and start sweeping. */
  async start(): Promise<readonly BoundAddress[]> {
    try {
      for (const l of this.config.listen) this.bound.push(await this.listenOn(l.host, l.port));
    } catch (err) {
      await this.close();
      throw err;
    }
    this.sweeper.start();
    return this.bound;
  }

  private async listenOn(host: string, port: number): Promise<BoundAddress> {
    // With port 0 the kernel picks a free UDP port, which TCP may already use: pick again.
    const truncated = this.metrics.truncated.labels('udp');
    for (let attempt = 0; ; attempt++) {
      const udp = new UdpServer(host, port, this.handler);
      udp.onTruncated = () => truncated.inc();
      const u = await udp.listen();
      const tcp = new TcpServer(host, u.port, this.handler, {
        idleMs: this.config.tcpIdleMs,
        maxConnections: this.config.tcpMaxConnections,
        maxConnectionsPerClient: this.config.tcpMaxConnectionsPerClient,
        maxInflightPerConnection: this.config.tcpMaxInflightPerConnection,
        frameTimeoutMs: this.config.tcpFrameTimeoutMs,
        maxLifetimeMs: this.config.tcpMaxConnectionLifetimeMs,
        writeBufferSoftBytes: this.config.tcpWriteBufferSoftBytes,
        writeBufferHardBytes: this.config.tcpWriteBufferHardBytes,
      });
      try {
        await tcp.listen();
      } catch (err) {
        udp.close();
        if (port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 20) continue;
        throw err;
      }
      this.udpServers.push(udp);
      this.tcpServers.push(tcp);
      return u;
    }
  }

  /**
   * A pod is gone: drop everything it learned from the store and the datapath. Returns how many
   * entries were removed. Learning still in flight for it (answers to queries that arrived before
   * this call) is taken back when it completes and its client gets SERVFAIL, so a pod recreated
   * under the same name starts with nothing.
   */
  async forgetPod(pod: string): Promise<number> {
    this.learner.forgetPod(pod);
    const removed = this.store.removePod(pod);
    if (removed.length > 0) {
      this.metrics.evictions.labels('pod').inc(removed.length);
      await this.datapath.forget(removed);
    }
    return removed.length;
  }

  /** Addresses actually bound, in `listen` order. */
  get addresses(): readonly BoundAddress[] {
    return this.bound;
  }

  get inFlight(): number {
    return this.handler.inFlight;
  }

  async close(): Promise<void> {
    this.sweeper.stop();
    for (const u of this.udpServers) u.close();
    await Promise.all(this.tcpServers.map((t) => t.close()));
    this.udpServers.length = 0;
    this.tcpServers.length = 0;
    this.bound = [];
    this.udpPool.close();
    this.tcpPool.close();
  }
}
