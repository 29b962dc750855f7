/**
 * One agent's armed timeouts: soft → hard → grace → kill, driven by a single Node timer that is
 * always set for the next step only, so hundreds of agents cost hundreds of timers, not more.
 */
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseDuration, type Duration } from '../util/duration.js';
import type { ResolvedTimeoutOptions } from './options.js';

/** What a timeout fired at. `deadline` is wall-clock time (ms since the epoch), as `Date.now()`. */
export interface TimeoutInfo {
  /** Time since the run started, in ms, when the timeout fired. */
  elapsedMs: number;
  deadline: number;
}

/**
 * What an armed timer acts on: the host implements it over one agent. Every method may throw or
 * reject; such errors go to {@link ArmOptions.onError} and never stop the sequence.
 */
export interface TimeoutTarget {
  /** Sends `signal` to the agent's main process. */
  signalMain(signal: NodeJS.Signals): void;
  /** Sends `signal` to every process in the agent's cgroup. */
  signalAll(signal: NodeJS.Signals): void;
  /** Kills the agent's whole cgroup (`Cgroup.kill`), if anything is still alive: the target decides. */
  killAll(): Promise<void>;
  /** The soft timeout fired; called just before the soft signal is sent. */
  onSoftTimeout(info: TimeoutInfo): void;
  /** The hard timeout fired; called just before the hard signal, so the exit it causes is already known as a timeout. */
  onHardTimeout(info: TimeoutInfo): void;
}

/** Options of {@link TimeoutPolicy.arm}. */
export interface ArmOptions {
  /**
   * Receives what a target method threw or rejected with. Default: such errors are dropped,
   * because a timer callback has no caller to give them to, and an unhandled rejection would
   * take the orchestrator down for one agent's failed `kill(2)`.
   */
  onError?: (error: unknown) => void;
}

/** What the timer waits for next: `done` once the kill was started, it was cleared, or nothing is left. */
export type TimeoutPhase = 'soft' | 'hard' | 'grace' | 'done';

/** The running timeouts of one agent, from {@link TimeoutPolicy.arm}. */
export interface TimeoutTimer {
  /** When the run started (ms since the epoch). */
  readonly startedAt: number;
  /** When the soft timeout fires (or fired); `undefined` without one. */
  readonly softDeadline: number | undefined;
  /** When the hard timeout fires (or fired); `undefined` without one. */
  readonly hardDeadline: number | undefined;
  readonly phase: TimeoutPhase;
  /** Whether something is still to fire. `false` after {@link clear}. */
  readonly pending: boolean;
  /**
   * Pushes the deadlines still to come out by `ms` (a {@link Duration} >= 0): both before the soft
   * timeout, the hard one after it. A soft timeout that fired is not sent again. Throws
   * `ERR_TIMEOUT_EXPIRED` once the hard timeout fired; does nothing after {@link clear}.
   */
  extend(ms: Duration): void;
  /** Stops everything: nothing fires afterwards. Call it when the agent exits. Idempotent. */
  clear(): void;
}

// setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days); longer waits go in steps.
const MAX_DELAY = 2 ** 31 - 1;

export class ArmedTimeout implements TimeoutTimer {
  readonly startedAt: number;
  readonly #options: ResolvedTimeoutOptions;
  readonly #target: TimeoutTarget;
  readonly #onError: ((error: unknown) => void) | undefined;
  // Monotonic clock: a wall-clock step (NTP, suspend) must not fire or hold back a timeout.
  readonly #origin: number;
  // Offsets from the start of the run, in ms.
  #softAt: number | undefined;
  #hardAt: number | undefined;
  #killAt = 0;
  #phase: TimeoutPhase;
  #hardFired = false;
  #cleared = false;
  #handle: NodeJS.Timeout | undefined;

  constructor(options: ResolvedTimeoutOptions, target: TimeoutTarget, arm: ArmOptions = {}) {
    this.#options = options;
    this.#target = target;
    this.#onError = arm.onError;
    this.startedAt = Date.now();
    this.#origin = performance.now();
    this.#softAt = options.soft;
    this.#hardAt = options.hard;
    this.#phase = options.soft !== undefined ? 'soft' : options.hard !== undefined ? 'hard' : 'done';
    this.#schedule();
  }

  get softDeadline(): number | undefined {
    return this.#softAt === undefined ? undefined : this.startedAt + this.#softAt;
  }

  get hardDeadline(): number | undefined {
    return this.#hardAt === undefined ? undefined : this.startedAt + this.#hardAt;
  }

  get phase(): TimeoutPhase {
    return this.#phase;
  }

  get pending(): boolean {
    return this.#handle !== undefined;
  }

  extend(ms: Duration): void {
    const by = parseDuration(ms, 'timeout extension');
    if (this.#cleared) return;
    if (this.#hardFired) {
      throw new AgentHostError(ErrorCode.TIMEOUT_EXPIRED, 'cannot extend the timeout: the hard timeout already fired');
    }
    if (this.#phase === 'done') return; // a soft-only timeout that fired: nothing left to push
    if (this.#phase === 'soft' && this.#softAt !== undefined) this.#softAt += by;
    if (this.#hardAt !== undefined) this.#hardAt += by;
    this.#schedule();
  }

  clear(): void {
    this.#cleared = true;
    this.#phase = 'done';
    this.#cancel();
  }

  #elapsed(): number {
    return performance.now() - this.#origin;
  }

  /** Offset of the next step, or `undefined` when nothing is left. */
  #next(): number | undefined {
    switch (this.#phase) {
      case 'soft':
        return this.#softAt;
      case 'hard':
        return this.#hardAt;
      case 'grace':
        return this.#killAt;
      case 'done':
        return undefined;
    }
  }

  #cancel(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
  }

  #schedule(): void {
    this.#cancel();
    const at = this.#next();
    if (at === undefined) return;
    const delay = Math.min(Math.max(0, at - this.#elapsed()), MAX_DELAY);
    this.#handle = setTimeout(this.#tick, delay);
    // A finished orchestrator must be free to exit; a running agent keeps it alive anyway.
    this.#handle.unref();
  }

  readonly #tick = (): void => {
    this.#handle = undefined;
    const at = this.#next();
    if (at === undefined) return;
    const elapsed = this.#elapsed();
    // Node may fire a timer up to a millisecond early, and long waits go in MAX_DELAY steps.
    if (elapsed < at) return this.#schedule();
    switch (this.#phase) {
      case 'soft':
        this.#phase = this.#hardAt !== undefined ? 'hard' : 'done';
        this.#fireSoft(elapsed, at);
        break;
      case 'hard':
        this.#phase = 'grace';
        this.#hardFired = true;
        // Grace counts from the signal actually sent, not from the deadline, should the loop have been late.
        this.#killAt = elapsed + this.#options.grace;
        this.#fireHard(elapsed, at);
        break;
      case 'grace':
        this.#phase = 'done';
        this.#guard(() => this.#target.killAll());
        break;
    }
    // A callback may have cleared or extended the timer; the phase says what is left.
    if (this.#handle === undefined) this.#schedule();
  };

  #fireSoft(elapsed: number, at: number): void {
    this.#guard(() => this.#target.onSoftTimeout({ elapsedMs: elapsed, deadline: this.startedAt + at }));
    if (this.#cleared) return; // cleared by the callback: the agent is gone
    const { softSignal, softTarget } = this.#options;
    this.#guard(() => (softTarget === 'all' ? this.#target.signalAll(softSignal) : this.#target.signalMain(softSignal)));
  }

  #fireHard(elapsed: number, at: number): void {
    this.#guard(() => this.#target.onHardTimeout({ elapsedMs: elapsed, deadline: this.startedAt + at }));
    if (this.#cleared) return; // cleared by the callback
    this.#guard(() => this.#target.signalAll(this.#options.hardSignal));
  }

  /** Runs a target method; a throw or a rejection goes to onError, never further. */
  #guard(call: () => unknown): void {
    try {
      const result = call();
      if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
        Promise.resolve(result).catch((error: unknown) => this.#report(error));
      }
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    try {
      this.#onError?.(error);
    } catch {
      // onError is the last resort; a throw from it has nowhere left to go.
    }
  }
}
