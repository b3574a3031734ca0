// One client query from arrival to reply, whatever the transport: validate the header and
// question, apply limits and queryFilter, forward, check the answer (exact question echo) and patch its ID,
// hold it while learning, reply. Replies are the upstream bytes except the ID; only errors the
// proxy itself decides on are built here.
import type { EventLog } from './event-log.js';
import type { Learner } from './learner.js';
import type { DnsMetrics, QueryResult } from './metrics.js';
import type { PolicyView } from './policy-view.js';
import { filterRcode, type QueryFilterMode } from './query-filter.js';
import type { Transport, UpstreamClient } from './upstream-client.js';
import {
  HEADER_LEN,
  Rcode,
  anCount,
  isResponse,
  isTruncated,
  makeReply,
  messageId,
  opcodeOf,
  rcodeOf,
  readQuestion,
  setMessageId,
  type Question,
} from './wire.js';

export interface QueryHandlerOptions {
  readonly view: PolicyView;
  readonly upstream: UpstreamClient;
  readonly learner: Learner;
  readonly metrics: DnsMetrics;
  readonly log: EventLog;
  readonly queryFilter: QueryFilterMode;
  readonly allowedSuffixes: readonly string[];
  readonly maxInflight: number;
  readonly maxInflightPerClient: number;
  readonly clock: () => number;
}

/** Called exactly once per query: the reply to send, or undefined to send nothing. */
export type Done = (reply: Buffer | undefined) => void;

export class QueryHandler {
  private inflight = 0;
  private readonly perClient = new Map<string, number>();

  constructor(private readonly opts: QueryHandlerOptions) {}

  get inFlight(): number {
    return this.inflight;
  }

  handle(msg: Buffer, client: string, transport: Transport, done: Done): void {
    const { metrics, log } = this.opts;
    // Without a full header there is no ID to answer to; a response is never answered (loops).
    if (msg.length < HEADER_LEN || isResponse(msg)) {
      metrics.query(transport, 'dropped_malformed');
      return done(undefined);
    }
    let q: Question;
    try {
      q = readQuestion(msg);
    } catch (err) {
      metrics.query(transport, 'formerr');
      log.event('formerr', { client, transport, err: (err as Error).message }, 'info');
      return done(makeReply(msg, undefined, Rcode.FORMERR));
    }
    if (opcodeOf(msg) !== 0) {
      metrics.query(transport, 'notimp');
      return done(makeReply(msg, q, Rcode.NOTIMP));
    }
    const mine = this.perClient.get(client) ?? 0;
    if (this.inflight >= this.opts.maxInflight || mine >= this.opts.maxInflightPerClient) {
      metrics.query(transport, 'dropped_limit');
      log.event('limit_drop', { client, transport, inflight: this.inflight, client_inflight: mine }, 'info');
      // A UDP client retries; a TCP client would wait forever on a dropped query.
      return done(transport === 'tcp' ? makeReply(msg, q, Rcode.REFUSED) : undefined);
    }

    const policy = this.opts.view.podBySource(client);
    const rules = policy === undefined ? [] : this.opts.learner.rulesFor(policy.domainRules, q.name);
    // Taken now: a forgetPod while the query is upstream must not let its answer teach the pod.
    const life = policy !== undefined && rules.length > 0 ? this.opts.learner.podLife(policy.pod) : undefined;
    if (policy !== undefined) {
      const rcode = filterRcode(this.opts.queryFilter, policy.egressIsolated, rules.length > 0, q.name, this.opts.allowedSuffixes);
      if (rcode !== undefined) {
        metrics.query(transport, rcode === Rcode.REFUSED ? 'refused_filter' : 'nxdomain_filter');
        log.event('refused', { pod: policy.pod, name: q.name, rcode }, 'info');
        return done(makeReply(msg, q, rcode));
      }
    }

    this.inflight++;
    this.perClient.set(client, mine + 1);
    const clientId = messageId(msg);
    const finish = (result: QueryResult, reply: Buffer): void => {
      this.inflight--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
      metrics.query(transport, result);
      done(reply);
    };
    const servfail = (result: QueryResult): void => {
      setMessageId(msg, clientId);
      finish(result, makeReply(msg, q, Rcode.SERVFAIL));
    };

    this.opts.upstream.resolve(msg, q, transport, (resp, err) => {
      if (resp === undefined) {
        log.event('upstream_failed', { client, name: q.name, transport, err: err?.message });
        return servfail('servfail_upstream');
      }
      // The question already carries this client's exact bytes: the upstream client accepts only
      // an exact echo, and gives a coalesced waiter a copy with its own letter case.
      setMessageId(resp, clientId);
      // Nothing to learn: no rule matches, or the answer holds no records (negative, NODATA).
      if (policy === undefined || life === undefined || rcodeOf(resp) !== Rcode.NOERROR || anCount(resp) === 0) {
        return finish('answered', resp);
      }
      // A truncated answer's records are used by some stub resolvers (musl < 1.2.4): it is learned
      // like any other, and when it does not parse it goes out without them and the client
      // retries over TCP.
      const truncated = isTruncated(resp);
      this.opts.learner.hold(
        policy.pod,
        q.name,
        rules,
        resp,
        q.end,
        this.opts.clock(),
        (outcome) => {
          if (outcome === 'nothing') return finish('answered', resp);
          if (outcome === 'programmed') return finish('learned', resp);
          if (outcome === 'invalid' && truncated) return finish('answered', withoutRecords(resp, msg, q, clientId));
          servfail(outcome === 'invalid' ? 'servfail_invalid' : 'servfail_program');
        },
        life,
      );
    });
  }
}

/**
 * A truncated answer reduced to header, question (+ OPT) with the upstream's flags (TC kept) and
 * no records: what a client may use of it is nothing, it retries over TCP.
 */
function withoutRecords(resp: Buffer, query: Buffer, q: Question, clientId: number): Buffer {
  setMessageId(query, clientId);
  const out = makeReply(query, q, Rcode.NOERROR);
  out[2] = resp[2]!;
  out[3] = resp[3]!;
  return out;
}
