/**
 * One agent's armed timeouts: soft, then hard, driven by a single Node timer that is always set
 * for the next step only, so hundreds of agents cost hundreds of timers, not more. The timer only
 * fires: stopping the agent at its hard timeout is the target's job (the host's one stop path),
 * so there is one grace-then-kill sequence, not one here and another in the host.
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

/** What the hard timeout fired at, and how the target is to stop the agent. */
export interface HardTimeoutInfo extends TimeoutInfo {
  /** The policy's hard signal, sent to every process first. */
  signal: NodeJS.Signals;
  /** Ms from that signal to killing the cgroup. */
  grace: number;
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
  /**
   * @deprecated Stop the agent in {@link onHardTimeout} instead. Only when given does the timer
   * itself send the hard signal to every process and call this after the grace period (the old
   * sequence, kept for targets written for it).
   */
  killAll?(): Promise<void>;
  /** The soft timeout fired; called just before the soft signal is sent. */
  onSoftTimeout(info: TimeoutInfo): void;
  /**
   * The hard timeout fired: the target stops the agent (the hard signal to every process, the
   * cgroup killed after the grace period; both are in `info`). With the deprecated
   * {@link killAll}, called just before the timer sends the hard signal itself.
   */
  onHardTimeout(info: HardTimeoutInfo): void;
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

/**
 * What the timer waits for next: `done` once the hard timeout fired (or, with the deprecated
 * `killAll`, once the kill was started), it was cleared, or nothing is left.
 */
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
  /**
   * Stops the clock (the agent is frozen): the time until {@link resume} does not count, so every
   * deadline still to come moves out by it. Idempotent.
   */
  pause(): void;
  /** Starts the clock again after {@link pause}. Idempotent. */
  resume(): void;
  /** Whether the clock is paused. */
  readonly paused: boolean;
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
  /** When the clock was paused (monotonic ms), while it is. */
  #pausedAt: number | undefined;
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
    this.#shift(by);
  }

  /** Moves the deadlines still to come out by `by` ms. */
  #shift(by: number): void {
    if (this.#phase === 'soft' && this.#softAt !== undefined) this.#softAt += by;
    if ((this.#phase === 'soft' || this.#phase === 'hard') && this.#hardAt !== undefined) this.#hardAt += by;
    if (this.#phase === 'grace') this.#killAt += by;
    this.#schedule();
  }

  get paused(): boolean {
    return this.#pausedAt !== undefined;
  }

  pause(): void {
    if (this.#pausedAt !== undefined || this.#cleared) return;
    this.#pausedAt = performance.now();
    this.#cancel();
  }

  resume(): void {
    if (this.#pausedAt === undefined) return;
    const pausedFor = performance.now() - this.#pausedAt;
    this.#pausedAt = undefined;
    this.#shift(pausedFor);
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
    if (at === undefined || this.#pausedAt !== undefined) return;
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
        this.#phase = this.#target.killAll ? 'grace' : 'done';
        this.#hardFired = true;
        // Grace counts from the signal actually sent, not from the deadline, should the loop have been late.
        this.#killAt = elapsed + this.#options.grace;
        this.#fireHard(elapsed, at);
        break;
      case 'grace':
        this.#phase = 'done';
        this.#guard(() => this.#target.killAll?.());
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
    const { hardSignal: signal, grace } = this.#options;
    this.#guard(() => this.#target.onHardTimeout({ elapsedMs: elapsed, deadline: this.startedAt + at, signal, grace }));
    if (this.#cleared || !this.#target.killAll) return; // cleared by the callback, or the target stops the agent itself
    this.#guard(() => this.#target.signalAll(signal));
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
