/** Summaries of timing samples: what the tables print. */

export interface Summary {
  n: number;
  min: number;
  median: number;
  max: number;
  mean: number;
  p99: number;
}

/** Nearest-rank percentile of sorted values (`q` in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { n, min: NaN, median: NaN, max: NaN, mean: NaN, p99: NaN };
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { n, min: sorted[0]!, median, max: sorted[n - 1]!, mean: sorted.reduce((a, b) => a + b, 0) / n, p99: percentile(sorted, 0.99) };
}

export function median(values: readonly number[]): number {
  return summarize(values).median;
}

/** Milliseconds with a sensible number of digits. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** "min / median / max" in ms. */
export function mmm(summary: Summary, format: (v: number) => string = ms): string {
  return `${format(summary.min)} / ${format(summary.median)} / ${format(summary.max)}`;
}

export function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

export function ratio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/** Rounds to whole microseconds-ish precision for JSON output. */
export const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** performance.now() in ms. */
export const now = (): number => performance.now();

/** Runs `fn` and returns how long it took, in ms. */
export async function timeIt(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
