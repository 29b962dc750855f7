/**
 * A fixed-size ring of an agent's samples, kept as numbers in Float64Arrays rather than as
 * objects: 300 agents × 60 samples would otherwise be 18,000 small objects, each surviving V8's
 * young generation into the old one, tick after tick, and that churn is what makes V8 grow its
 * young generation (RSS) in a long-running orchestrator. Samples are objects again only when asked.
 */
import type { PsiLine } from '../cgroup/parse.js';
import type { TrendPoint } from './trend.js';
import type { AgentSample } from './types.js';

/** time, current, highDelta, 5 event counters. */
const WIDTH = 8;
/** some × 4, full × 4 (NaN: absent); kept apart, made at the first sample with PSI (v1 has none). */
const PSI_WIDTH = 8;

export class SampleRing {
  readonly capacity: number;
  readonly #data: Float64Array;
  #psi: Float64Array | undefined;
  /** Index of the next write. */
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#data = new Float64Array(capacity * WIDTH);
  }

  get size(): number {
    return this.#size;
  }

  push(sample: AgentSample): void {
    const d = this.#data;
    let i = this.#next * WIDTH;
    d[i++] = sample.time;
    d[i++] = sample.current;
    d[i++] = sample.highDelta;
    const e = sample.events;
    d[i++] = e.low;
    d[i++] = e.high;
    d[i++] = e.max;
    d[i++] = e.oom;
    d[i++] = e.oomKill;
    if (sample.pressure !== undefined) this.#psi ??= new Float64Array(this.capacity * PSI_WIDTH).fill(NaN);
    if (this.#psi !== undefined) {
      const j = this.#next * PSI_WIDTH;
      this.#writePsi(j, sample.pressure?.some);
      this.#writePsi(j + 4, sample.pressure?.full);
    }
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  #writePsi(at: number, line: PsiLine | undefined): void {
    const psi = this.#psi!;
    psi[at] = line === undefined ? NaN : line.avg10;
    psi[at + 1] = line === undefined ? NaN : line.avg60;
    psi[at + 2] = line === undefined ? NaN : line.avg300;
    psi[at + 3] = line === undefined ? NaN : line.total;
  }

  /** The newest sample. */
  last(): AgentSample | undefined {
    return this.#size === 0 ? undefined : this.#at((this.#next - 1 + this.capacity) % this.capacity);
  }

  /** The newest `count` (time, current) readings, oldest first: what a growth rate needs, without whole samples. */
  recent(count: number): TrendPoint[] {
    const n = Math.min(count, this.#size);
    const points: TrendPoint[] = [];
    for (let k = n; k >= 1; k--) {
      const i = ((this.#next - k + this.capacity) % this.capacity) * WIDTH;
      points.push({ time: this.#data[i]!, value: this.#data[i + 1]! });
    }
    return points;
  }

  /** Oldest first. */
  toArray(): AgentSample[] {
    const result: AgentSample[] = [];
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    for (let k = 0; k < this.#size; k++) result.push(this.#at((start + k) % this.capacity));
    return result;
  }

  #at(slot: number): AgentSample {
    const d = this.#data;
    const i = slot * WIDTH;
    const p = this.#psi;
    const line = (at: number): PsiLine | undefined =>
      p === undefined || Number.isNaN(p[at]) ? undefined : { avg10: p[at]!, avg60: p[at + 1]!, avg300: p[at + 2]!, total: p[at + 3]! };
    const some = line(slot * PSI_WIDTH);
    const full = line(slot * PSI_WIDTH + 4);
    return {
      time: d[i]!,
      current: d[i + 1]!,
      highDelta: d[i + 2]!,
      events: { low: d[i + 3]!, high: d[i + 4]!, max: d[i + 5]!, oom: d[i + 6]!, oomKill: d[i + 7]! },
      pressure: some === undefined ? undefined : full === undefined ? { some } : { some, full },
    };
  }
}
