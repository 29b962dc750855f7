/**
 * `onPressure`: polls the agent's memory usage and calls back when it crosses its threshold, so
 * a harness can drop caches or pause work before the kernel throttles or OOM-kills it.
 */
import { invalidOption } from './errors.js';
import { findAgentCgroup, type AgentOptions } from './locate.js';
import { memoryUsage, validateThreshold, type MemoryUsage } from './memory.js';

/** Options of {@link onPressure}. */
export interface PressureOptions extends AgentOptions {
  /** Fraction of the limit (`ratio`) above which usage counts as pressure. Default 0.8, in (0, 1]. */
  threshold?: number;
  /**
   * How far below `threshold` usage must fall before a `below` event, so usage hovering at the
   * threshold does not call back on every poll. Default 0.05, in [0, threshold).
   */
  hysteresis?: number;
  /** Time between two readings. Default 1000 ms, at least 10. */
  intervalMs?: number;
  /** Stops polling when it aborts (the same as `close()`). */
  signal?: AbortSignal;
}

/** What {@link onPressure} reports. */
export interface PressureEvent {
  /** `above`: usage crossed above the threshold. `below`: it came back under threshold − hysteresis. */
  state: 'above' | 'below';
  /** The reading that crossed (with PSI `pressure` on v2). */
  usage: MemoryUsage;
  threshold: number;
}

/** A running {@link onPressure} subscription. */
export interface PressureSubscription {
  /** Whether polling stopped (`close()`, dispose, or the signal aborted). */
  readonly closed: boolean;
  /** Stops polling; no callback runs afterwards. Idempotent. */
  close(): void;
  /** Same as `close()`, for `using subscription = onPressure(…)`. */
  [Symbol.dispose](): void;
}

/**
 * Calls `callback` when the agent's memory usage crosses `threshold` of its limit: once with
 * `state: 'above'` when it rises past it (also at the first reading, if already above), and once
 * with `state: 'below'` when it falls back under `threshold − hysteresis`; nothing while it stays
 * on one side. The first reading is taken right away (on the next turn of the event loop), then
 * every `intervalMs`. An agent without a memory limit has `ratio` 0 and never gets a call.
 *
 * The timer is `unref`ed: polling never keeps the process alive. Errors thrown by `callback` are
 * not caught (as with an event listener); a rejected promise it returns is left to the process's
 * unhandled-rejection handling.
 *
 * @throws RangeError (`code: 'ERR_INVALID_OPTION'`) for an option outside its range.
 */
export function onPressure(callback: (event: PressureEvent) => void, options: PressureOptions = {}): PressureSubscription {
  if (typeof callback !== 'function') throw invalidOption('callback must be a function', 'type');
  const threshold = options.threshold ?? 0.8;
  validateThreshold(threshold);
  const hysteresis = options.hysteresis ?? 0.05;
  if (typeof hysteresis !== 'number' || !(hysteresis >= 0 && hysteresis < threshold)) {
    throw invalidOption(`hysteresis must be a number in [0, threshold), got ${String(hysteresis)}`);
  }
  const intervalMs = options.intervalMs ?? 1000;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 10) {
    throw invalidOption(`intervalMs must be a finite number of at least 10, got ${String(intervalMs)}`);
  }

  // Looked up once: a poll then costs only the reads of the cgroup's own files.
  const agentCgroup = findAgentCgroup(options) ?? null;
  let closed = false;
  let above = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const close = (): void => {
    if (closed) return;
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    options.signal?.removeEventListener('abort', close);
  };
  const schedule = (delay: number): void => {
    timer = setTimeout(poll, delay);
    timer.unref();
  };
  const poll = (): void => {
    timer = undefined;
    if (closed) return;
    // Scheduled before the callback runs, so a callback that throws does not end the polling
    // (and one that calls close() clears this timer).
    schedule(intervalMs);
    const usage = memoryUsage({ procRoot: options.procRoot, agentCgroup });
    if (!above && usage.ratio > threshold) {
      above = true;
      callback({ state: 'above', usage, threshold });
    } else if (above && usage.ratio < threshold - hysteresis) {
      above = false;
      callback({ state: 'below', usage, threshold });
    }
  };

  const subscription: PressureSubscription = {
    get closed() {
      return closed;
    },
    close,
    [Symbol.dispose]: close,
  };
  if (options.signal?.aborted) {
    closed = true;
    return subscription;
  }
  options.signal?.addEventListener('abort', close, { once: true });
  schedule(0);
  return subscription;
}
