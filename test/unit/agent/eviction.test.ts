/**
 * onEviction in this process, the notice emitted as an event (process.emit) rather than sent by
 * the kernel; the integration test sends a real one to a child.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { onEviction, type EvictionSubscription } from '../../../src/agent/index.js';

const handles: EvictionSubscription[] = [];
const baseline = { SIGUSR2: 0, SIGHUP: 0 };
beforeEach(() => {
  for (const name of Object.keys(baseline) as Array<keyof typeof baseline>) baseline[name] = process.listenerCount(name);
});
afterEach(() => {
  for (const handle of handles.splice(0)) handle.dispose();
  for (const name of Object.keys(baseline) as Array<keyof typeof baseline>) expect(process.listenerCount(name)).toBe(baseline[name]);
});

function install(...args: Parameters<typeof onEviction>): EvictionSubscription {
  const handle = onEviction(...args);
  handles.push(handle);
  return handle;
}
const send = (signal: NodeJS.Signals): boolean => process.emit(signal, signal);

describe('onEviction', () => {
  it('aborts `signal`, then calls the handler once with the notice (SIGUSR2 by default)', () => {
    const seen: Array<[string, boolean]> = [];
    const handle = install((notice) => void seen.push([notice.signal, handle.signal.aborted]));
    expect(process.listenerCount('SIGUSR2')).toBe(baseline.SIGUSR2 + 1);
    send('SIGUSR2');
    expect(handle.signal.aborted).toBe(true);
    expect(handle.signal.reason).toMatchObject({ name: 'AbortError', message: expect.stringContaining('evicted') });
    send('SIGUSR2');
    expect(seen).toEqual([['SIGUSR2', true]]);
  });

  it('listens to the configured signal; dispose gives the default handling back', () => {
    const handler = vi.fn();
    const handle = install(handler, { signal: 'SIGHUP' });
    expect(process.listenerCount('SIGUSR2')).toBe(baseline.SIGUSR2);
    send('SIGHUP');
    expect(handler).toHaveBeenCalledWith({ signal: 'SIGHUP', receivedAt: expect.any(Number) });
    handle.dispose();
    handle[Symbol.dispose]();
    expect(process.listenerCount('SIGHUP')).toBe(baseline.SIGHUP);
  });

  it('`using` disposes it', () => {
    {
      using handle = onEviction(() => {});
      expect(handle.signal.aborted).toBe(false);
      expect(process.listenerCount('SIGUSR2')).toBe(baseline.SIGUSR2 + 1);
    }
    expect(process.listenerCount('SIGUSR2')).toBe(baseline.SIGUSR2);
  });

  it('rejects a bad signal or handler with ERR_INVALID_OPTION', () => {
    expect(() => onEviction(() => {}, { signal: 'SIGKILL' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => onEviction(() => {}, { signal: 'SIGNOPE' as NodeJS.Signals })).toThrow(RangeError);
    expect(() => onEviction('nope' as never)).toThrow(TypeError);
  });
});
