// Timeout, retry and failover over the configured upstreams. Upstreams are tried in configured
// order, skipping ones that failed repeatedly (for a cool-down), each attempt with a fresh ID.
//
// Identical queries in flight are coalesced (RFC 5452 section 9.1): while one is outstanding for
// a (name without regard to case, type, class, RD/CD/EDNS/DO) key on a transport, later ones do
// not go upstream but wait for its outcome. Otherwise a client that sends N copies of a question
// gives a forger N outstanding (ID, port) pairs to hit with each forged answer (the birthday
// attack). Merging rather than capping: every waiter gets an answer, and the upstream sees one
// query. Each waiter receives its own copy with its own question case; learning stays per client
// because each caller holds its own copy through its own learner.hold.
import { performance } from 'node:perf_hooks';
import { UpstreamError } from './errors.js';
import type { UpstreamAddr } from './upstream-addr.js';
import type { TcpUpstreamPool } from './upstream-tcp.js';
import type { SendFailure, UdpUpstreamPool } from './upstream-udp.js';
import { answerShapingBits, copyQuestionName, type Question } from './wire.js';

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
  /** Called for each query that joined an identical one in flight instead of going upstream. */
  readonly onCoalesced?: (transport: Transport) => void;
}

interface Waiter {
  readonly query: Buffer;
  readonly q: Question;
  readonly cb: ResolveCallback;
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
  /** Followers of the query in flight for each key (the leader is not listed). */
  private readonly flights = new Map<string, Waiter[]>();
  /** Queries answered from an identical query in flight (tests, diagnostics). */
  coalesced = 0;

  constructor(private readonly opts: UpstreamClientOptions) {
    this.health = opts.upstreams.map(() => ({ failures: 0, downUntil: 0 }));
    this.configured = opts.upstreams.map((_, i) => i);
  }

  /**
   * Forward `query` (whose ID will be overwritten) and call `cb` exactly once. The response passed
   * to `cb` belongs to this caller (it may patch it in place) and carries its question bytes.
   */
  resolve(query: Buffer, q: Question, transport: Transport, cb: ResolveCallback): void {
    // q.name is lower case and escapes anything but hostname bytes, so it is one-to-one with the
    // wire name up to ASCII case; the followers' names therefore have the leader's length.
    const key = `${transport === 'udp' ? 'u' : 't'}${answerShapingBits(query, q)}/${q.qtype}/${q.qclass}/${q.name}`;
    const followers = this.flights.get(key);
    if (followers !== undefined) {
      followers.push({ query, q, cb });
      this.coalesced++;
      this.opts.onCoalesced?.(transport);
      return;
    }
    const mine: Waiter[] = [];
    this.flights.set(key, mine);
    this.forward(query, q, transport, (resp, err) => {
      this.flights.delete(key);
      if (mine.length === 0) return cb(resp, err);
      // Copies first: the leader's callback patches `resp` in place.
      const copies = mine.map((w) => {
        if (resp === undefined) return undefined;
        const copy = Buffer.from(resp);
        copyQuestionName(w.query, w.q, copy);
        return copy;
      });
      cb(resp, err);
      mine.forEach((w, i) => w.cb(copies[i], err));
    });
  }

  private forward(query: Buffer, q: Question, transport: Transport, cb: ResolveCallback): void {
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
