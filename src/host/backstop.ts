/**
 * The kernel backstop on the agents' root, kept in step with the budget outside it. A pod resized
 * in place or a slice's MemoryMax= changed moves the budget; limits written once at start() would
 * then be too large (the container's OOM killer, not the root's, would choose victims, among them
 * the orchestrator) or too small (agents killed for memory the host has). The limits are derived
 * again from what lies outside the root — its ancestors' limits, MemTotal, the `budget` option —
 * never from the root's own limit: that is what this writes, and a budget read through it could
 * only ever shrink.
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import { BUDGET_REFRESH_MS } from '../monitor/host-memory.js';
import type { AgentsRootLimits } from '../setup/reserve.js';
import type { Logger } from './logger.js';
import { backstopLimits, parentOf, writeRootLimits, type Placement, type PlacementOptions } from './placement.js';

/** Where the follower reports: a failed look-up or write (an `error` event of the host), and what it re-wrote (the log). */
export interface BackstopReport {
  error(error: Error): void;
  log?: Logger;
}

/**
 * Re-derives the root's limits with the same arithmetic as start() (every {@link BUDGET_REFRESH_MS},
 * the monitor's own re-read of the budget) and re-writes them, with the same writer, when they
 * changed. Made by {@link RootBackstop.follow} only for limits the host derived and wrote itself.
 */
export class RootBackstop {
  readonly #root: Cgroup;
  readonly #parent: Cgroup;
  readonly #options: PlacementOptions;
  readonly #report: BackstopReport;
  readonly #procRoot: string;
  #limits: AgentsRootLimits;
  /** The limits a failed attempt aimed at: the same failure is reported once, and tried again quietly. */
  #failed: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(root: Cgroup, written: AgentsRootLimits, options: PlacementOptions, report: BackstopReport, procRoot = '/proc') {
    this.#root = root;
    this.#parent = parentOf(root);
    this.#limits = written;
    this.#options = options;
    this.#report = report;
    this.#procRoot = procRoot;
  }

  /**
   * A started follower of `placement`'s backstop, or `undefined` where there is nothing to follow:
   * no limits written (`agentsMemoryMax: false`, or the write failed at start()) or an explicit
   * `agentsMemoryMax` (a fixed size is the caller's to keep).
   */
  static follow(placement: Placement, options: PlacementOptions, report: BackstopReport): RootBackstop | undefined {
    const { backstop } = placement;
    if (options.agentsMemoryMax !== undefined || backstop === undefined || 'error' in backstop) return undefined;
    return new RootBackstop(placement.root, backstop, options, report).start();
  }

  /** The limits on the root now (as last written). */
  get limits(): AgentsRootLimits {
    return this.#limits;
  }

  /** Checks every {@link BUDGET_REFRESH_MS}; the timer does not keep the process alive. */
  start(): this {
    this.#timer ??= setInterval(() => this.refresh(), BUDGET_REFRESH_MS).unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Derives the limits again and writes them if they changed; `true` when it wrote. Failures go to the report. */
  refresh(): boolean {
    let next: AgentsRootLimits | undefined;
    try {
      next = backstopLimits({ parent: this.#parent }, this.#options, this.#procRoot);
      if (next === undefined || (next.memoryMax === this.#limits.memoryMax && next.memoryHigh === this.#limits.memoryHigh)) return false;
      writeRootLimits(this.#root, next);
    } catch (error) {
      // v1 refuses to shrink a limit below what the group holds (EBUSY): tried again at the next check.
      const target = next ? `${next.memoryMax}/${next.memoryHigh}` : 'budget';
      if (this.#failed !== target) this.#report.error(error as Error);
      this.#failed = target;
      return false;
    }
    this.#report.log?.info({ root: this.#root.path, from: this.#limits, to: next }, "the budget outside the agents' root changed: its limits follow");
    this.#limits = next;
    this.#failed = undefined;
    return true;
  }
}
