// Answers for several names of one pod programmed at the same time, with per-pod and per-name caps
// evicting across names: whenever an answer is released as programmed, every address it carries is
// in the datapath for that (pod, name); when everything settles, store and datapath agree. (A cap
// eviction by one name once forgot another name's entry right after that name had programmed it.)
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { MemoryDatapath } from '../../src/datapath/memory/memory-datapath.js';
import { EventLog } from '../../src/dns/event-log.js';
import { Learner, type HoldOutcome } from '../../src/dns/learner.js';
import { DnsMetrics } from '../../src/dns/metrics.js';
import { readQuestion } from '../../src/dns/wire.js';
import { LearnedStore } from '../../src/fqdn/index.js';

const POD = 'ns/p';
const NAMES = ['a.example.test', 'b.example.test', 'c.example.test'];
const IPS = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
const RULES = [{ rule: 'ns/anp/0', pattern: '*.example.test' }];

function answer(name: string, ips: readonly string[], ttl: number): { buf: Buffer; end: number } {
  const buf = dnsPacket.encode({
    type: 'response',
    id: 1,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name, class: 'IN' }],
    answers: ips.map((ip) => ({ type: 'A' as const, name, ttl, class: 'IN' as const, data: ip })),
  });
  return { buf, end: readQuestion(buf).end };
}

const holdArb = fc.record({
  name: fc.constantFrom(...NAMES),
  ips: fc.uniqueArray(fc.constantFrom(...IPS), { minLength: 1, maxLength: 2 }),
  ttl: fc.integer({ min: 60, max: 7200 }),
});

describe('caps evicting across names while answers are programmed', () => {
  it('never releases an answer whose addresses the datapath does not hold; store and datapath end equal', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(holdArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        async (batches, maxLearnedPerPod, delayMs) => {
          const datapath = new MemoryDatapath();
          if (delayMs > 0) datapath.delayLearn(delayMs);
          const store = new LearnedStore({ maxLearnedPerPod, maxIPsPerName: 2 });
          const learner = new Learner({
            datapath,
            store,
            ttlBounds: { minTTL: 60, maxTTL: 86_400 },
            programTimeoutMs: 5000,
            metrics: new DnsMetrics(),
            log: new EventLog(pino({ level: 'silent' })),
            clock: Date.now,
          });
          const life = learner.podLife(POD);
          const violations: string[] = [];
          for (const batch of batches) {
            // One batch = answers arriving in the same macrotask (e.g. one TCP chunk).
            await Promise.all(
              batch.map(
                (h) =>
                  new Promise<void>((resolve) => {
                    const { buf, end } = answer(h.name, h.ips, h.ttl);
                    learner.hold(POD, h.name, RULES, buf, end, Date.now(), (outcome: HoldOutcome) => {
                      if (outcome === 'programmed') {
                        const held = new Set(datapath.learnedOf(POD).filter((e) => e.name === h.name).map((e) => e.ip));
                        const missing = h.ips.filter((ip) => !held.has(ip));
                        if (missing.length > 0) violations.push(`${h.name} released without ${missing.join(',')} in the datapath`);
                      }
                      resolve();
                    }, life);
                  }),
              ),
            );
          }
          expect(violations).toEqual([]);
          const key = (e: { name: string; ip: string }): string => `${e.name} ${e.ip}`;
          expect(datapath.learnedOf(POD).map(key).sort()).toEqual(store.entries(POD).map(key).sort());
        },
      ),
      { numRuns: 150 },
    );
  });
});
