// Learning with hold-until-programmed (SEMANTICS.md 5): the answer for a pod whose domain rules
// match the query name is released only after Datapath.learn has resolved for every address in it;
// failure, invalid data or `programTimeout` mean SERVFAIL. Programming for one (pod, name) runs
// strictly in answer-arrival order, so a later answer never overtakes an earlier one.
import { performance } from 'node:perf_hooks';
import { DomainMatcher, learnedExpiry, type LearnedIP, type LearnedStore, type TTLBounds } from '../fqdn/index.js';
import type { Datapath, DomainRuleRef, LearnedEntry } from '../datapath/types.js';
import { learnableAddresses } from './answer.js';
import { ProgramError } from './errors.js';
import type { EventLog } from './event-log.js';
import type { DnsMetrics } from './metrics.js';

export type HoldOutcome = 'nothing' | 'programmed' | 'invalid' | 'failed' | 'timeout';

export interface LearnerOptions {
  readonly datapath: Datapath;
  readonly store: LearnedStore;
  readonly ttlBounds: TTLBounds;
  readonly programTimeoutMs: number;
  readonly metrics: DnsMetrics;
  readonly log: EventLog;
  readonly clock: () => number;
}

const settled = Promise.resolve();
const noop = (): void => {};

export class Learner {
  private readonly matchers = new WeakMap<readonly DomainRuleRef[], DomainMatcher<DomainRuleRef>>();
  private readonly tails = new Map<string, Promise<void>>();
  private heldCount = 0;

  /** Answers currently waiting for the datapath. */
  get held(): number {
    return this.heldCount;
  }

  private readonly programOk;
  private readonly programFailed;

  constructor(private readonly opts: LearnerOptions) {
    this.programOk = opts.metrics.programLatency.labels('ok');
    this.programFailed = opts.metrics.programLatency.labels('failed');
  }

  /** The pod's rules whose pattern matches `name` (normalized). */
  rulesFor(domainRules: readonly DomainRuleRef[], name: string): readonly DomainRuleRef[] {
    if (domainRules.length === 0) return [];
    let m = this.matchers.get(domainRules);
    if (m === undefined) {
      m = new DomainMatcher(domainRules.map((r) => [r.pattern, r] as const));
      this.matchers.set(domainRules, m);
    }
    return m.match(name);
  }

  /**
   * Learn what `resp` maps `name` to for `pod` and call `done` once the answer may be released
   * ('nothing' or 'programmed') or must not be ('invalid', 'failed', 'timeout').
   */
  hold(
    pod: string,
    name: string,
    rules: readonly DomainRuleRef[],
    resp: Buffer,
    answerStart: number,
    arrivalMs: number,
    done: (outcome: HoldOutcome) => void,
  ): void {
    let addresses;
    try {
      addresses = learnableAddresses(resp, answerStart, name);
    } catch (err) {
      this.opts.log.event('invalid_answer', { pod, name, err: (err as Error).message });
      return done('invalid');
    }
    if (addresses.length === 0) return done('nothing');
    const entries: LearnedEntry[] = addresses.map((a) => ({
      pod,
      name,
      ip: a.ip,
      expiresAt: learnedExpiry(arrivalMs, a.ttl, this.opts.ttlBounds),
      rules,
    }));

    this.heldCount++;
    const started = performance.now();
    const key = `${pod}\u0000${name}`;
    const run = (this.tails.get(key) ?? settled).then(() => this.program(entries));
    const tail = run.then(noop, noop);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });

    let finished = false;
    const finish = (outcome: HoldOutcome): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.heldCount--;
      done(outcome);
    };
    const timer = setTimeout(() => {
      this.opts.log.event('program_timeout', { pod, name, entries: entries.length, timeoutMs: this.opts.programTimeoutMs });
      finish('timeout');
    }, Math.max(0, arrivalMs + this.opts.programTimeoutMs - this.opts.clock()));
    run.then(
      () => {
        this.programOk.observe((performance.now() - started) / 1000);
        finish('programmed');
      },
      (err: unknown) => {
        this.programFailed.observe((performance.now() - started) / 1000);
        const e = new ProgramError(pod, name, 'failed', err);
        this.opts.log.event('program_failed', { pod, name, entries: entries.length, err: String((err as Error)?.message ?? err), error: e.name });
        finish('failed');
      },
    );
  }

  /** Record in the store, un-program cap evictions, program the answer's entries. */
  private async program(entries: LearnedEntry[]): Promise<void> {
    const { store, datapath, metrics } = this.opts;
    const res = store.add(entries as readonly LearnedIP[], this.opts.clock());
    if (res.added.length > 0) metrics.learned.labels('added').inc(res.added.length);
    if (res.refreshed.length > 0) metrics.learned.labels('refreshed').inc(res.refreshed.length);
    let toLearn: readonly LearnedEntry[] = entries;
    if (res.evicted.length > 0) {
      metrics.evictions.labels('cap').inc(res.evicted.length);
      const first = res.evicted[0]!;
      this.opts.log.event('evicted', { pod: first.pod, name: first.name, count: res.evicted.length }, 'info');
      const gone = new Set(res.evicted.map((e) => `${e.pod}\u0000${e.name}\u0000${e.ip}`));
      toLearn = entries.filter((e) => !gone.has(`${e.pod}\u0000${e.name}\u0000${e.ip}`));
      await datapath.forget(res.evicted);
    }
    if (toLearn.length > 0) await datapath.learn(toLearn);
  }
}
