/**
 * Memory readings of an orchestrator process, shared by the two orchestrators bench/rss.ts runs
 * side by side (bench/rss-child.ts with the library, bench/rss-bare.ts without): both must be
 * measured the same way for their difference to be the library's share.
 */
import { readFileSync } from 'node:fs';

/** What every orchestrator of the RSS bench is given (as JSON in argv[2]). */
export interface OrchestratorConfig {
  stateDir: string;
  /** Agents (children) managed at once. */
  agents: number;
  /** Spawn/exit cycles of /bin/true after the agents, `concurrency` at a time. */
  cycles: number;
  concurrency: number;
  /** Checkpoints taken during the cycles. */
  samples: number;
  /**
   * Seconds to wait before a second checkpoint after the burst and after the cycles: V8 sizes its
   * young generation for the allocation rate and shrinks it once allocation calms down (0: none).
   */
  settle: number;
}

/** One reading of the orchestrator's memory, after two full GCs. */
export interface Checkpoint {
  label: string;
  cycles: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Anonymous (heap, malloc) and file-backed (node's own binary and libraries, paged in as code runs) parts of the RSS. */
  rssAnon: number;
  rssFile: number;
}

/** What an orchestrator prints as its last line. */
export interface MemoryReport {
  checkpoints: Checkpoint[];
  peakRss: number;
  cyclesMs: number;
}

/** Checkpoint labels both orchestrators use, so the bench can pair their readings. */
export const LABELS = {
  alone: 'node alone',
  managing: (agents: number) => `managing ${agents} agents`,
  killed: (agents: number) => `${agents} agents killed and removed`,
  cycles: 'cycles',
  after: (cycles: number) => `after ${cycles} spawn/exit cycles`,
  afterSettled: (cycles: number) => `${cycles} cycles`,
  settled: (label: string, seconds: number) => `${label}, ${seconds} s later`,
};

/** RssAnon and RssFile from /proc/self/status, in bytes. */
function rssParts(): { rssAnon: number; rssFile: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile') + kb('RssShmem') };
}

/** Takes the checkpoints of one orchestrator process (started with `node --expose-gc`). */
export class MemoryMeter {
  readonly checkpoints: Checkpoint[] = [];
  peakRss = 0;
  readonly #settle: number;
  readonly #gc: () => void;

  constructor(settle: number) {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc');
    this.#gc = gc;
    this.#settle = settle;
  }

  checkpoint(label: string, cycles = 0): void {
    this.#gc();
    this.#gc();
    const m = process.memoryUsage();
    this.checkpoints.push({ label, cycles, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, ...rssParts() });
  }

  /** The same checkpoint `settle` seconds later (the orchestrator idle but for its timers). */
  async settled(label: string, cycles = 0): Promise<void> {
    if (this.#settle <= 0) return;
    await new Promise((resolve) => setTimeout(resolve, this.#settle * 1000));
    this.checkpoint(LABELS.settled(label, this.#settle), cycles);
  }

  /** Samples the RSS without a GC (the peak a user would see). */
  sample(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }

  /**
   * Runs `cycle` `total` times, `concurrency` at a time, with a checkpoint every `total / samples`
   * cycles; returns how long the cycles took, in ms.
   */
  async cycles(total: number, concurrency: number, samples: number, cycle: (i: number) => Promise<void>): Promise<number> {
    let done = 0;
    let next = 0;
    const every = Math.max(1, Math.floor(total / samples));
    let nextSample = every;
    const worker = async (): Promise<void> => {
      while (next < total) {
        await cycle(next++);
        done++;
        this.sample();
      }
    };
    const sampler = async (): Promise<void> => {
      while (done < total) {
        if (done >= nextSample) {
          this.checkpoint(LABELS.cycles, done);
          nextSample += every;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const started = performance.now();
    await Promise.all([...Array.from({ length: concurrency }, worker), sampler()]);
    return performance.now() - started;
  }

  /** Prints the report as the last line of stdout. */
  report(cyclesMs: number): void {
    const report: MemoryReport = { checkpoints: this.checkpoints, peakRss: this.peakRss, cyclesMs };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  }
}
