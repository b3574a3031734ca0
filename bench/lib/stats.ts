// Order statistics for benchmark samples: medians and percentiles from raw timings, never averages.

/** Nearest-rank percentile (p in 0..100) of the samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs each contender once per round, in alternating order, and returns each one's samples. */
export function alternate<K extends string>(rounds: number, contenders: Record<K, (round: number) => number>): Record<K, number[]> {
  const names = Object.keys(contenders) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    // Flip the order every round so neither side always runs on a warmer (or hotter) machine.
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) samples[name].push(contenders[name](round));
  }
  return samples;
}
