// Counters and histograms updated on every query. prom-client builds a label hash string and
// validates labels on each inc/observe (about 0.5 and 0.8 us, several times per query); these keep
// one child object per label set, cached by the label values, so an update is a few arithmetic
// operations. They register in a prom-client Registry as ordinary metrics: `get()` returns what
// prom-client's own Counter/Histogram return, so the exposition text is the same.
import type { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Partial<Record<L, string>>;

interface Value<L extends string> {
  value: number;
  labels: Labels<L> | Partial<Record<L | 'le', string | number>>;
  metricName?: string;
}

/** The shape prom-client's Registry reads from a metric (`get()`), for both kinds. */
export interface MetricSnapshot<L extends string> {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Value<L>[];
}

export interface FastMetricConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registry: Registry;
}

class MetricError extends Error {
  override readonly name = 'MetricError';
  constructor(
    readonly metric: string,
    reason: string,
  ) {
    super(`${metric}: ${reason}`);
  }
}

abstract class FastMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly L[];
  protected children = new Map<string, { labels: Labels<L>; child: C }>();

  constructor(cfg: FastMetricConfig<L>) {
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames;
    // The registry only calls name, get() and reset() (and reads type/aggregator for merging).
    cfg.registry.registerMetric(this as unknown as Metric);
  }

  /** The child for these label values (in labelNames order); cache it where it is hot. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new MetricError(this.name, `expected ${this.labelNames.length} label values, got ${values.length}`);
    }
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let entry = this.children.get(key);
    if (entry === undefined) {
      const labels: Labels<L> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]));
      entry = { labels, child: this.makeChild() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  reset(): void {
    this.children = new Map();
  }

  protected abstract makeChild(): C;
}

export class CounterChild {
  value = 0;

  inc(n = 1): void {
    if (!(n >= 0) || !Number.isFinite(n)) throw new MetricError('counter', `cannot increase by ${n}`);
    this.value += n;
  }
}

export class FastCounter<L extends string> extends FastMetric<L, CounterChild> {
  readonly type = 'counter' as const;

  protected makeChild(): CounterChild {
    return new CounterChild();
  }

  get(): Promise<MetricSnapshot<L>> {
    const values: Value<L>[] = [];
    for (const { labels, child } of this.children.values()) values.push({ value: child.value, labels: { ...labels } });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}

export class HistogramChild {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    if (!Number.isFinite(v)) throw new MetricError('histogram', `cannot observe ${v}`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class FastHistogram<L extends string> extends FastMetric<L, HistogramChild> {
  readonly type = 'histogram' as const;
  private readonly bounds: Float64Array;

  constructor(cfg: FastMetricConfig<L> & { readonly buckets: readonly number[] }) {
    super(cfg);
    const sorted = [...cfg.buckets].sort((a, b) => a - b);
    if (sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new MetricError(cfg.name, 'buckets must be distinct finite numbers');
    }
    this.bounds = Float64Array.from(sorted);
  }

  protected makeChild(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  get(): Promise<MetricSnapshot<L>> {
    const values: Value<L>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.children.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += child.counts[i]!;
        values.push({ value: acc, labels: { le: this.bounds[i]!, ...labels }, metricName: bucket });
      }
      values.push({ value: child.count, labels: { le: '+Inf', ...labels }, metricName: bucket });
      values.push({ value: child.sum, labels: { ...labels }, metricName: `${this.name}_sum` });
      values.push({ value: child.count, labels: { ...labels }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
