/**
 * `onTimeoutSignals`: the host's timeout contract seen from inside the agent. The soft signal
 * (SIGUSR1, at 15 min) means "wrap up": an AbortSignal aborts so the work loop stops and saves
 * state. The hard signal (SIGTERM, at 30 min) means "stop now": save what can be saved and
 * `exit(0)` within the grace period.
 */
import { constants } from 'node:os';
import { invalidOption } from './errors.js';

/** Options of {@link onTimeoutSignals}. */
export interface TimeoutSignalsOptions {
  /** Runs once, on the first soft signal, after `signal` has aborted. */
  onSoft?: (signal: NodeJS.Signals) => void;
  /**
   * Runs once, on the first hard signal: save state here. The process exits (see `exitCode`)
   * once it returns or its promise settles.
   */
  onHard?: (signal: NodeJS.Signals) => void | Promise<void>;
  /** The "wrap up" signal. Default `SIGUSR1` (the host's default soft signal). */
  softSignal?: NodeJS.Signals;
  /** The "stop now" signal. Default `SIGTERM` (the host's default hard signal). */
  hardSignal?: NodeJS.Signals;
  /**
   * The exit code after the hard signal, once `onHard` settled; `false` keeps the process alive
   * (the harness then stops on its own, or the host kills it when its grace period ends).
   * Default 0: the agent stopped as asked. A second hard signal while `onHard` still runs exits at
   * once with this code.
   */
  exitCode?: number | false;
}

/** What {@link onTimeoutSignals} returns. */
export interface TimeoutSignals {
  /**
   * Aborts on the soft signal (or on the hard one, if it comes first): pass it to the work loop.
   * Its `reason` is a `DOMException` named `TimeoutError`, like `AbortSignal.timeout()`'s.
   */
  readonly signal: AbortSignal;
  /** Aborts on the hard signal. */
  readonly hardSignal: AbortSignal;
  /**
   * Removes the listeners, giving the signals back their default handling (Node terminates on
   * SIGTERM and starts the inspector on SIGUSR1), and cancels a pending exit. Idempotent.
   */
  dispose(): void;
  /** Same as `dispose()`, for `using timeouts = onTimeoutSignals(…)`. */
  [Symbol.dispose](): void;
}

/** Signals a process cannot handle. */
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP']);

/**
 * Handles the host's timeout signals. Listening to a signal replaces Node's default action for it
 * (for SIGTERM: terminate), so this helper takes over that duty explicitly: on the hard signal it
 * runs `onHard`, then exits with `exitCode` (default 0) unless told not to. A throwing or rejecting
 * `onHard` sets exit code 1 and surfaces as an uncaught exception instead.
 *
 * @throws RangeError (`code: 'ERR_INVALID_OPTION'`) for an unknown or uncatchable signal, the same
 * signal for both, or an exit code that is not an integer in 0–255.
 */
export function onTimeoutSignals(options: TimeoutSignalsOptions = {}): TimeoutSignals {
  const softName = options.softSignal ?? 'SIGUSR1';
  const hardName = options.hardSignal ?? 'SIGTERM';
  validateSignal(softName, 'softSignal');
  validateSignal(hardName, 'hardSignal');
  if (softName === hardName) throw invalidOption(`softSignal and hardSignal must differ (both ${softName})`);
  const exitCode = options.exitCode ?? 0;
  if (exitCode !== false && !(Number.isInteger(exitCode) && exitCode >= 0 && exitCode <= 255)) {
    throw invalidOption(`exitCode must be an integer in 0-255 or false, got ${String(exitCode)}`);
  }
  for (const [name, hook] of [['onSoft', options.onSoft], ['onHard', options.onHard]] as const) {
    if (hook !== undefined && typeof hook !== 'function') throw invalidOption(`${name} must be a function`, 'type');
  }

  const soft = new AbortController();
  const hard = new AbortController();
  let disposed = false;
  let softSeen = false;

  const onSoftSignal = (signal: NodeJS.Signals): void => {
    // Later soft signals are swallowed: the listener stays so they do not start the inspector.
    if (softSeen) return;
    softSeen = true;
    if (!soft.signal.aborted) soft.abort(timeoutError(`soft timeout: received ${signal}, wrap up`));
    options.onSoft?.(signal);
  };

  const exit = (): void => {
    if (!disposed && exitCode !== false) process.exit(exitCode);
  };
  const onHardSignal = (signal: NodeJS.Signals): void => {
    if (hard.signal.aborted) {
      // Asked twice: whoever sends it again will not wait for onHard to finish.
      exit();
      return;
    }
    const reason = timeoutError(`hard timeout: received ${signal}, stop now`);
    if (!soft.signal.aborted) soft.abort(reason);
    hard.abort(reason);
    let result: void | Promise<void>;
    try {
      result = options.onHard?.(signal);
    } catch (error) {
      fail(error);
      return;
    }
    Promise.resolve(result).then(exit, fail);
  };

  process.on(softName, onSoftSignal);
  process.on(hardName, onHardSignal);
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    process.off(softName, onSoftSignal);
    process.off(hardName, onHardSignal);
  };
  return { signal: soft.signal, hardSignal: hard.signal, dispose, [Symbol.dispose]: dispose };
}

/** Throws `ERR_INVALID_OPTION` unless `name` is a signal a process can handle. */
export function validateSignal(name: unknown, option: string): asserts name is NodeJS.Signals {
  if (typeof name !== 'string' || !Object.hasOwn(constants.signals, name) || UNCATCHABLE.has(name)) {
    throw invalidOption(`${option} must be the name of a signal a process can handle (like "SIGUSR1"), got ${String(name)}`);
  }
}

function timeoutError(message: string): DOMException {
  return new DOMException(message, 'TimeoutError');
}

/** onHard failed: the process must not report success, and the error must not vanish. */
function fail(error: unknown): void {
  process.exitCode = 1;
  process.nextTick(() => {
    throw error;
  });
}
