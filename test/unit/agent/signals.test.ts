/**
 * onTimeoutSignals in this process, with the signals emitted as events (process.emit) rather than
 * sent by the kernel: a stray real SIGTERM would end the test worker. The integration test sends
 * real ones to a child.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { onTimeoutSignals, type TimeoutSignals } from '../../../src/agent/index.js';

let exit: MockInstance<typeof process.exit>;
const handles: TimeoutSignals[] = [];
const baseline = { SIGUSR1: 0, SIGTERM: 0, SIGUSR2: 0, SIGINT: 0 };

beforeEach(() => {
  exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
  for (const name of Object.keys(baseline) as Array<keyof typeof baseline>) baseline[name] = process.listenerCount(name);
});
afterEach(() => {
  for (const handle of handles.splice(0)) handle.dispose();
  exit.mockRestore();
  for (const name of Object.keys(baseline) as Array<keyof typeof baseline>) expect(process.listenerCount(name)).toBe(baseline[name]);
});

function install(options: Parameters<typeof onTimeoutSignals>[0]): TimeoutSignals {
  const handle = onTimeoutSignals(options);
  handles.push(handle);
  return handle;
}

const send = (signal: NodeJS.Signals): boolean => process.emit(signal, signal);
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('onTimeoutSignals', () => {
  it('soft: aborts `signal` with a TimeoutError, then runs onSoft once', () => {
    const calls: string[] = [];
    const handle = install({ onSoft: (s) => calls.push(`soft:${s}:${handle.signal.aborted}`) });
    expect(handle.signal.aborted).toBe(false);
    send('SIGUSR1');
    expect(handle.signal.aborted).toBe(true);
    expect(handle.signal.reason).toBeInstanceOf(DOMException);
    expect(handle.signal.reason).toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('SIGUSR1') });
    expect(() => handle.signal.throwIfAborted()).toThrow(/soft timeout/);
    expect(handle.hardSignal.aborted).toBe(false);
    send('SIGUSR1');
    expect(calls).toEqual(['soft:SIGUSR1:true']);
    expect(exit).not.toHaveBeenCalled();
  });

  it('hard: aborts both signals, awaits onHard, then exits 0 (the seed\'s exit(0))', async () => {
    let finish!: () => void;
    const onHard = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const onSoft = vi.fn();
    const handle = install({ onSoft, onHard });
    send('SIGTERM');
    expect(handle.hardSignal.aborted).toBe(true);
    expect(handle.signal.aborted).toBe(true); // the work loop stops even without a soft warning
    expect(handle.signal.reason).toMatchObject({ name: 'TimeoutError', message: expect.stringContaining('hard timeout') });
    expect(onSoft).not.toHaveBeenCalled();
    expect(onHard).toHaveBeenCalledWith('SIGTERM');
    await flush();
    expect(exit).not.toHaveBeenCalled(); // still saving
    finish();
    await flush();
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
  });

  it('hard without onHard exits right away; exitCode chooses the status', async () => {
    install({ exitCode: 3 });
    send('SIGTERM');
    await flush();
    expect(exit).toHaveBeenCalledExactlyOnceWith(3);
  });

  it('exitCode false: the process stays; the harness decides', async () => {
    const onHard = vi.fn();
    const handle = install({ onHard, exitCode: false });
    send('SIGTERM');
    send('SIGTERM');
    await flush();
    expect(handle.hardSignal.aborted).toBe(true);
    expect(onHard).toHaveBeenCalledOnce();
    expect(exit).not.toHaveBeenCalled();
  });

  it('a second hard signal while onHard still runs exits at once', async () => {
    const onHard = vi.fn(() => new Promise<void>(() => {}));
    install({ onHard });
    send('SIGTERM');
    await flush();
    expect(exit).not.toHaveBeenCalled();
    send('SIGTERM');
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    expect(onHard).toHaveBeenCalledOnce();
  });

  it('other signals by option', async () => {
    const onSoft = vi.fn();
    const handle = install({ onSoft, softSignal: 'SIGUSR2', hardSignal: 'SIGINT', exitCode: 130 });
    expect(process.listenerCount('SIGUSR1')).toBe(baseline.SIGUSR1);
    expect(process.listenerCount('SIGTERM')).toBe(baseline.SIGTERM);
    send('SIGUSR2');
    expect(onSoft).toHaveBeenCalledWith('SIGUSR2');
    send('SIGINT');
    await flush();
    expect(handle.hardSignal.aborted).toBe(true);
    expect(exit).toHaveBeenCalledWith(130);
  });

  it('dispose removes its listeners (default handling back) and cancels a pending exit', async () => {
    let finish!: () => void;
    const handle = install({ onHard: () => new Promise<void>((resolve) => (finish = resolve)) });
    expect(process.listenerCount('SIGUSR1')).toBe(baseline.SIGUSR1 + 1);
    expect(process.listenerCount('SIGTERM')).toBe(baseline.SIGTERM + 1);
    send('SIGTERM');
    handle.dispose();
    handle[Symbol.dispose]();
    expect(process.listenerCount('SIGUSR1')).toBe(baseline.SIGUSR1);
    expect(process.listenerCount('SIGTERM')).toBe(baseline.SIGTERM);
    finish();
    await flush();
    expect(exit).not.toHaveBeenCalled();
  });

  it('`using` disposes it', () => {
    {
      using handle = onTimeoutSignals();
      expect(handle.signal.aborted).toBe(false);
      expect(process.listenerCount('SIGTERM')).toBe(baseline.SIGTERM + 1);
    }
    expect(process.listenerCount('SIGTERM')).toBe(baseline.SIGTERM);
  });

  it.each([
    [{ softSignal: 'SIGKILL' }],
    [{ hardSignal: 'SIGSTOP' }],
    [{ softSignal: 'SIGNOPE' }],
    [{ softSignal: 'toString' }],
    [{ softSignal: 'SIGTERM' }],
    [{ exitCode: 256 }],
    [{ exitCode: 1.5 }],
    [{ exitCode: true }],
  ])('refuses %o with ERR_INVALID_OPTION and installs nothing', (options) => {
    expect(() => onTimeoutSignals(options as never)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_OPTION' }));
  });

  it('refuses hooks that are not functions', () => {
    expect(() => onTimeoutSignals({ onHard: 'save' as never })).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_OPTION' }));
  });
});
