// Learning with hold-until-programmed (SEMANTICS.md 5): the answer for a pod whose domain rules
// match the query name is released only after Datapath.learn has resolved for every address in it;
// failure, invalid data or `programTimeout` mean SERVFAIL. Programming for one pod runs strictly
// in answer-arrival order, each answer released before the next is programmed, so a later answer
// never overtakes an earlier one and no cap eviction lands between a learn and its release.
//
// The store mirrors the datapath: an answer is committed to it only after Datapath.learn resolved;
// a failed learn takes back what it may have half-programmed. Caps evict older entries after the
// new ones are programmed, never an address of the answer being released. One answer holding more
// addresses than maxIPsPerName / maxLearnedPerPod gets SERVFAIL ('overcap'): trimming would mean
// rewriting the answer, and an answer whose addresses would then be dropped is what must not reach
// the pod. Learning begun for a pod that forgetPod removed meanwhile ('gone', e.g. recreated under
// the same name) is taken back and the client gets SERVFAIL.
import { performance } from 'node:perf_hooks';
import { DomainMatcher, LearnedCapError, learnedExpiry, type LearnedStore, type TTLBounds } from '../fqdn/index.js';
import type { Datapath, DomainRuleRef, LearnedEntry } from '../datapath/types.js';
import { learnableAddresses } from './answer.js';
import { ProgramError } from './errors.js';
import type { EventLog } from './event-log.js';
import type { DnsMetrics } from './metrics.js';

export type HoldOutcome = 'nothing' | 'programmed' | 'invalid' | 'overcap' | 'gone' | 'failed' | 'timeout';

/** One life of a pod, compared by identity: forgetPod ends it, a later query starts a new one. */
export type PodLife = object;

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

export class Learner {
  private readonly matchers = new WeakMap<readonly DomainRuleRef[], DomainMatcher<DomainRuleRef>>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly lives = new Map<string, PodLife>();
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

  /** The current life of `pod`: take it when the query arrives and pass it to `hold`. */
  podLife(pod: string): PodLife {
    let life = this.lives.get(pod);
    if (life === undefined) {
      life = {};
      this.lives.set(pod, life);
    }
    return life;
  }

  /** `pod` is gone: learning still in flight for it is taken back instead of committed. */
  forgetPod(pod: string): void {
    this.lives.delete(pod);
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
   * ('nothing' or 'programmed') or must not be (any other outcome). `life` is the pod's life when
   * the query arrived (podLife); without it, the life at this call.
   */
  hold(
    pod: string,
    name: string,
    rules: readonly DomainRuleRef[],
    resp: Buffer,
    answerStart: number,
    arrivalMs: number,
    done: (outcome: HoldOutcome) => void,
    life: PodLife = this.podLife(pod),
  ): void {
    let addresses;
    try {
      addresses = learnableAddresses(resp, answerStart, name);
    } catch (err) {
      this.opts.log.event('invalid_answer', { pod, name, err: (err as Error).message });
      return done('invalid');
    }
    if (addresses.length === 0) return done('nothing');
    if (this.lives.get(pod) !== life) return done('gone');
    const entries: LearnedEntry[] = addresses.map((a) => ({
      pod,
      name,
      ip: a.ip,
      expiresAt: learnedExpiry(arrivalMs, a.ttl, this.opts.ttlBounds),
      rules,
    }));
    try {
      this.opts.store.checkFits(entries, this.opts.clock());
    } catch (err) {
      if (!(err instanceof LearnedCapError)) throw err;
      this.opts.log.event('program_failed', { pod, name, entries: entries.length, reason: 'over_cap', limit: err.limit, max: err.max });
      return done('overcap');
    }

    this.heldCount++;
    const started = performance.now();
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

    // One chain per pod, not per (pod, name): the caps evict across the pod's names, so another
    // name's programming must not run between this answer's learn and its release (it could
    // evict what this answer carries), nor could its eviction be allowed to undo a learn that
    // had not reached the store yet. The next answer starts only after this one was released.
    const run = (this.tails.get(pod) ?? settled).then(() => this.program(pod, entries, life));
    const tail = run
      .then(
        (outcome) => {
          if (outcome === 'gone') {
            this.opts.log.event('program_failed', { pod, name, entries: entries.length, reason: 'pod_gone' }, 'info');
            return finish('gone');
          }
          this.programOk.observe((performance.now() - started) / 1000);
          finish('programmed');
        },
        (err: unknown) => {
          this.programFailed.observe((performance.now() - started) / 1000);
          const e = new ProgramError(pod, name, 'failed', err);
          this.opts.log.event('program_failed', { pod, name, entries: entries.length, err: String((err as Error)?.message ?? err), error: e.name });
          finish('failed');
        },
      )
      .catch((err: unknown) => {
        // Only the reply callback can throw here; the chain must survive it for the pod's next answers.
        this.opts.log.event('release_failed', { pod, name, err: String((err as Error)?.message ?? err) });
      });
    this.tails.set(pod, tail);
    void tail.then(() => {
      if (this.tails.get(pod) === tail) this.tails.delete(pod);
    });
  }

  /**
   * Program the answer's entries, then commit them to the store and un-program what the caps
   * evicted. A failed learn, or a pod gone meanwhile, takes back what the store does not hold.
   */
  private async program(pod: string, entries: readonly LearnedEntry[], life: PodLife): Promise<'programmed' | 'gone'> {
    const { store, datapath, metrics } = this.opts;
    if (this.lives.get(pod) !== life) return 'gone';
    try {
      await datapath.learn(entries);
    } catch (err) {
      await this.takeBack(entries);
      throw err;
    }
    if (this.lives.get(pod) !== life) {
      await this.takeBack(entries);
      return 'gone';
    }
    const res = store.add(entries, this.opts.clock());
    if (res.added.length > 0) metrics.learned.labels('added').inc(res.added.length);
    if (res.refreshed.length > 0) metrics.learned.labels('refreshed').inc(res.refreshed.length);
    if (res.evicted.length > 0) {
      metrics.evictions.labels('cap').inc(res.evicted.length);
      const first = res.evicted[0]!;
      this.opts.log.event('evicted', { pod: first.pod, name: first.name, count: res.evicted.length }, 'info');
      try {
        await datapath.forget(res.evicted);
      } catch (err) {
        // The answer is programmed; the evicted entries still expire in the datapath on their own.
        this.opts.log.event('program_failed', { op: 'forget', reason: 'cap', count: res.evicted.length, err: String(err) });
      }
    }
    return 'programmed';
  }

  /**
   * Un-program the entries the store does not hold. The store mirrors the datapath and programming
   * of one pod is serialized, so those are exactly the ones this batch may have added.
   */
  private async takeBack(entries: readonly LearnedEntry[]): Promise<void> {
    const { store, datapath } = this.opts;
    const added = entries.filter((e) => store.expiryOf(e.pod, e.name, e.ip) === undefined);
    if (added.length === 0) return;
    try {
      await datapath.forget(added);
    } catch (err) {
      this.opts.log.event('program_failed', { op: 'forget', reason: 'take_back', count: added.length, err: String(err) });
    }
  }
}
