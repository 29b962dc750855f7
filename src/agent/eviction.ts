/**
 * `onEviction`: the host's notice that it is about to kill this agent to relieve host memory
 * (not an emergency: the host waits a grace of 2–30 s, shorter the faster memory is running
 * out). A coding agent killed without a word loses its whole context; with the notice it can
 * save state, push a branch, or stop and exit on its own.
 */
import { invalidOption } from './errors.js';
import { validateSignal } from './signals.js';

/** Options of {@link onEviction}. */
export interface EvictionOptions {
  /** The signal the host sends as the notice. Default `SIGUSR2` (the host's default `eviction.signal`). */
  signal?: NodeJS.Signals;
}

/** What the handler of {@link onEviction} receives. */
export interface EvictionNotice {
  /** The signal that carried the notice. */
  signal: NodeJS.Signals;
  /** When it came, ms since the epoch. */
  receivedAt: number;
}

/** What {@link onEviction} returns. */
export interface EvictionSubscription {
  /**
   * Aborts on the notice, before the handler runs: pass it to the work loop. Its `reason` is a
   * `DOMException` named `AbortError` saying the agent is being evicted.
   */
  readonly signal: AbortSignal;
  /** Removes the listener, giving the signal back its default handling (SIGUSR2: terminate). Idempotent. */
  dispose(): void;
  /** Same as `dispose()`, for `using eviction = onEviction(…)`. */
  [Symbol.dispose](): void;
}

/**
 * Calls `handler` once, on the host's eviction notice. The process is not ended here: the host
 * kills it when the grace is over, or the handler may exit sooner once its state is safe (an
 * exit before the kill counts as the agent's own). A throwing or rejecting handler surfaces as
 * an uncaught exception. Later notices are swallowed (the listener stays, so they do not
 * terminate the process by default) until `dispose()`.
 *
 * @throws RangeError (`code: 'ERR_INVALID_OPTION'`) for an unknown or uncatchable signal; TypeError for a handler that is not a function.
 */
export function onEviction(handler: (notice: EvictionNotice) => void | Promise<void>, options: EvictionOptions = {}): EvictionSubscription {
  if (typeof handler !== 'function') throw invalidOption('handler must be a function', 'type');
  const name = options.signal ?? 'SIGUSR2';
  validateSignal(name, 'signal');
  const controller = new AbortController();
  let disposed = false;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    controller.abort(new DOMException(`evicted: received ${signal}, the host will kill this agent to relieve memory`, 'AbortError'));
    let result: void | Promise<void>;
    try {
      result = handler({ signal, receivedAt: Date.now() });
    } catch (error) {
      rethrow(error);
      return;
    }
    Promise.resolve(result).catch(rethrow);
  };

  process.on(name, onSignal);
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    process.off(name, onSignal);
  };
  return { signal: controller.signal, dispose, [Symbol.dispose]: dispose };
}

function rethrow(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}
