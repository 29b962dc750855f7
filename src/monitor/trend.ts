/**
 * How fast memory moves: a least-squares slope over the last few readings. One reading per
 * tick is noisy (page cache, a process that just exited), and the last two alone would turn
 * every jitter into "still growing"; a short window answers "is it rising" steadily.
 */

/** A reading: when (ms) and how much (bytes, or any unit: the slope is in that unit per second). */
export interface TrendPoint {
  time: number;
  value: number;
}

/**
 * The slope of `points` in value units per second (least squares), 0 with fewer than two
 * points or no time between them. Only the points of the last `windowMs` before the newest count.
 */
export function slope(points: readonly TrendPoint[], windowMs = Infinity): number {
  const newest = points.at(-1);
  if (newest === undefined) return 0;
  let n = 0;
  let sumT = 0;
  let sumV = 0;
  for (const p of points) {
    if (newest.time - p.time > windowMs) continue;
    n++;
    sumT += p.time;
    sumV += p.value;
  }
  if (n < 2) return 0;
  const meanT = sumT / n;
  const meanV = sumV / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    if (newest.time - p.time > windowMs) continue;
    num += (p.time - meanT) * (p.value - meanV);
    den += (p.time - meanT) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

/** A bounded window of readings of one figure (host memory used), oldest first. */
export class Trend {
  readonly #points: TrendPoint[] = [];
  readonly #capacity: number;

  /** Keeps the last `capacity` readings (default 5: five ticks of the default 1 s interval). */
  constructor(capacity = 5) {
    this.#capacity = capacity;
  }

  push(time: number, value: number): void {
    this.#points.push({ time, value });
    if (this.#points.length > this.#capacity) this.#points.shift();
  }

  /**
   * Units per second over the window; 0 before three readings: two readings make a line out of
   * any one jump (an agent's burst, a kill's release), three start to show a trend.
   */
  rate(): number {
    return this.#points.length < 3 ? 0 : slope(this.#points);
  }

  clear(): void {
    this.#points.length = 0;
  }
}
