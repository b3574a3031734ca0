// bench:match — domain-pattern lookups against 10k patterns (BENCHMARKS.md). Floor: a plain Set of
// the exact names, same run, alternating rounds, same query names. Names are fresh strings each
// round, as a decoded DNS question would be, so neither side reuses a cached string hash; the
// reused-string figures are reported too.
import { pathToFileURL } from 'node:url';
import { DomainMatcher } from '../src/fqdn/matcher.js';
import { parseDomainPattern } from '../src/fqdn/pattern.js';
import { alternate, median } from './lib/stats.js';
import { domainName, domainLabel } from './lib/domains.js';
import { pick, seededRandom } from './lib/random.js';
import { report } from './lib/report.js';

const PATTERNS = 10_000;
const WILDCARD_SHARE = 0.4;
const LOOKUPS = 200_000;
const ROUNDS = 21;
const WARMUP_ROUNDS = 3;

export interface Workload {
  patterns: string[];
  exactNames: string[];
  queries: string[];
  expectedHits: number;
}

export function buildWorkload(seed: number): Workload {
  const rnd = seededRandom(seed);
  const patterns = new Set<string>();
  while (patterns.size < PATTERNS) {
    const base = domainName(rnd);
    const parsed = parseDomainPattern(rnd() < WILDCARD_SHARE ? `*.${base}` : base);
    if (parsed.ok) patterns.add(parsed.pattern);
  }
  const list = [...patterns];
  const exactNames = list.filter((p) => !p.startsWith('*.'));
  const wildBases = list.filter((p) => p.startsWith('*.')).map((p) => p.slice(2));
  const queries: string[] = [];
  // A quarter each: exact hits, wildcard hits (1-2 extra labels), near misses (apex of a wildcard,
  // sibling of an exact name) and unrelated names; some upper case and trailing dots as on the wire.
  for (let i = 0; i < LOOKUPS; i++) {
    const kind = i % 4;
    let q: string;
    if (kind === 0) q = pick(rnd, exactNames);
    else if (kind === 1) q = `${rnd() < 0.5 ? `${domainLabel(rnd)}.` : ''}${domainLabel(rnd)}.${pick(rnd, wildBases)}`;
    else if (kind === 2) q = rnd() < 0.5 ? pick(rnd, wildBases) : `${domainLabel(rnd)}x.${pick(rnd, exactNames).split('.').slice(1).join('.')}`;
    else q = domainName(rnd);
    if (rnd() < 0.1) q = q.toUpperCase();
    if (rnd() < 0.1) q += '.';
    queries.push(q);
  }
  const naiveSet = new Set(exactNames);
  let expectedHits = 0;
  for (const q of queries) {
    const n = q.toLowerCase().replace(/\.$/, '');
    if (naiveSet.has(n) || wildBases.some((b) => n.endsWith(`.${b}`))) expectedHits++;
  }
  return { patterns: list, exactNames, queries, expectedHits };
}

// New string objects with the same characters, built the way a decoded DNS name is (from bytes).
function freshCopies(names: readonly string[]): string[] {
  return names.map((n) => Buffer.from(n, 'latin1').toString('latin1'));
}

function timeLoop(fn: () => number): { seconds: number; hits: number } {
  const t0 = process.hrtime.bigint();
  const hits = fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, hits };
}

function main(): void {
  const w = buildWorkload(0xd15ea5e);
  const tBuild = process.hrtime.bigint();
  const matcher = new DomainMatcher<number>(w.patterns.map((p, i) => [p, i] as const));
  const buildMs = Number(process.hrtime.bigint() - tBuild) / 1e6;
  // The floor is a case-normalised exact-name Set: what a matcher without wildcards would be.
  const floorSet = new Set(w.exactNames);

  const runMatcher = (names: readonly string[]): number => {
    let hits = 0;
    for (let i = 0; i < names.length; i++) if (matcher.match(names[i]!).length > 0) hits++;
    return hits;
  };
  const runMatches = (names: readonly string[]): number => {
    let hits = 0;
    for (let i = 0; i < names.length; i++) if (matcher.matches(names[i]!)) hits++;
    return hits;
  };
  const runFloor = (names: readonly string[]): number => {
    let hits = 0;
    for (let i = 0; i < names.length; i++) if (floorSet.has(names[i]!)) hits++;
    return hits;
  };

  const check = runMatcher(w.queries);
  if (check !== w.expectedHits) throw new Error(`matcher found ${check} hits, the naive scan ${w.expectedHits}`);

  // The query names are lower-cased for the floor: a Set cannot fold case, and making it do so
  // (toLowerCase per lookup) would slow the floor, not measure it.
  const floorQueries = w.queries.map((q) => q.toLowerCase().replace(/\.$/, ''));
  const perRound = (run: (names: readonly string[]) => number, source: readonly string[], fresh: boolean) => {
    return (): number => {
      const names = fresh ? freshCopies(source) : source;
      const { seconds, hits } = timeLoop(() => run(names));
      if (hits < 0) throw new Error('unreachable');
      return names.length / seconds;
    };
  };
  alternate(WARMUP_ROUNDS, { match: perRound(runMatcher, w.queries, true), matches: perRound(runMatches, w.queries, true), floor: perRound(runFloor, floorQueries, true) });
  const fresh = alternate(ROUNDS, { match: perRound(runMatcher, w.queries, true), matches: perRound(runMatches, w.queries, true), floor: perRound(runFloor, floorQueries, true) });
  const reused = alternate(ROUNDS, { match: perRound(runMatcher, w.queries, false), floor: perRound(runFloor, floorQueries, false) });

  const matchRate = median(fresh.match);
  const matchesRate = median(fresh.matches);
  const floorRate = median(fresh.floor);
  const ratio = floorRate / matchRate;
  const reusedRatio = median(reused.floor) / median(reused.match);
  const ns = (rate: number): number => 1e9 / rate;

  report({
    benchmark: 'match',
    headline: { metric: 'lookups/s', value: Math.round(matchRate), goal: 1_000_000, better: 'higher' },
    goals: [{ metric: 'time ratio matcher/floor', value: Number(ratio.toFixed(3)), goal: 3, better: 'lower' }],
    results: {
      patterns: w.patterns.length,
      wildcardPatterns: w.patterns.length - w.exactNames.length,
      lookupsPerRound: w.queries.length,
      hitShare: Number((w.expectedHits / w.queries.length).toFixed(3)),
      rounds: ROUNDS,
      buildMs: Number(buildMs.toFixed(2)),
      freshNames: {
        matchLookupsPerSecMedian: Math.round(matchRate),
        matchesLookupsPerSecMedian: Math.round(matchesRate),
        floorSetLookupsPerSecMedian: Math.round(floorRate),
        matchNsPerLookupMedian: Number(ns(matchRate).toFixed(1)),
        floorNsPerLookupMedian: Number(ns(floorRate).toFixed(1)),
        timeRatioMatchOverFloor: Number(ratio.toFixed(3)),
        samplesLookupsPerSec: { match: fresh.match.map(Math.round), matches: fresh.matches.map(Math.round), floor: fresh.floor.map(Math.round) },
      },
      reusedNames: {
        matchLookupsPerSecMedian: Math.round(median(reused.match)),
        floorSetLookupsPerSecMedian: Math.round(median(reused.floor)),
        timeRatioMatchOverFloor: Number(reusedRatio.toFixed(3)),
      },
    },
    rows: [
      { label: 'patterns (exact + wildcard)', value: `${w.exactNames.length} + ${w.patterns.length - w.exactNames.length}` },
      { label: 'lookups per round (hit share)', value: w.queries.length, note: `${((100 * w.expectedHits) / w.queries.length).toFixed(1)}% hits` },
      { label: 'matcher build ms', value: Number(buildMs.toFixed(2)) },
      { label: 'match() lookups/s, fresh names', value: Math.round(matchRate), note: `median of ${ROUNDS}, ${ns(matchRate).toFixed(1)} ns/lookup` },
      { label: 'matches() lookups/s, fresh names', value: Math.round(matchesRate), note: `median of ${ROUNDS}` },
      { label: 'floor Set.has lookups/s, fresh names', value: Math.round(floorRate), note: `median of ${ROUNDS}, ${ns(floorRate).toFixed(1)} ns/lookup` },
      { label: 'match() lookups/s, reused names', value: Math.round(median(reused.match)) },
      { label: 'floor lookups/s, reused names', value: Math.round(median(reused.floor)), note: 'string hash cached by V8' },
      { label: 'time ratio, reused names', value: Number(reusedRatio.toFixed(3)) },
    ],
  });
}

// Runs only as the entry point, so experiments can import the workload.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
