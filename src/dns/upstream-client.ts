// Timeout, retry and failover over the configured upstreams. Upstreams are tried in configured
// order, skipping ones that failed repeatedly (for a cool-down), each attempt with a fresh ID.
//
// Identical queries in flight are coalesced (RFC 5452 section 9.1). Otherwise a client that sends
// N copies of a question gives a forger N outstanding (ID, port) pairs to hit with each forged
// answer (the birthday attack). Per transport and question (name without regard to case, type,
// class):
// - a query identical to one in flight apart from ID, name case and OPT UDP size (see
//   sameVariant in wire.ts) does not go upstream but gets a copy of that query's outcome, with its own
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
import { copyQuestionName, sameVariant, type Question } from './wire.js';

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
}

/** One query upstream and the identical ones waiting for its outcome. */
interface Flight {
  readonly transport: Transport;
  readonly leader: Waiter;
  readonly followers: Waiter[];
}

interface Queued extends Waiter {
  readonly transport: Transport;
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
  /**
   * Flights by lower-case question name (the string readQuestion made anyway, so the common case
   * of nothing in flight for the name costs one lookup and no key building).
   */
  private readonly flights = new Map<string, Flight[]>();
  /** Queries waiting because their question had maxFlightsPerQuestion variants upstream. */
  private readonly queued = new Map<string, Queued[]>();
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
    this.admit({ query, q, cb, transport });
  }

  /** Join an identical flight, start one if the question has room, else wait in line. */
  private admit(w: Queued): void {
    // q.name is lower case and escapes anything but hostname bytes, so it is one-to-one with the
    // wire name up to ASCII case: every waiter's name has the leader's length.
    const name = w.q.name;
    const list = this.flights.get(name);
    if (list !== undefined) {
      let sameQuestion = 0;
      for (const f of list) {
        if (f.transport !== w.transport || f.leader.q.qtype !== w.q.qtype || f.leader.q.qclass !== w.q.qclass) continue;
        if (sameVariant(f.leader.query, f.leader.q, w.query, w.q)) {
          f.followers.push(w);
          this.coalesced++;
          this.opts.onCoalesced?.(w.transport);
          return;
        }
        sameQuestion++;
      }
      if (sameQuestion >= this.maxFlights) {
        const line = this.queued.get(name);
        if (line === undefined) this.queued.set(name, [w]);
        else line.push(w);
        this.queuedVariants++;
        return;
      }
    }
    const flight: Flight = { transport: w.transport, leader: w, followers: [] };
    if (list === undefined) this.flights.set(name, [flight]);
    else list.push(flight);
    this.forward(w.query, w.q, w.transport, (resp, err) => {
      this.land(flight);
      const followers = flight.followers;
      if (followers.length === 0) return w.cb(resp, err);
      // Copies first: the leader's callback patches `resp` in place.
      const copies = followers.map((f) => {
        if (resp === undefined) return undefined;
        const copy = Buffer.from(resp);
        copyQuestionName(f.query, f.q, copy);
        return copy;
      });
      w.cb(resp, err);
      followers.forEach((f, i) => f.cb(copies[i], err));
    });
  }

  /** The flight is over: no one joins it any more, and whoever waited for room may start. */
  private land(flight: Flight): void {
    const name = flight.leader.q.name;
    const list = this.flights.get(name);
    if (list !== undefined) {
      const i = list.indexOf(flight);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.flights.delete(name);
    }
    // Not from inside this callback: pool failures call back synchronously, and a nested
    // admission would run before this flight's own callbacks.
    if (this.queued.has(name)) queueMicrotask(() => this.drain(name));
  }

  /** Re-admit what waited for `name`, in arrival order; what still finds no room waits on. */
  private drain(name: string): void {
    const line = this.queued.get(name);
    if (line === undefined) return;
    this.queued.delete(name);
    for (const w of line) this.admit(w);
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
