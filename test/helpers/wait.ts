/**
 * Waiting for the kernel: conditions that become true "soon" (a process joins, a cgroup
 * empties, an OOM kill is counted) are polled with a generous timeout instead of sleeping a
 * fixed time, so the tests are fast on a quiet host and still pass on a slow or loaded one.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Give up after this many ms. Default 10 000. */
  timeout?: number;
  /** Poll every this many ms. Default 20. */
  interval?: number;
  /** What is awaited, for the timeout message. Default: the predicate's source. */
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value and resolves with that value; rejects
 * after `timeout` ms with a message naming what was awaited and the last value or error seen.
 * Errors thrown by `predicate` count as "not yet" (a file may not exist yet).
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeout = options.timeout ?? 10_000;
  const interval = options.interval ?? 20;
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const what = options.message ?? predicate.toString();
      const seen = last instanceof Error ? `${last.name}: ${last.message}` : JSON.stringify(last);
      throw new Error(`waitFor timed out after ${timeout} ms: ${what} (last: ${seen})`);
    }
    await sleep(interval);
  }
}

/** Resolves with the first emission of `event` (its arguments), or rejects after `timeout` ms. */
export function nextEvent<A extends unknown[]>(
  emitter: { once(event: string, listener: (...args: A) => void): unknown; off(event: string, listener: (...args: A) => void): unknown },
  event: string,
  timeout = 10_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const listener = (...args: A): void => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' event within ${timeout} ms`));
    }, timeout);
    emitter.once(event, listener);
  });
}
