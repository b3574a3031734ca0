// The proxy's metrics, in a Registry of its own (the agent merges registries when it serves
// /metrics). Label values are fixed small sets; per-query paths use pre-bound children. Metrics
// touched per query are fast-metrics (same exposition, a fraction of prom-client's update cost);
// gauges are read at scrape time.
import { Gauge, Registry } from 'prom-client';
import { FastCounter, FastHistogram, type CounterChild, type FastMetricConfig } from './fast-metrics.js';
import type { DropReason } from './upstream-udp.js';

export type QueryResult =
  | 'answered'
  | 'learned'
  | 'servfail_upstream'
  | 'servfail_program'
  | 'servfail_invalid'
  | 'formerr'
  | 'notimp'
  | 'refused_filter'
  | 'nxdomain_filter'
  | 'dropped_malformed'
  | 'dropped_limit';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Current values read at scrape time, so the query path does not update gauges. */
export interface GaugeSources {
  inflight(): number;
  held(): number;
  learnedEntries(): number;
  /** Client TCP connections the proxy closed, by reason (totals since start). */
  tcpCloses(): Readonly<Record<TcpCloseReason, number>>;
  /** Upstream TCP connections closed because they stopped answering (totals since start). */
  upstreamStalls(): number;
}

export type TcpCloseReason = 'frame_timeout' | 'lifetime' | 'idle' | 'bad_frame' | 'write_buffer';

const NO_TCP_CLOSES: Readonly<Record<TcpCloseReason, number>> = { frame_timeout: 0, lifetime: 0, idle: 0, bad_frame: 0, write_buffer: 0 };

/** A counter whose totals are kept by the servers themselves and copied in at scrape time. */
class ReadCounter<L extends string> extends FastCounter<L> {
  constructor(
    opts: FastMetricConfig<L>,
    private readonly read: () => readonly (readonly [string[], number])[],
  ) {
    super(opts);
  }

  override get(): ReturnType<FastCounter<L>['get']> {
    for (const [labels, value] of this.read()) this.labels(...labels).value = value;
    return super.get();
  }
}

export class DnsMetrics {
  readonly registry: Registry;
  /** Replaced by the proxy once its parts exist. */
  sources: GaugeSources = { inflight: () => 0, held: () => 0, learnedEntries: () => 0, tcpCloses: () => NO_TCP_CLOSES, upstreamStalls: () => 0 };
  readonly queries: FastCounter<'transport' | 'result'>;
  readonly upstreamLatency: FastHistogram<'transport' | 'outcome'>;
  readonly upstreamFailures: FastCounter<'upstream' | 'reason'>;
  readonly programLatency: FastHistogram<'outcome'>;
  readonly held: Gauge;
  readonly learned: FastCounter<'kind'>;
  readonly learnedEntries: Gauge;
  readonly evictions: FastCounter<'reason'>;
  readonly spoofDrops: FastCounter<'reason'>;
  readonly coalesced: FastCounter<'transport'>;
  readonly truncated: FastCounter<'transport'>;
  readonly tcpCloses: FastCounter<'reason'>;
  readonly upstreamStalls: FastCounter<never>;
  readonly inflight: Gauge;

  constructor(registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.queries = new FastCounter({
      name: 'dnsgate_dns_queries_total',
      help: 'Client queries by transport and result',
      labelNames: ['transport', 'result'],
      registry,
    });
    this.upstreamLatency = new FastHistogram({
      name: 'dnsgate_dns_upstream_latency_seconds',
      help: 'Time from sending a query upstream to its accepted answer or failure, per attempt',
      labelNames: ['transport', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.upstreamFailures = new FastCounter({
      name: 'dnsgate_dns_upstream_failures_total',
      help: 'Failed upstream attempts by upstream and reason',
      labelNames: ['upstream', 'reason'],
      registry,
    });
    this.programLatency = new FastHistogram({
      name: 'dnsgate_dns_program_latency_seconds',
      help: 'Time from an answer arriving to its learned entries being programmed (or failing)',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registry,
    });
    const sources = (): GaugeSources => this.sources;
    this.held = new Gauge({
      name: 'dnsgate_dns_held_answers',
      help: 'Answers waiting for the datapath',
      registers,
      collect() {
        this.set(sources().held());
      },
    });
    this.learned = new FastCounter({
      name: 'dnsgate_dns_learned_total',
      help: 'Learned (pod, name, ip) entries by kind (added, refreshed)',
      labelNames: ['kind'],
      registry,
    });
    this.learnedEntries = new Gauge({
      name: 'dnsgate_dns_learned_entries',
      help: 'Learned entries currently stored',
      registers,
      collect() {
        this.set(sources().learnedEntries());
      },
    });
    this.evictions = new FastCounter({
      name: 'dnsgate_dns_learned_removed_total',
      help: 'Learned entries removed, by reason (cap, expired, pod)',
      labelNames: ['reason'],
      registry,
    });
    this.spoofDrops = new FastCounter({
      name: 'dnsgate_dns_spoof_drops_total',
      help: 'Upstream messages dropped because they match no outstanding query',
      labelNames: ['reason'],
      registry,
    });
    this.coalesced = new FastCounter({
      name: 'dnsgate_dns_coalesced_total',
      help: 'Client queries that waited for an identical query already in flight instead of going upstream',
      labelNames: ['transport'],
      registry,
    });
    this.truncated = new FastCounter({
      name: 'dnsgate_dns_truncated_replies_total',
      help: 'Replies cut to header and question with TC set because they exceeded the client UDP size',
      labelNames: ['transport'],
      registry,
    });
    this.tcpCloses = new ReadCounter(
      { name: 'dnsgate_dns_tcp_closes_total', help: 'Client TCP connections closed by the proxy, by reason (frame_timeout, lifetime, idle, bad_frame, write_buffer)', labelNames: ['reason'], registry },
      () => Object.entries(sources().tcpCloses()).map(([reason, n]) => [[reason], n] as const),
    );
    this.upstreamStalls = new ReadCounter(
      { name: 'dnsgate_dns_upstream_tcp_stalls_total', help: 'Upstream TCP connections closed because nothing arrived on them before a query timed out', labelNames: [], registry },
      () => [[[], sources().upstreamStalls()]],
    );
    this.inflight = new Gauge({
      name: 'dnsgate_dns_inflight',
      help: 'Client queries in flight',
      registers,
      collect() {
        this.set(sources().inflight());
      },
    });
  }

  private readonly queryChildren = { udp: new Map<QueryResult, CounterChild>(), tcp: new Map<QueryResult, CounterChild>() };

  query(transport: 'udp' | 'tcp', result: QueryResult): void {
    const children = this.queryChildren[transport];
    let c = children.get(result);
    if (c === undefined) children.set(result, (c = this.queries.labels(transport, result)));
    c.value++;
  }

  spoof(reason: DropReason): void {
    this.spoofDrops.labels(reason).inc();
  }
}
