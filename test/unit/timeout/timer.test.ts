import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { TimeoutPolicy, type TimeoutOptions, type TimeoutTarget } from '../../../src/timeout/index.js';

/** A target that records every call with the fake time it happened at. */
function recorder(overrides: Partial<TimeoutTarget> = {}) {
  const start = Date.now();
  const calls: Array<[string, unknown, number]> = [];
  const record = (name: string) => (arg?: unknown) => {
    calls.push([name, arg, Date.now() - start]);
  };
  const target: TimeoutTarget = {
    signalMain: record('signalMain'),
    signalAll: record('signalAll'),
    killAll: async () => record('killAll')(),
    onSoftTimeout: record('soft'),
    onHardTimeout: record('hard'),
    ...overrides,
  };
  const names = () => calls.map(([name, arg]) => (typeof arg === 'string' ? `${name}:${arg}` : name));
  return { target, calls, names };
}

const short: TimeoutOptions = { soft: 300, hard: 800, grace: 300 };

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TimeoutTimer', () => {
  it('(deprecated killAll) runs soft, then hard, then grace, then kill, each at its deadline', async () => {
    const { target, calls, names } = recorder();
    const timer = new TimeoutPolicy(short).arm(target);
    expect(timer.startedAt).toBe(Date.now());
    expect(timer.softDeadline).toBe(timer.startedAt + 300);
    expect(timer.hardDeadline).toBe(timer.startedAt + 800);
    expect([timer.phase, timer.pending]).toEqual(['soft', true]);

    await vi.advanceTimersByTimeAsync(299);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(names()).toEqual(['soft', 'signalMain:SIGUSR1']);
    expect(calls[0]).toEqual(['soft', { elapsedMs: 300, deadline: timer.startedAt + 300 }, 300]);
    expect(timer.phase).toBe('hard');

    await vi.advanceTimersByTimeAsync(500);
    expect(names()).toEqual(['soft', 'signalMain:SIGUSR1', 'hard', 'signalAll:SIGTERM']);
    expect(calls[2]).toEqual(['hard', { elapsedMs: 800, deadline: timer.startedAt + 800, signal: 'SIGTERM', grace: 300 }, 800]);
    expect(timer.phase).toBe('grace');

    await vi.advanceTimersByTimeAsync(299);
    expect(calls).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls[4]).toEqual(['killAll', undefined, 1100]);
    expect([timer.phase, timer.pending]).toEqual(['done', false]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds one timer at a time, unref()ed', () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    new TimeoutPolicy(short).arm(recorder().target);
    expect(vi.getTimerCount()).toBe(1);
    const handle = spy.mock.results[0]!.value as NodeJS.Timeout;
    expect(handle.hasRef()).toBe(false);
    spy.mockRestore();
  });

  it('sends the soft signal to every process with softTarget all, and the configured signals', async () => {
    const { target, names } = recorder();
    new TimeoutPolicy({ ...short, softTarget: 'all', softSignal: 'SIGUSR2', hardSignal: 'SIGINT' }).arm(target);
    await vi.advanceTimersByTimeAsync(1100);
    expect(names()).toEqual(['soft', 'signalAll:SIGUSR2', 'hard', 'signalAll:SIGINT', 'killAll']);
  });

  it('skips what is switched off', async () => {
    const soft = recorder();
    const softOnly = new TimeoutPolicy({ soft: 300, hard: false }).arm(soft.target);
    const hard = recorder();
    new TimeoutPolicy({ soft: false, hard: 800, grace: 0 }).arm(hard.target);
    const none = new TimeoutPolicy({ soft: false, hard: false }).arm(recorder().target);
    expect([none.phase, none.pending, none.softDeadline, none.hardDeadline]).toEqual(['done', false, undefined, undefined]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(soft.names()).toEqual(['soft', 'signalMain:SIGUSR1']);
    expect([softOnly.phase, softOnly.pending]).toEqual(['done', false]);
    expect(hard.names()).toEqual(['hard', 'signalAll:SIGTERM', 'killAll']);
    // grace 0: the kill follows the signal one timer turn later (setTimeout(0) is 1 ms in Node).
    expect(hard.calls.map((c) => c[2])).toEqual([800, 800, 801]);
  });

  it('an agent that exits before the soft deadline gets no signal', async () => {
    const { target, calls } = recorder();
    const timer = new TimeoutPolicy(short).arm(target);
    await vi.advanceTimersByTimeAsync(100);
    timer.clear();
    timer.clear();
    expect([timer.phase, timer.pending]).toEqual(['done', false]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual([]);
  });

  it('clear() after the soft timeout stops the hard one; during grace it stops the kill', async () => {
    const a = recorder();
    const afterSoft = new TimeoutPolicy(short).arm(a.target);
    const b = recorder();
    const inGrace = new TimeoutPolicy(short).arm(b.target);
    await vi.advanceTimersByTimeAsync(400);
    afterSoft.clear();
    await vi.advanceTimersByTimeAsync(500);
    inGrace.clear();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(a.names()).toEqual(['soft', 'signalMain:SIGUSR1']);
    expect(b.names()).toEqual(['soft', 'signalMain:SIGUSR1', 'hard', 'signalAll:SIGTERM']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('extend() before the soft timeout pushes both deadlines', async () => {
    const { target, calls } = recorder();
    const timer = new TimeoutPolicy(short).arm(target);
    await vi.advanceTimersByTimeAsync(200);
    timer.extend(1000);
    timer.extend('500ms');
    expect(timer.softDeadline).toBe(timer.startedAt + 1800);
    expect(timer.hardDeadline).toBe(timer.startedAt + 2300);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls.map(([name, , at]) => [name, at])).toEqual([
      ['soft', 1800],
      ['signalMain', 1800],
      ['hard', 2300],
      ['signalAll', 2300],
      ['killAll', 2600],
    ]);
  });

  it('extend() after the soft timeout re-arms the hard one only', async () => {
    const { target, calls } = recorder();
    const timer = new TimeoutPolicy(short).arm(target);
    await vi.advanceTimersByTimeAsync(500);
    timer.extend(1000);
    expect(timer.softDeadline).toBe(timer.startedAt + 300);
    expect(timer.hardDeadline).toBe(timer.startedAt + 1800);
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls.map(([name, , at]) => [name, at])).toEqual([
      ['soft', 300],
      ['signalMain', 300],
      ['hard', 1800],
      ['signalAll', 1800],
      ['killAll', 2100],
    ]);
  });

  it('extend() from the soft callback moves the hard deadline', async () => {
    const rec = recorder();
    const timer = new TimeoutPolicy(short).arm({ ...rec.target, onSoftTimeout: () => timer.extend(1000) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(rec.names()).toEqual(['signalMain:SIGUSR1']);
    await vi.advanceTimersByTimeAsync(800);
    expect(rec.names()).toEqual(['signalMain:SIGUSR1', 'hard', 'signalAll:SIGTERM']);
  });

  it('extend() is refused once the hard timeout fired, ignored after clear(), and validated', async () => {
    const timer = new TimeoutPolicy(short).arm(recorder().target);
    expect(() => timer.extend(-1)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_DURATION }));
    expect(() => timer.extend(Number.NaN)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_DURATION }));
    expect(() => timer.extend('later')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_DURATION }));
    await vi.advanceTimersByTimeAsync(900);
    expect(() => timer.extend(1000)).toThrow(expect.objectContaining({ code: ErrorCode.TIMEOUT_EXPIRED }));
    await vi.advanceTimersByTimeAsync(300);
    expect(() => timer.extend(1000)).toThrow(expect.objectContaining({ code: ErrorCode.TIMEOUT_EXPIRED }));

    const cleared = new TimeoutPolicy(short).arm(recorder().target);
    cleared.clear();
    cleared.extend(1000);
    expect(cleared.pending).toBe(false);
  });

  it('a callback that clears the timer stops the signal that would follow', async () => {
    const rec = recorder();
    const timer = new TimeoutPolicy(short).arm({ ...rec.target, onHardTimeout: () => timer.clear() });
    await vi.advanceTimersByTimeAsync(5000);
    expect(rec.names()).toEqual(['soft', 'signalMain:SIGUSR1']);
    expect(timer.pending).toBe(false);
  });

  it('reports throws and rejections of the target to onError and carries on', async () => {
    const errors: unknown[] = [];
    const boom = (what: string) => () => {
      throw new Error(what);
    };
    const timer = new TimeoutPolicy(short).arm(
      {
        signalMain: boom('signalMain'),
        signalAll: boom('signalAll'),
        killAll: () => Promise.reject(new Error('killAll')),
        onSoftTimeout: boom('soft'),
        onHardTimeout: boom('hard'),
      },
      { onError: (error) => errors.push((error as Error).message) },
    );
    await vi.advanceTimersByTimeAsync(2000);
    expect(errors).toEqual(['soft', 'signalMain', 'hard', 'signalAll', 'killAll']);
    expect(timer.phase).toBe('done');
  });

  it('without onError, and with a throwing onError, target errors go nowhere', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const failing: TimeoutTarget = {
        signalMain: () => {
          throw new Error('x');
        },
        signalAll: () => {
          throw new Error('x');
        },
        killAll: () => Promise.reject(new Error('x')),
        onSoftTimeout: () => undefined,
        onHardTimeout: () => undefined,
      };
      new TimeoutPolicy(short).arm(failing);
      new TimeoutPolicy(short).arm(failing, {
        onError: () => {
          throw new Error('y');
        },
      });
      await vi.advanceTimersByTimeAsync(2000);
      vi.useRealTimers();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('follows the monotonic clock: a wall-clock step neither fires nor holds back a timeout', async () => {
    const { target, names } = recorder();
    const timer = new TimeoutPolicy(short).arm(target);
    vi.setSystemTime(Date.now() + 3_600_000);
    await vi.advanceTimersByTimeAsync(299);
    expect(names()).toEqual([]);
    vi.setSystemTime(Date.now() - 7_200_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(names()).toEqual(['soft', 'signalMain:SIGUSR1']);
    expect(timer.softDeadline).toBe(timer.startedAt + 300);
  });

  it('waits longer than setTimeout can in one step (2^31 ms)', async () => {
    const { target, calls } = recorder();
    const timer = new TimeoutPolicy({ soft: '30d', hard: '40d' }).arm(target);
    await vi.advanceTimersByTimeAsync(25 * 86_400_000);
    expect(calls).toEqual([]);
    expect(timer.pending).toBe(true);
    await vi.advanceTimersByTimeAsync(5 * 86_400_000);
    expect(calls.map(([name]) => name)).toEqual(['soft', 'signalMain']);
  });

  it('hundreds of timers: one each, all gone after clear()', async () => {
    const timers = Array.from({ length: 300 }, () => new TimeoutPolicy(short).arm(recorder().target));
    expect(vi.getTimerCount()).toBe(300);
    await vi.advanceTimersByTimeAsync(500);
    expect(vi.getTimerCount()).toBe(300);
    for (const timer of timers) timer.clear();
    expect(vi.getTimerCount()).toBe(0);
    expect(timers.some((timer) => timer.pending)).toBe(false);
  });
});

describe('TimeoutTimer without killAll: it only fires, the target stops the agent', () => {
  it('fires soft, then hard with the signal and grace to stop with, and nothing after', async () => {
    const { target, calls, names } = recorder({ killAll: undefined });
    const timer = new TimeoutPolicy({ ...short, hardSignal: 'SIGINT' }).arm(target);
    await vi.advanceTimersByTimeAsync(800);
    expect(names()).toEqual(['soft', 'signalMain:SIGUSR1', 'hard']);
    expect(calls[2]).toEqual(['hard', { elapsedMs: 800, deadline: timer.startedAt + 800, signal: 'SIGINT', grace: 300 }, 800]);
    expect([timer.phase, timer.pending]).toEqual(['done', false]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(3);
    expect(() => timer.extend(100)).toThrow(expect.objectContaining({ code: ErrorCode.TIMEOUT_EXPIRED }));
  });

  it('pause() stops the clock: every deadline still to come moves out by the paused time', async () => {
    const { target, calls, names } = recorder({ killAll: undefined });
    const timer = new TimeoutPolicy(short).arm(target);
    await vi.advanceTimersByTimeAsync(200);
    timer.pause();
    timer.pause(); // idempotent
    expect([timer.paused, timer.pending]).toEqual([true, false]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toEqual([]);
    timer.resume();
    timer.resume();
    expect(timer.paused).toBe(false);
    expect(timer.softDeadline).toBe(timer.startedAt + 1300);
    expect(timer.hardDeadline).toBe(timer.startedAt + 1800);
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(names()).toEqual(['soft', 'signalMain:SIGUSR1']);
    // Paused after the soft timeout: only the hard one moves.
    timer.pause();
    await vi.advanceTimersByTimeAsync(400);
    timer.resume();
    expect(timer.hardDeadline).toBe(timer.startedAt + 2200);
    await vi.advanceTimersByTimeAsync(499);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(names()).toEqual(['soft', 'signalMain:SIGUSR1', 'hard']);
  });

  it('clear() while paused: nothing fires after resume()', async () => {
    const { target, calls } = recorder({ killAll: undefined });
    const timer = new TimeoutPolicy(short).arm(target);
    timer.pause();
    timer.clear();
    timer.resume();
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
