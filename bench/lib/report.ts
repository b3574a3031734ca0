// The one result shape every benchmark writes (BENCHMARKS.md): bench/results/NAME.json plus a short
// table on stdout whose last line is the headline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Headline {
  metric: string;
  /** null when the benchmark could not measure it; say why in `results`. */
  value: number | null;
  goal: number;
  better: 'higher' | 'lower';
}

export interface BenchmarkResult {
  benchmark: string;
  when: string;
  machine: string;
  headline: Headline;
  results: Record<string, unknown>;
}

/** One table line: a label, a measured value (null = not measured) and an optional note. */
export interface Row {
  label: string;
  value: number | string | null;
  note?: string;
}

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export function machineDescription(): string {
  const cores = cpus();
  const model = cores[0]?.model.trim() ?? 'unknown cpu';
  return `${cores.length} cores (${model}), Linux ${release()}, node ${process.version}`;
}

export function meetsGoal(h: Headline): boolean | null {
  if (h.value === null || Number.isNaN(h.value)) return null;
  return h.better === 'higher' ? h.value >= h.goal : h.value <= h.goal;
}

export function formatValue(v: number | string | null): string {
  if (v === null || (typeof v === 'number' && Number.isNaN(v))) return 'not measured';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
}

export function formatTable(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.label, formatValue(r.value), r.note ?? '']);
  const widths = [0, 1, 2].map((c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padStart(widths[1]!)}  ${row[2]!}`.trimEnd()).join('\n');
}

function goalRow(h: Headline, prefix: string): Row {
  const verdict = meetsGoal(h);
  const goal = `goal ${h.better === 'higher' ? '>=' : '<='} ${formatValue(h.goal)}`;
  return { label: `${prefix}${h.metric}`, value: h.value, note: `${goal}: ${verdict === null ? 'not measured' : verdict ? 'met' : 'NOT met'}` };
}

export interface ReportInput {
  benchmark: string;
  headline: Headline;
  /** Further goals of the benchmark, printed just above the headline and kept in results.goals. */
  goals?: readonly Headline[];
  results: Record<string, unknown>;
  rows: readonly Row[];
  dir?: string;
}

/** Writes bench/results/NAME.json and prints the rows, the goals and, last, the headline; returns the path. */
export function report(input: ReportInput): string {
  const goals = input.goals ?? [];
  const results = goals.length > 0 ? { ...input.results, goals } : input.results;
  const result: BenchmarkResult = { benchmark: input.benchmark, when: new Date().toISOString(), machine: machineDescription(), headline: input.headline, results };
  const dir = input.dir ?? RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${input.benchmark}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`bench:${input.benchmark}  ${result.machine}  (wrote ${path})`);
  console.log(formatTable([...input.rows, ...goals.map((g) => goalRow(g, 'goal ')), goalRow(input.headline, 'HEADLINE ')]));
  return path;
}
