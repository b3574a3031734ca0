// Timeout, retry and failover over the configured upstreams. Upstreams are tried in configured
// order, skipping ones that failed repeatedly (for a cool-down), each attempt with a fresh ID.
import { performance } from 'node:perf_hooks';
import { UpstreamError } from './errors.js';
import type { UpstreamAddr } from './upstream-addr.js';
import type { TcpUpstreamPool } from './upstream-tcp.js';
import type { SendFailure, UdpUpstreamPool } from './upstream-udp.js';
import type { Question } from './wire.js';

export type Transport = 'udp' | 'tcp';

export interface UpstreamClientOptions {
  readonly upstreams: readonly UpstreamAddr[];
  /** Per attempt. */
  readonly timeoutMs: number;
  /** Total attempts per query, spread over the upstreams. */
  readonly attempts: number;
  /** Consecutive failures after which an upstream is skipped for `cooldownMs`. */
  readonly failuresBeforeCooldown: number;
  readonly cooldownMs: number;
  readonly udp: UdpUpstreamPool;
  readonly tcp: TcpUpstreamPool;
  /** Called after every attempt (metrics). */
  readonly onAttempt: (upstream: UpstreamAddr, transport: Transport, seconds: number, failure: SendFailure | undefined) => void;
}

interface Health {
  failures: number;
  downUntil: number;
}

export type ResolveCallback = (resp: Buffer | undefined, err: UpstreamError | undefined) => void;

export class UpstreamClient {
  private readonly health: Health[];
  /** The configured order, shared by every query while no upstream is cooling down. */
  private readonly configured: readonly number[];

  constructor(private readonly opts: UpstreamClientOptions) {
    this.health = opts.upstreams.map(() => ({ failures: 0, downUntil: 0 }));
    this.configured = opts.upstreams.map((_, i) => i);
  }

  /** Forward `query` (whose ID will be overwritten) and call `cb` exactly once. */
  resolve(query: Buffer, q: Question, transport: Transport, cb: ResolveCallback): void {
    const order = this.order();
    const attempt = (k: number): void => {
      const i = order[k % order.length]!;
      const upstream = this.opts.upstreams[i]!;
      const started = performance.now();
      const pool = transport === 'udp' ? this.opts.udp : this.opts.tcp;
      pool.send(upstream, query, q, this.opts.timeoutMs, (resp, failure) => {
        this.opts.onAttempt(upstream, transport, (performance.now() - started) / 1000, failure);
        const h = this.health[i]!;
        if (resp !== undefined) {
          h.failures = 0;
          return cb(resp, undefined);
        }
        if (failure === 'shutdown') return cb(undefined, new UpstreamError(upstream.label, transport, 'shutdown', k + 1));
        if (failure !== 'busy' && ++h.failures >= this.opts.failuresBeforeCooldown) {
          h.downUntil = Date.now() + this.opts.cooldownMs;
        }
        if (k + 1 < this.opts.attempts) return attempt(k + 1);
        cb(undefined, new UpstreamError(upstream.label, transport, failure ?? 'timeout', k + 1));
      });
    };
    attempt(0);
  }

  /** Healthy upstreams first (configured order), then cooling-down ones. */
  private order(): readonly number[] {
    const now = Date.now();
    if (this.health.every((h) => h.downUntil <= now)) return this.configured;
    const up: number[] = [];
    const down: number[] = [];
    this.health.forEach((h, i) => (h.downUntil <= now ? up : down).push(i));
    return up.concat(down);
  }
}
