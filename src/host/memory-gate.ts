/**
 * Admission by expected peak, wired into the host: the admission queue's `canAdmit` gate. Each
 * admitted agent reserves the larger of its working set (the monitor's last sample) and its
 * expected peak; the agent at the head of the queue starts only if its own expected peak fits
 * beside them under `high` × the budget. Admitting by what agents use *now* lets a whole burst in
 * while everyone is small, and all protection then has to come from killing later.
 *
 * It owns the host's {@link PeakBook}: peaks of agents that ran to their end are learned here, per
 * profile and of all agents, and kept in the state directory.
 */
import type { HostMemory, MemoryMonitor } from '../monitor/index.js';
import { formatBytes } from '../util/size.js';
import type { AdmissionCandidate, AdmissionHold } from './admission.js';
import type { AgentResult, AgentState } from './events.js';
import { admitByMemory, type Reservation } from './memory-admission.js';
import { PeakBook, type ExpectedPeak, type ExpectedPeakInput, type PeakBookOptions } from './peaks.js';

/** What the gate sees of a run: enough to know what it reserves. */
export interface GatedRun {
  readonly id: string;
  readonly state: AgentState;
  /** What its expected peak is worked out from (the spawn's figures and limits). */
  readonly peak: ExpectedPeakInput | undefined;
}

/** The monitor's members the gate reads: the budget at the last tick (or now), each agent's last sample, `high`. */
export type GateMonitor = Pick<MemoryMonitor, 'hostMemory' | 'lastMemory' | 'lastUsage' | 'thresholds'>;

/** Runs that hold memory or are about to: every admitted one until its cgroup is gone. */
const ADMITTED: ReadonlySet<AgentState> = new Set(['starting', 'running', 'paused', 'stopping']);

/** The host's admission by expected peak; `open()` it once the state directory is known. */
export class MemoryGate {
  readonly #runs: ReadonlyMap<string, GatedRun>;
  readonly #monitor: GateMonitor;
  readonly #options: PeakBookOptions;
  readonly #onError: (error: Error) => void;
  #book: PeakBook;
  /**
   * Working sets of agents gone since the monitor's last tick: still in that tick's host figure,
   * no longer anyone's reservation. Counted as free at once, so the next agent need not wait a tick.
   */
  #freed: { tick: HostMemory | undefined; bytes: number } = { tick: undefined, bytes: 0 };

  /** `onError` hears of a failed write of the learned peaks. */
  constructor(runs: ReadonlyMap<string, GatedRun>, monitor: GateMonitor, options: PeakBookOptions = {}, onError?: (error: Error) => void) {
    this.#runs = runs;
    this.#monitor = monitor;
    this.#options = options;
    this.#onError = onError ?? (() => undefined);
    // In memory until open(): options are validated at construction, like the host's others.
    this.#book = new PeakBook(undefined, options);
  }

  /** Loads what earlier orchestrators learned in `stateDir` and keeps learning there. */
  open(stateDir: string): void {
    this.#book = new PeakBook(stateDir, this.#options, this.#onError);
  }

  /** Writes pending learned peaks (the host's dispose()). */
  close(): void {
    this.#book.flush();
  }

  /** The learned peaks (tests, reports). */
  get book(): PeakBook {
    return this.#book;
  }

  /** An agent's expected peak now: its `expectedMemory`, its profile's, all agents', its memoryHigh. */
  expected(peak: ExpectedPeakInput | undefined): ExpectedPeak {
    return this.#book.expected(peak ?? {});
  }

  /** An agent ended: its memory is free, and the peak of one that ran to its end is learned (a killed one's understates it). */
  ended(profile: string | undefined, result: AgentResult): void {
    const tick = this.#monitor.lastMemory();
    if (this.#freed.tick !== tick) this.#freed = { tick, bytes: 0 };
    this.#freed.bytes += this.#monitor.lastUsage(result.id) ?? 0;
    if (result.reason === 'exit') this.#book.record(profile, result.peakMemory);
  }

  /** The `canAdmit` gate: `true`, or the hold with its figures (the `queue` event `memory`). */
  readonly canAdmit = (candidate: AdmissionCandidate): true | AdmissionHold => {
    let memory;
    try {
      // The last tick's reading, as the agents' usage is: no kernel read per spawn (asked again every tick).
      memory = this.#monitor.lastMemory() ?? this.#monitor.hostMemory();
    } catch {
      // Unreadable now: the monitor's level still pauses admission at `high`.
      return true;
    }
    const running: Reservation[] = [];
    let used = 0;
    for (const run of this.#runs.values()) {
      if (!ADMITTED.has(run.state) || run.id === candidate.id) continue;
      const workingSet = this.#monitor.lastUsage(run.id) ?? 0;
      used += workingSet;
      running.push({ id: run.id, workingSet, expected: this.expected(run.peak).bytes });
    }
    const expected = this.expected(this.#runs.get(candidate.id)?.peak);
    const decision = admitByMemory({
      budget: memory.total,
      high: this.#monitor.thresholds.high,
      baseline: memory.used - used - (this.#freed.tick === memory ? this.#freed.bytes : 0),
      running,
      candidate: { id: candidate.id, expected: expected.bytes },
    });
    if (decision.admit) return true;
    const { reserved, baseline, limit, free } = decision;
    const why =
      `agent ${candidate.id} waits for memory: expected ${formatBytes(expected.bytes)} (${expected.source}), ` +
      `${formatBytes(Math.max(0, free))} free of ${formatBytes(limit)} (reserved ${formatBytes(reserved)}, outside the agents ${formatBytes(baseline)})`;
    return { why, memory: { expected: expected.bytes, source: expected.source, reserved, baseline, limit, free } };
  };
}
