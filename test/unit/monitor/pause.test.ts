/**
 * The pause-before-kill policy, the eviction grace and the trend they read, as pure functions:
 * figures in, decisions out.
 */
import { describe, expect, it } from 'vitest';
import { evictionGrace } from '../../../src/monitor/deadline.js';
import { decidePause, type PauseCandidate, type PauseInput, type PauseSettings } from '../../../src/monitor/pause.js';
import { slope, Trend } from '../../../src/monitor/trend.js';

const M = 1024 * 1024;
const TOTAL = 2000 * M;
const settings: PauseSettings = { high: 0.85, critical: 0.95, resumeBelow: 0.8, holdLimit: 60_000, order: 'newest', minRate: M };

function agent(id: string, extra: Partial<PauseCandidate> = {}): PauseCandidate {
  return { id, protected: false, preferred: false, priority: 0, startedAt: 0, growth: 0, workingSet: 100 * M, pausedAt: undefined, ...extra };
}

function input(usedRatio: number, rate: number, agents: PauseCandidate[], now = 100_000): PauseInput {
  return { now, used: usedRatio * TOTAL, total: TOTAL, usedRatio, rate, agents };
}

describe('trend', () => {
  it('is the least-squares slope per second, 0 without two points', () => {
    expect(slope([])).toBe(0);
    expect(slope([{ time: 0, value: 5 }])).toBe(0);
    expect(slope([{ time: 0, value: 0 }, { time: 0, value: 9 }])).toBe(0);
    expect(slope([{ time: 0, value: 0 }, { time: 1000, value: 10 }, { time: 2000, value: 20 }])).toBeCloseTo(10);
    // A single jitter does not flip the sign of a steady rise.
    expect(slope([{ time: 0, value: 0 }, { time: 1000, value: 10 }, { time: 2000, value: 8 }, { time: 3000, value: 30 }])).toBeGreaterThan(0);
    // Only the window before the newest point counts.
    expect(slope([{ time: 0, value: 100 }, { time: 5000, value: 0 }, { time: 6000, value: 10 }], 1000)).toBeCloseTo(10);
  });

  it('keeps a bounded window', () => {
    const trend = new Trend(3);
    expect(trend.rate()).toBe(0);
    trend.push(0, 0);
    trend.push(1000, 50);
    expect(trend.rate()).toBe(0); // two readings are a jump, not yet a trend
    for (const [t, v] of [[2000, 1000], [3000, 0], [4000, 10], [5000, 20]] as const) trend.push(t, v);
    expect(trend.rate()).toBeCloseTo(10);
    trend.clear();
    expect(trend.rate()).toBe(0);
  });
});

describe('evictionGrace', () => {
  it('is the time left before critical at the current rate, bounded 2–30 s', () => {
    expect(evictionGrace({ usedRatio: 0.9, critical: 0.95, rate: 0.005 })).toBe(10_000);
    expect(evictionGrace({ usedRatio: 0.9, critical: 0.95, rate: 0.1 })).toBe(2_000);
    expect(evictionGrace({ usedRatio: 0.9, critical: 0.95, rate: 0.0001 })).toBe(30_000);
    expect(evictionGrace({ usedRatio: 0.9, critical: 0.95, rate: 0 })).toBe(30_000);
    expect(evictionGrace({ usedRatio: 0.9, critical: 0.95, rate: -0.01 })).toBe(30_000);
    expect(evictionGrace({ usedRatio: 0.9, critical: 0.95, rate: 0.005, min: 1000, max: 5000 })).toBe(5000);
  });

  it('is 0 (at once) at or above critical', () => {
    expect(evictionGrace({ usedRatio: 0.95, critical: 0.95, rate: 0 })).toBe(0);
    expect(evictionGrace({ usedRatio: 0.99, critical: 0.95, rate: -1 })).toBe(0);
  });
});

describe('decidePause: freezing', () => {
  it('does nothing below high, or at high when memory is not rising', () => {
    const agents = [agent('a', { growth: 5 * M }), agent('b', { growth: 5 * M })];
    expect(decidePause(input(0.84, 20 * M, agents), settings)).toEqual({ freeze: [], thaw: [], evict: [], emergency: false });
    expect(decidePause(input(0.9, 0.5 * M, agents), settings).freeze).toEqual([]);
  });

  it('freezes growing agents, newest first, until the frozen growth covers the host rate', () => {
    const agents = [
      agent('old', { startedAt: 1, growth: 8 * M }),
      agent('mid', { startedAt: 2, growth: 4 * M }),
      agent('new', { startedAt: 3, growth: 4 * M }),
      agent('flat', { startedAt: 4, growth: 0 }),
    ];
    expect(decidePause(input(0.87, 6 * M, agents), settings).freeze).toEqual(['new', 'mid']);
    expect(decidePause(input(0.87, 3 * M, agents), settings).freeze).toEqual(['new']);
    expect(decidePause(input(0.87, 6 * M, agents), { ...settings, order: 'fastest-growing' }).freeze).toEqual(['old']);
  });

  it('freezes before high when memory will reach it before the next decision (horizon)', () => {
    const agents = [agent('a', { startedAt: 1, growth: 80 * M }), agent('b', { startedAt: 2, growth: 80 * M })];
    // 80 % rising 160 MiB/s of 2000 MiB: 88 % a second later. Without a horizon, the next tick is the first to act.
    expect(decidePause(input(0.8, 160 * M, agents), settings).freeze).toEqual([]);
    expect(decidePause(input(0.8, 160 * M, agents), { ...settings, horizon: 1000 }).freeze).toEqual(['b']);
    // Not due within the horizon: nothing yet.
    expect(decidePause(input(0.7, 160 * M, agents), { ...settings, horizon: 1000 }).freeze).toEqual([]);
  });

  it('takes preferred agents first, then the lowest priority; never a protected one', () => {
    const agents = [
      agent('guarded', { startedAt: 9, growth: 50 * M, protected: true }),
      agent('important', { startedAt: 8, growth: 5 * M, priority: 10 }),
      agent('plain', { startedAt: 1, growth: 5 * M }),
      agent('spare', { startedAt: 0, growth: 1 * M, preferred: true, priority: 20 }),
    ];
    expect(decidePause(input(0.9, 100 * M, agents), settings).freeze).toEqual(['spare', 'plain', 'important']);
  });

  it('never freezes the last running agent', () => {
    const agents = [agent('a', { growth: 5 * M }), agent('b', { growth: 5 * M }), agent('c', { growth: 5 * M, pausedAt: 1 })];
    expect(decidePause(input(0.9, 100 * M, agents), settings).freeze).toEqual(['a']);
    expect(decidePause(input(0.9, 100 * M, [agent('solo', { growth: 5 * M })]), settings).freeze).toEqual([]);
  });

  it('flags an emergency at critical, still freezing growth meanwhile', () => {
    const agents = [agent('a', { growth: 5 * M, startedAt: 1 }), agent('b', { growth: 5 * M, startedAt: 2 })];
    expect(decidePause(input(0.96, 4 * M, agents), settings)).toMatchObject({ emergency: true, freeze: ['b'] });
  });
});

describe('decidePause: thawing', () => {
  const frozen = [
    agent('p-late', { pausedAt: 5000, priority: 1 }),
    agent('p-early', { pausedAt: 1000, priority: 1 }),
    agent('p-low', { pausedAt: 0, priority: 0 }),
    agent('p-pref', { pausedAt: 0, priority: 1, preferred: true }),
    agent('running', { growth: 0 }),
  ];

  it('thaws one agent below the resume mark while memory is not rising: highest priority, unpreferred, longest frozen first', () => {
    expect(decidePause(input(0.79, 0, frozen), settings).thaw).toEqual(['p-early']);
    expect(decidePause(input(0.79, 0, frozen.filter((a) => a.id !== 'p-early' && a.id !== 'p-late')), settings).thaw).toEqual(['p-pref']);
  });

  it('keeps them frozen between the resume mark and high (hysteresis), or while memory rises', () => {
    expect(decidePause(input(0.82, 0, frozen), settings).thaw).toEqual([]);
    expect(decidePause(input(0.7, 10 * M, frozen), settings).thaw).toEqual([]);
  });

  it('thaws one when nothing runs at all and memory is below high', () => {
    const all = frozen.filter((a) => a.pausedAt !== undefined);
    expect(decidePause(input(0.83, 0, all), settings).thaw).toEqual(['p-early']);
    expect(decidePause(input(0.86, 0, all), settings).thaw).toEqual([]);
  });
});

describe('decidePause: eviction', () => {
  it('evicts the fewest frozen agents past holdLimit that cover the excess over the resume mark', () => {
    const now = 100_000;
    const agents = [
      agent('recent', { pausedAt: now - 1000, workingSet: 500 * M }),
      agent('small', { pausedAt: 0, workingSet: 30 * M }),
      agent('big', { pausedAt: 0, workingSet: 300 * M }),
      agent('pref', { pausedAt: 0, workingSet: 50 * M, preferred: true }),
      agent('guarded', { pausedAt: 0, workingSet: 900 * M, protected: true }),
      agent('running', { growth: 0 }),
    ];
    // 0.9 × 2000 MiB − 0.8 × 2000 MiB = 200 MiB over: in order pref (50) and big (300) cover it, and big alone does.
    expect(decidePause(input(0.9, 0, agents, now), settings).evict).toEqual(['big']);
    // 400 MiB over: big and small are not enough, pref joins.
    expect(decidePause(input(1.0, 0, agents, now), settings).evict).toEqual(['pref', 'big', 'small']);
    // 0.81: 20 MiB over: the preferred one alone.
    expect(decidePause(input(0.81, 0, agents, now), settings).evict).toEqual(['pref']);
    // Below the resume mark nobody is evicted: they can be thawed instead.
    expect(decidePause(input(0.79, 0, agents, now), settings).evict).toEqual([]);
    // Not past the deadline yet.
    expect(decidePause(input(0.9, 0, agents, 30_000), { ...settings, holdLimit: 60_000 }).evict).toEqual([]);
  });

  it('counts agents already on their way out as released: one eviction per excess, not one more each tick of its grace', () => {
    const now = 100_000;
    const agents = [agent('a', { pausedAt: 0, workingSet: 250 * M }), agent('b', { pausedAt: 0, workingSet: 250 * M }), agent('running')];
    // 200 MiB over the resume mark: one of them covers it.
    expect(decidePause(input(0.9, 0, agents, now), settings).evict).toEqual(['a']);
    // Next tick, a's notice is running (it is no candidate any more) and its 250 MiB still count as used.
    expect(decidePause({ ...input(0.9, 0, agents.slice(1), now), releasing: 250 * M }, settings).evict).toEqual([]);
    // More than a covers: b joins.
    expect(decidePause({ ...input(0.95, 0, agents.slice(1), now), releasing: 250 * M }, settings).evict).toEqual(['b']);
  });
});
