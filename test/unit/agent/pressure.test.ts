import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AGENT_CGROUP_ENV, onPressure, type PressureEvent } from '../../../src/agent/index.js';
import { MiB, PSI, v2Files, v2Host } from './trees.js';

beforeEach(() => {
  vi.stubEnv(AGENT_CGROUP_ENV, '');
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

/** A v2 agent limited to 100 MiB whose usage the test sets, in percent. */
function agent(percent: number) {
  const tree = v2Host('/a', { ...v2Files('cg'), ...v2Files('cg/a', { current: percent * MiB, max: 100 * MiB, psi: PSI }) });
  return { procRoot: tree.path('proc'), set: (p: number) => tree.write('cg/a/memory.current', `${p * MiB}\n`) };
}

const states = (events: PressureEvent[]): string[] => events.map((e) => `${e.state}@${Math.round(e.usage.ratio * 100)}`);

describe('onPressure', () => {
  it('calls back once on crossing above, once on return below threshold − hysteresis, nothing in between', async () => {
    vi.useFakeTimers();
    const a = agent(50);
    const events: PressureEvent[] = [];
    const sub = onPressure((e) => events.push(e), { procRoot: a.procRoot, intervalMs: 100 });
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual([]);

    a.set(85);
    await vi.advanceTimersByTimeAsync(100);
    expect(states(events)).toEqual(['above@85']);
    expect(events[0]).toMatchObject({ threshold: 0.8, usage: { max: 100 * MiB, pressure: 1.5 } });

    a.set(90);
    await vi.advanceTimersByTimeAsync(300);
    a.set(78); // below the threshold, not below threshold − hysteresis (0.75)
    await vi.advanceTimersByTimeAsync(300);
    expect(states(events)).toEqual(['above@85']);

    a.set(70);
    await vi.advanceTimersByTimeAsync(100);
    expect(states(events)).toEqual(['above@85', 'below@70']);
    a.set(81);
    await vi.advanceTimersByTimeAsync(100);
    expect(states(events)).toEqual(['above@85', 'below@70', 'above@81']);
    sub.close();
  });

  it('already above at the start: the first reading, right away, reports it', async () => {
    vi.useFakeTimers();
    const a = agent(95);
    const events: PressureEvent[] = [];
    const sub = onPressure((e) => events.push(e), { procRoot: a.procRoot, threshold: 0.9, hysteresis: 0 });
    expect(events).toEqual([]); // never synchronously inside onPressure
    await vi.advanceTimersByTimeAsync(0);
    expect(states(events)).toEqual(['above@95']);
    a.set(89);
    await vi.advanceTimersByTimeAsync(1000);
    expect(states(events)).toEqual(['above@95', 'below@89']);
    sub[Symbol.dispose]();
  });

  it('close() and an aborted signal stop polling; closing inside the callback works', async () => {
    vi.useFakeTimers();
    const a = agent(10);
    const seen: string[] = [];
    const controller = new AbortController();
    const byClose = onPressure(() => seen.push('close'), { procRoot: a.procRoot, intervalMs: 50 });
    const bySignal = onPressure(() => seen.push('signal'), { procRoot: a.procRoot, intervalMs: 50, signal: controller.signal });
    const inside = onPressure(
      () => {
        seen.push('inside');
        inside.close();
      },
      { procRoot: a.procRoot, intervalMs: 50, threshold: 0.5, hysteresis: 0.4 },
    );
    await vi.advanceTimersByTimeAsync(60);
    byClose.close();
    byClose.close();
    controller.abort();
    expect([byClose.closed, bySignal.closed, inside.closed]).toEqual([true, true, false]);
    a.set(99);
    await vi.advanceTimersByTimeAsync(200);
    a.set(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(seen).toEqual(['inside']);
    expect(inside.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already aborted signal: never polls', async () => {
    vi.useFakeTimers();
    const a = agent(99);
    const callback = vi.fn();
    const sub = onPressure(callback, { procRoot: a.procRoot, signal: AbortSignal.abort() });
    expect(sub.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(callback).not.toHaveBeenCalled();
  });

  it('without a limit it never calls back', async () => {
    vi.useFakeTimers();
    const tree = v2Host('/a', { ...v2Files('cg'), ...v2Files('cg/a', { current: 999 * MiB, max: 'max' }) });
    const callback = vi.fn();
    const sub = onPressure(callback, { procRoot: tree.path('proc'), threshold: 0.01, hysteresis: 0 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(callback).not.toHaveBeenCalled();
    sub.close();
  });

  it('its timer does not keep the process alive', () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const sub = onPressure(() => {}, { procRoot: agent(1).procRoot });
    expect(timers()).toBe(before);
    sub.close();
  });

  it.each([
    [{ threshold: 0 }],
    [{ threshold: 1.2 }],
    [{ hysteresis: -0.1 }],
    [{ threshold: 0.5, hysteresis: 0.5 }],
    [{ intervalMs: 0 }],
    [{ intervalMs: Number.NaN }],
    [{ intervalMs: Infinity }],
  ])('refuses %o with ERR_INVALID_OPTION', (options) => {
    expect(() => onPressure(() => {}, options)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_OPTION' }));
  });

  it('refuses a callback that is not a function', () => {
    expect(() => onPressure('no' as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_OPTION' }));
  });
});
