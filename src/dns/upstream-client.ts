// Timeout, retry and failover over the configured upstreams. Upstreams are tried in configured
// order, skipping ones that failed repeatedly (for a cool-down), each attempt with a fresh ID.
//
// Identical queries in flight are coalesced (RFC 5452 section 9.1). Otherwise a client that sends
// N copies of a question gives a forger N outstanding (ID, port) pairs to hit with each forged
// answer (the birthday attack). Per transport and question (name without regard to case, type,
// class):
// - a query identical to one in flight apart from ID, name case and OPT UDP size (see
//   queryVariantKey) does not go upstream but gets a copy of that query's outcome, with its own
//   question case; learning stays per client as each caller holds its copy through its own hold;
// - at most `maxFlightsPerQuestion` different variants (flags, EDNS options, ...) are upstream at a
//   time; further variants wait for one to finish, so varying the rest of the query cannot
//   multiply the copies in flight either. Waiting rather than refusing: a client is never failed
//   for asking what another client asks.
import { performance } from 'node:perf_hooks';
import { UpstreamError } from './errors.js';
import type { UpstreamAddr } from './upstream-addr.js';
import type { TcpUpstreamPool } from './upstream-tcp.js';
import type { SendFailure, UdpUpstreamPool } from './upstream-udp.js';
import { copyQuestionName, queryVariantKey, type Question } from './wire.js';

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
  /** Variants of one question upstream at a time (default 4). */
  readonly maxFlightsPerQuestion?: number;
}

interface Waiter {
  readonly query: Buffer;
  readonly q: Question;
  readonly cb: ResolveCallback;
  /** queryVariantKey of `query`. */
  readonly variant: string;
}

/** The queries in flight for one question on one transport. */
interface Group {
  /** Followers of each variant's query upstream (the leader itself is not listed). */
  readonly flights: Map<string, Waiter[]>;
  /** Variants beyond maxFlightsPerQuestion, in arrival order. */
  readonly queued: Waiter[];
}

export const DEFAULT_MAX_FLIGHTS_PER_QUESTION = 4;

interface Health {
  failures: number;
  downUntil: number;
}

export type ResolveCallback = (resp: Buffer | undefined, err: UpstreamError | undefined) => void;

export class UpstreamClient {
  private readonly health: Health[];
  /** The configured order, shared by every query while no upstream is cooling down. */
  private readonly configured: readonly number[];
  private readonly groups = new Map<string, Group>();
  private readonly maxFlights: number;
  /** Queries answered from an identical query in flight (tests, diagnostics). */
  coalesced = 0;
  /** Queries that waited because their question had maxFlightsPerQuestion variants upstream. */
  queuedVariants = 0;

  constructor(private readonly opts: UpstreamClientOptions) {
    this.health = opts.upstreams.map(() => ({ failures: 0, downUntil: 0 }));
    this.configured = opts.upstreams.map((_, i) => i);
    this.maxFlights = opts.maxFlightsPerQuestion ?? DEFAULT_MAX_FLIGHTS_PER_QUESTION;
  }

  /**
   * Forward `query` (whose ID will be overwritten) and call `cb` exactly once. The response passed
   * to `cb` belongs to this caller (it may patch it in place) and carries its question bytes.
   */
  resolve(query: Buffer, q: Question, transport: Transport, cb: ResolveCallback): void {
    // q.name is lower case and escapes anything but hostname bytes, so it is one-to-one with the
    // wire name up to ASCII case: every waiter's name has the leader's length.
    const key = `${transport === 'udp' ? 'u' : 't'}${q.qtype}/${q.qclass}/${q.name}`;
    let group = this.groups.get(key);
    if (group === undefined) this.groups.set(key, (group = { flights: new Map(), queued: [] }));
    this.admit(key, group, { query, q, cb, variant: queryVariantKey(query, q) }, transport);
  }

  private admit(key: string, group: Group, w: Waiter, transport: Transport): void {
    const followers = group.flights.get(w.variant);
    if (followers !== undefined) {
      followers.push(w);
      this.coalesced++;
      this.opts.onCoalesced?.(transport);
      return;
    }
    if (group.flights.size >= this.maxFlights) {
      group.queued.push(w);
      this.queuedVariants++;
      return;
    }
    const mine: Waiter[] = [];
    group.flights.set(w.variant, mine);
    this.forward(w.query, w.q, transport, (resp, err) => {
      group.flights.delete(w.variant);
      if (group.queued.length > 0) {
        // Not from inside this callback: pool failures call back synchronously, and a nested
        // admission would run before the callbacks below.
        queueMicrotask(() => this.drain(key, group, transport));
      } else if (group.flights.size === 0 && this.groups.get(key) === group) {
        this.groups.delete(key);
      }
      // Copies first: the leader's callback patches `resp` in place.
      const copies = mine.map((f) => {
        if (resp === undefined) return undefined;
        const copy = Buffer.from(resp);
        copyQuestionName(f.query, f.q, copy);
        return copy;
      });
      w.cb(resp, err);
      mine.forEach((f, i) => f.cb(copies[i], err));
    });
  }

  /** Start (or join) what waited for a slot, in arrival order. */
  private drain(key: string, group: Group, transport: Transport): void {
    while (group.queued.length > 0) {
      const next = group.queued[0]!;
      if (group.flights.size >= this.maxFlights && !group.flights.has(next.variant)) break;
      group.queued.shift();
      this.admit(key, group, next, transport);
    }
    if (group.flights.size === 0 && group.queued.length === 0 && this.groups.get(key) === group) this.groups.delete(key);
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
