/**
 * MemoryMonitor on fake cgroupfs trees and an injected host memory figure: levels through the
 * thresholds, per-agent rings, throttling and livelock detection, relief rounds, auto-kill,
 * and that stop() leaves nothing behind.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryMonitor } from '../../../src/monitor/monitor.js';
import type { MemoryMonitorOptions, MonitorEvents, MonitoredAgent, ReliefReport } from '../../../src/monitor/types.js';
import { fakeTree } from '../../helpers/fake-tree.js';
import { FakeHost, FakeMemory, fakeCgroups, openFdsBelow, type FakeCgroups } from './fake-agents.js';

const M = 1024 * 1024;

type Recorded = { [K in keyof MonitorEvents]: Parameters<MonitorEvents[K]>[0][] };

function record(monitor: MemoryMonitor): Recorded {
  const events: Recorded = { pressure: [], relief: [], kill: [], sample: [], error: [], pause: [], resume: [] };
  for (const name of Object.keys(events) as (keyof Recorded)[]) {
    (monitor.on as (event: string, listener: (value: unknown) => void) => unknown)(name, (event) => {
      (events[name] as unknown[]).push(event);
    });
  }
  return events;
}

let memory: FakeMemory;
let host: FakeHost;
const monitors: MemoryMonitor[] = [];

function monitorOf(options: MemoryMonitorOptions = {}): MemoryMonitor {
  const monitor = new MemoryMonitor(host, { readMemory: memory.read, ...options });
  monitors.push(monitor);
  return monitor;
}

beforeEach(() => {
  memory = new FakeMemory();
  host = new FakeHost();
});
afterEach(() => {
  for (const monitor of monitors.splice(0)) monitor.stop();
  vi.useRealTimers();
});

/** Adds agent `id` in a fresh fake cgroup. */
function agent(cgroups: FakeCgroups, id: string, priority: number, workingSet: number, extra: Partial<MonitoredAgent> = {}): MonitoredAgent {
  const a: MonitoredAgent = { id, priority, cgroup: cgroups.set(id, { current: workingSet + 5 * M, inactiveFile: 5 * M }), ...extra };
  host.add(a);
  return a;
}

describe('host levels', () => {
  it('follows used memory through the thresholds with hysteresis, one event per change', async () => {
    const monitor = monitorOf();
    const events = record(monitor);
    const readings = [0.5, 0.86, 0.84, 0.831, 0.96, 0.94, 0.931, 0.92, 0.9, 0.84, 0.829, 0.5];
    const levels: string[] = [];
    for (const used of readings) {
      memory.usedRatio = used;
      await monitor.tick();
      levels.push(monitor.level);
    }
    expect(levels).toEqual(['normal', 'high', 'high', 'high', 'critical', 'critical', 'critical', 'high', 'high', 'high', 'normal', 'normal']);
    expect(events.pressure.map((e) => e.scope === 'host' && `${e.previous}→${e.level}`)).toEqual([
      'normal→high',
      'high→critical',
      'critical→high',
      'high→normal',
    ]);
    const first = events.pressure[0]!;
    expect(first.scope === 'host' && first.memory.usedRatio).toBeCloseTo(0.86);
    expect(events.sample).toHaveLength(readings.length);
    expect(events.sample[4]).toMatchObject({ level: 'critical', memory: { total: FakeMemory.TOTAL } });
  });

  it('uses configured thresholds and hysteresis', async () => {
    const monitor = monitorOf({ thresholds: { high: 0.6, critical: 0.7 }, hysteresis: 0.1 });
    expect(monitor.thresholds).toEqual({ high: 0.6, critical: 0.7, hysteresis: 0.1 });
    for (const [used, level] of [
      [0.65, 'high'],
      [0.55, 'high'],
      [0.72, 'critical'],
      [0.61, 'critical'],
      [0.59, 'high'],
      [0.49, 'normal'],
    ] as const) {
      memory.usedRatio = used;
      await monitor.tick();
      expect(monitor.level, `at ${used}`).toBe(level);
    }
  });

  it('reads /proc/meminfo and /proc/pressure/memory under procRoot without readMemory', async () => {
    const proc = fakeTree({
      meminfo: 'MemTotal: 1000 kB\nMemAvailable: 100 kB\n',
      'pressure/memory': 'some avg10=1.00 avg60=0 avg300=0 total=1\nfull avg10=0.50 avg60=0 avg300=0 total=1\n',
    });
    const monitor = new MemoryMonitor(host, { procRoot: proc.root });
    monitors.push(monitor);
    expect(monitor.hostMemory()).toMatchObject({ total: 1024000, used: 921600, usedRatio: 0.9, pressure: { full: { avg10: 0.5 } } });
    await monitor.tick();
    expect(monitor.level).toBe('high');
  });

  it('emits an error and keeps its level when host memory cannot be read', async () => {
    const monitor = monitorOf();
    const events = record(monitor);
    memory.usedRatio = 0.9;
    await monitor.tick();
    memory.failure = new Error('no meminfo');
    await expect(monitor.tick()).resolves.toBeUndefined();
    expect(events.error.map((e) => e.message)).toEqual(['no meminfo']);
    expect(monitor.level).toBe('high');
  });
});

describe.each([2, 1] as const)('agent samples (cgroup v%i)', (version) => {
  it('keeps a bounded ring per agent with the cgroup figures', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const cgroups = fakeCgroups(version);
    agent(cgroups, 'a', 0, 10 * M);
    const monitor = monitorOf({ samples: 3 });
    for (let i = 1; i <= 5; i++) {
      cgroups.set('a', { current: i * M, oomKill: i - 1 });
      await monitor.tick();
      vi.advanceTimersByTime(1000);
    }
    const samples = monitor.agentSamples('a');
    expect(samples.map((s) => s.current)).toEqual([3 * M, 4 * M, 5 * M]);
    expect(samples.map((s) => s.time)).toEqual([1_002_000, 1_003_000, 1_004_000]);
    expect(samples.map((s) => s.events.oomKill)).toEqual([2, 3, 4]);
    expect(samples[2]!.pressure === undefined).toBe(version === 1);
    expect(monitor.agentSamples('nobody')).toEqual([]);
  });

  it('drops an agent the host no longer lists, and starts afresh when its cgroup changes', async () => {
    const cgroups = fakeCgroups(version);
    const a = agent(cgroups, 'a', 0, 10 * M);
    agent(cgroups, 'b', 0, 10 * M);
    const monitor = monitorOf();
    await monitor.tick();
    await monitor.tick();
    expect(openFdsBelow(cgroups.tree.root).length).toBeGreaterThan(0);
    host.map.delete('b');
    await monitor.tick();
    expect(monitor.agentSamples('a')).toHaveLength(3);
    expect(monitor.agentSamples('b')).toEqual([]);
    expect(openFdsBelow(cgroups.tree.root).some((path) => path.includes('/b/'))).toBe(false);
    host.add({ ...a, cgroup: cgroups.set('a2', { current: 7 * M }) });
    await monitor.tick();
    expect(monitor.agentSamples('a').map((s) => s.current)).toEqual([7 * M]);
  });
});

describe('agents without a cgroup', () => {
  it('skips an agent whose cgroup does not exist (yet, or any more) without an error', async () => {
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 0, M);
    host.add({ id: 'ghost', priority: 0, cgroup: cgroups.set('a', {}).child('never-made') });
    const monitor = monitorOf();
    const events = record(monitor);
    await monitor.tick();
    await monitor.tick();
    expect(events.error).toEqual([]);
    expect(monitor.agentSamples('a')).toHaveLength(2);
    expect(monitor.agentSamples('ghost')).toEqual([]);
    memory.usedRatio = 0.99;
    const report = await monitor.relieve({ dryRun: true });
    expect(report.kills.map((k) => k.id)).toEqual(['a']);
  });
});

describe('throttling and livelock (v2)', () => {
  it('emits throttled once when memory.events high starts rising, again only after a quiet spell', async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 0, 10 * M);
    cgroups.set('a', { high: 5 });
    const monitor = monitorOf({ interval: 1000 });
    const events = record(monitor);
    // high over the ticks: the first sample is the baseline (5 before we looked is not "rising").
    const highs = [5, 5, 9, 20, 20, 31, 31, 31, 31, 40];
    for (const high of highs) {
      cgroups.set('a', { high });
      await monitor.tick();
      vi.advanceTimersByTime(1000);
    }
    const throttled = events.pressure.filter((e) => e.scope === 'agent');
    // Rises at ticks 2, 3, 5 (within the 2 s grace of each other: one episode), then 9 after 4 quiet ticks.
    expect(throttled.map((e) => e.scope === 'agent' && [e.kind, e.sample.highDelta, e.sample.time])).toEqual([
      ['throttled', 4, 2000],
      ['throttled', 9, 9000],
    ]);
    expect(monitor.agentSamples('a').map((s) => s.highDelta)).toEqual([0, 0, 4, 11, 0, 11, 0, 0, 0, 9]);
  });

  it('reports a livelock once the stall (high rising, PSI full ≥ highPressure) lasts `duration`', async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 0, 10 * M);
    const monitor = monitorOf({ livelock: { highPressure: 40, duration: '3s' } });
    const events = record(monitor);
    const step = async (high: number, full: number): Promise<void> => {
      cgroups.set('a', { high, full });
      await monitor.tick();
      vi.advanceTimersByTime(1000);
    };
    await step(0, 0);
    await step(10, 90); // t=1000: stall starts
    await step(20, 39.9); // pressure dips below: the stall restarts
    await step(30, 50); // t=3000
    await step(40, 60);
    await step(50, 70);
    expect(events.pressure.filter((e) => e.scope === 'agent' && e.kind === 'livelock')).toEqual([]);
    await step(60, 80); // t=6000: 3 s of stall
    await step(70, 80); // still stalled: no second report
    const livelocks = events.pressure.filter((e) => e.scope === 'agent' && e.kind === 'livelock');
    expect(livelocks).toHaveLength(1);
    expect(livelocks[0]).toMatchObject({ id: 'a', sample: { time: 6000, pressure: { full: { avg10: 80 } } } });
    expect(host.kills).toEqual([]);
    // The stall ends (no more rises past the grace), then a new one is reported again.
    for (let i = 0; i < 3; i++) await step(70, 80);
    for (let i = 0; i < 5; i++) await step(80 + i, 80);
    expect(events.pressure.filter((e) => e.scope === 'agent' && e.kind === 'livelock')).toHaveLength(2);
  });

  it("kills a livelocked agent through the host with action 'kill' (never a protected one)", async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 3, 30 * M);
    agent(cgroups, 'guarded', 0, 30 * M, { protected: true });
    memory.usedRatio = 0.6;
    const monitor = monitorOf({ livelock: { highPressure: 10, duration: 0, action: 'kill' } });
    const events = record(monitor);
    await monitor.tick();
    cgroups.set('a', { high: 1, full: 50 });
    cgroups.set('guarded', { high: 1, full: 50 });
    await monitor.tick();
    await vi.waitFor(() => expect(events.kill).toHaveLength(1));
    expect(events.pressure.filter((e) => e.scope === 'agent').map((e) => e.scope === 'agent' && `${e.id}:${e.kind}`)).toEqual([
      'a:throttled',
      'a:livelock',
      'guarded:throttled',
      'guarded:livelock',
    ]);
    expect(host.kills.map((k) => k.id)).toEqual(['a']);
    expect(host.kills[0]!.info).toMatchObject({
      id: 'a',
      reason: 'relief',
      trigger: 'livelock',
      priority: 3,
      workingSet: 30 * M,
      current: 35 * M,
      memory: { usedRatio: 0.6 },
      livelock: { stalledMs: 0, sample: { highDelta: 1 } },
    });
    expect(events.kill[0]).toBe(host.kills[0]!.info);
  });

  it('never reports throttling on v1 (no high counter, no per-cgroup PSI)', async () => {
    const cgroups = fakeCgroups(1);
    agent(cgroups, 'a', 0, 10 * M);
    const monitor = monitorOf({ livelock: { duration: 0, highPressure: 0, action: 'kill' } });
    const events = record(monitor);
    for (let i = 0; i < 3; i++) await monitor.tick();
    expect(events.pressure).toEqual([]);
    expect(monitor.agentSamples('a').every((s) => s.highDelta === 0 && s.pressure === undefined)).toBe(true);
  });
});

const G = 1024 * M;

describe('relieve()', () => {
  /** Five agents on a 100 GiB host; killing one frees its working set (1 GiB is 0.01). */
  function fleet(version: 1 | 2 = 2): FakeCgroups {
    const cgroups = fakeCgroups(version);
    agent(cgroups, 'low-small', 0, G);
    agent(cgroups, 'low-big', 0, 9 * G);
    agent(cgroups, 'high', 10, 20 * G);
    agent(cgroups, 'guarded', -10, 50 * G, { protected: true });
    agent(cgroups, 'preferred', 20, G, { preferred: true });
    const freed: Record<string, number> = { preferred: 0.01, 'low-big': 0.09, 'low-small': 0.01, high: 0.2, guarded: 0.5 };
    host.onKill = (id) => {
      memory.usedRatio -= freed[id]!;
    };
    return cgroups;
  }

  it.each([2, 1] as const)('kills the fewest victims whose working sets cover the deficit, then measures again (v%i)', async (version) => {
    fleet(version);
    memory.usedRatio = 0.97;
    const monitor = monitorOf();
    const events = record(monitor);
    const report = await monitor.relieve({ targetPercent: 80 });
    // 17 GiB over the target: in policy order preferred, low-big, low-small, high cover it; high alone does.
    expect(host.kills.map((k) => k.id)).toEqual(['high']);
    expect(report).toMatchObject({ trigger: 'relieve', dryRun: false, target: 0.8, outcome: 'target-reached', failures: [] });
    expect(report.kills[0]).toMatchObject({ reason: 'relief', trigger: 'relieve', priority: 10, workingSet: 20 * G, current: 20 * G + 5 * M, target: 0.8 });
    expect(report.before.usedRatio).toBeCloseTo(0.97);
    expect(report.after.usedRatio).toBeCloseTo(0.77);
    expect(events.kill.map((k) => k.id)).toEqual(['high']);
    expect(events.relief).toEqual([report]);
    // One reading at the start, one once the victim's memory was back.
    expect(memory.reads).toBe(2);
  });

  it('plans again when the kills freed less than their working sets, and stops at the target', async () => {
    fleet();
    memory.usedRatio = 0.97;
    host.onKill = (id) => {
      memory.usedRatio -= id === 'low-big' ? 0.04 : id === 'high' ? 0.2 : 0.01;
    };
    const monitor = monitorOf({ reliefTarget: 0.9 });
    const report = await monitor.relieve();
    // 7 GiB over: low-big (9) planned; it frees 4; 3 GiB over: preferred + low-small do not cover it, high does.
    expect(report.kills.map((k) => k.id)).toEqual(['low-big', 'high']);
    expect(report.outcome).toBe('target-reached');
    expect(await monitor.relieve()).toMatchObject({ outcome: 'target-reached', kills: [] });
  });

  it("waits until the victim's cgroup is empty before measuring again", async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fleet();
    cgroups.set('high', { populated: 1 });
    host.onKill = () => {}; // memory comes back only when the processes are gone
    memory.usedRatio = 0.97;
    const monitor = monitorOf();
    const done = monitor.relieve({ targetPercent: 80 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(host.kills.map((k) => k.id)).toEqual(['high']);
    expect(memory.reads).toBe(1);
    cgroups.set('high', { populated: 0 });
    memory.usedRatio = 0.77;
    await vi.advanceTimersByTimeAsync(100);
    expect(await done).toMatchObject({ outcome: 'target-reached', kills: [{ id: 'high' }] });
    expect(memory.reads).toBe(2);
  });

  it('gives up waiting for a release after releaseTimeout (plus the grace of a notice)', async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fleet();
    cgroups.set('high', { populated: 1 });
    memory.usedRatio = 0.97;
    const monitor = monitorOf({ releaseTimeout: '3s', eviction: false });
    const done = monitor.relieve({ targetPercent: 80, maxKills: 1 });
    await vi.advanceTimersByTimeAsync(2900);
    expect(memory.reads).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(await done).toMatchObject({ outcome: 'target-reached' });
    expect(memory.reads).toBe(2);
  });

  it('announces a kill below critical (notice signal, grace from the growth rate) and kills at once at critical', async () => {
    fleet();
    memory.usedRatio = 0.9;
    const monitor = monitorOf();
    await monitor.relieve({ targetPercent: 85 });
    // Not rising (no ticks yet): the longest grace.
    expect(host.kills[0]!.info).toMatchObject({ id: 'low-big', eviction: { signal: 'SIGUSR2', graceMs: 30_000 } });
    memory.usedRatio = 0.96;
    await monitor.relieve({ targetPercent: 95 });
    expect(host.kills[1]!.info.eviction).toBeUndefined();
    const quiet = monitorOf({ eviction: { signal: false } });
    memory.usedRatio = 0.9;
    await quiet.relieve({ targetPercent: 85 });
    expect(host.kills[2]!.info.eviction).toBeUndefined();
    const custom = monitorOf({ eviction: { signal: 'SIGHUP', maxGrace: '5s' } });
    memory.usedRatio = 0.9;
    await custom.relieve({ targetPercent: 89 });
    expect(host.kills[3]!.info.eviction).toEqual({ signal: 'SIGHUP', graceMs: 5000 });
  });

  it('waits an explicit cooldown after the release', async () => {
    vi.useFakeTimers({ now: 0 });
    fleet();
    memory.usedRatio = 0.97;
    host.onKill = () => {};
    const monitor = monitorOf();
    const done = monitor.relieve({ targetPercent: 80, cooldown: '2s', maxKills: 2 });
    await vi.advanceTimersByTimeAsync(0);
    expect(host.kills.map((k) => k.id)).toEqual(['high']);
    await vi.advanceTimersByTimeAsync(1999);
    expect(host.kills).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(host.kills).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(2000);
    expect(await done).toMatchObject({ outcome: 'max-kills' });
  });

  it('dry run kills nothing and reports the plan', async () => {
    fleet();
    memory.usedRatio = 0.97;
    const monitor = monitorOf();
    const events = record(monitor);
    const report = await monitor.relieve({ dryRun: true, targetPercent: 95 });
    expect(host.kills).toEqual([]);
    expect(events.kill).toEqual([]);
    expect(report).toMatchObject({ dryRun: true, outcome: 'target-reached' });
    expect(report.kills.map((k) => k.id)).toEqual(['low-big']);
    expect(report.kills[0]!.estimatedRatio).toBeCloseTo(0.97 - 9 / 100, 6);
    expect(report.kills[0]!.eviction).toBeUndefined();
    expect(report.after).toBe(report.before);
    expect(events.relief).toEqual([report]);
    // Not enough to reach the target: every candidate listed, protected still not.
    const all = await monitor.relieve({ dryRun: true, targetPercent: 10 });
    expect(all.outcome).toBe('no-candidates');
    expect(all.kills.map((k) => k.id)).toEqual(['preferred', 'low-big', 'low-small', 'high']);
    expect((await monitor.relieve({ dryRun: true, targetPercent: 10, maxKills: 2 })).outcome).toBe('max-kills');
  });

  it('never kills protected agents, even when nothing else is left', async () => {
    fleet();
    memory.usedRatio = 0.99;
    host.onKill = () => {};
    const monitor = monitorOf();
    const report = await monitor.relieve({ targetPercent: 50 });
    expect(report.outcome).toBe('no-candidates');
    expect(host.kills.map((k) => k.id)).toEqual(['preferred', 'low-big', 'low-small', 'high']);
    expect(host.map.has('guarded')).toBe(true);
  });

  it('takes a custom victim policy, but only agents it was offered, once each', async () => {
    fleet();
    memory.usedRatio = 0.99;
    host.onKill = () => {};
    const policy = vi.fn((candidates: Parameters<NonNullable<MemoryMonitorOptions['victimPolicy']>>[0]) => [
      { ...candidates.find((c) => c.id === 'high')! },
      { ...candidates[0]!, id: 'guarded', protected: false },
      { ...candidates[0]!, id: 'invented' },
      ...candidates.filter((c) => c.id === 'low-small'),
      ...candidates.filter((c) => c.id === 'high'),
    ]);
    const monitor = monitorOf({ victimPolicy: policy });
    const report = await monitor.relieve({ targetPercent: 50 });
    expect(host.kills.map((k) => k.id)).toEqual(['high', 'low-small']);
    expect(report.outcome).toBe('no-candidates');
    expect(policy.mock.calls[0]![0].map((c) => c.id).sort()).toEqual(['high', 'low-big', 'low-small', 'preferred']);
  });

  it('records a failed kill, skips that agent and plans again', async () => {
    fleet();
    memory.usedRatio = 0.97;
    host.failing.add('low-big');
    const monitor = monitorOf();
    const report = await monitor.relieve({ targetPercent: 90 });
    expect(report.failures.map((f) => [f.id, f.error.message])).toEqual([['low-big', 'cannot kill low-big']]);
    expect(report.kills.map((k) => k.id)).toEqual(['high']);
    expect(report.outcome).toBe('target-reached');
  });

  it('runs rounds one at a time; stop() ends a round in its wait', async () => {
    vi.useFakeTimers({ now: 0 });
    fleet();
    memory.usedRatio = 0.97;
    const monitor = monitorOf();
    const first = monitor.relieve({ targetPercent: 80, cooldown: '10s' });
    const second = monitor.relieve({ targetPercent: 80 });
    await vi.advanceTimersByTimeAsync(0);
    expect(host.kills).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);
    monitor.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(await first).toMatchObject({ outcome: 'stopped', kills: [{ id: 'high' }] });
    expect(await second).toMatchObject({ outcome: 'stopped', kills: [] });
    // A round asked for after stop() runs normally.
    memory.usedRatio = 0.97;
    const third = monitor.relieve({ targetPercent: 95 });
    expect(await third).toMatchObject({ outcome: 'target-reached', kills: [{ id: 'low-big' }] });
  });

  it('rejects invalid options', async () => {
    const monitor = monitorOf();
    await expect(monitor.relieve({ targetPercent: 0.75 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});

describe('auto-kill', () => {
  /** Ticks at these used ratios, one second apart (the trend needs time between readings). */
  async function ticks(monitor: MemoryMonitor, ...ratios: number[]): Promise<void> {
    for (const ratio of ratios) {
      memory.usedRatio = ratio;
      await monitor.tick();
      await vi.advanceTimersByTimeAsync(1000);
    }
  }

  it('at critical, kills the fewest agents that bring memory under the alarm (growth included), then stops', async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 0, 4 * G);
    agent(cgroups, 'b', 1, 4 * G);
    agent(cgroups, 'c', 2, 4 * G);
    host.onKill = () => {
      memory.usedRatio -= 0.04;
    };
    const monitor = monitorOf({ autoKill: true, cooldown: '2s' });
    const events = record(monitor);
    await ticks(monitor, 0.92, 0.94);
    expect(host.kills).toEqual([]);
    await ticks(monitor, 0.96);
    await vi.advanceTimersByTimeAsync(20_000);
    // 3 GiB over the clear mark (0.93) and 2 GiB/s for the 2 s horizon: 7 GiB, a and b.
    expect(host.kills.map((k) => [k.id, k.info.trigger, k.info.eviction])).toEqual([
      ['a', 'auto-kill', undefined],
      ['b', 'auto-kill', undefined],
    ]);
    expect(events.relief[0]).toMatchObject({ trigger: 'auto-kill', outcome: 'alarm-cleared' });
    expect(host.map.has('c')).toBe(true);
  });

  it("keeps the previous release's round with autoKillMode 'to-target': one kill per cooldown, down to reliefTarget", async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fakeCgroups(2);
    for (const [id, priority] of [['a', 0], ['b', 1], ['c', 2], ['d', 3]] as const) agent(cgroups, id, priority, 100 * M);
    host.onKill = () => {
      memory.usedRatio -= 0.05;
    };
    const monitor = monitorOf({ autoKill: true, autoKillMode: 'to-target', cooldown: '2s', reliefTarget: 0.8, interval: 100_000 });
    const events = record(monitor);
    memory.usedRatio = 0.97;
    await monitor.tick();
    await vi.advanceTimersByTimeAsync(10_000);
    // 0.97 → 0.92 → 0.87 → 0.82 → 0.77 < 0.8: four kills, 2 s apart, each at once.
    expect(host.kills.map((k) => [k.id, k.at, k.info.eviction])).toEqual([
      ['a', 0, undefined],
      ['b', 2000, undefined],
      ['c', 4000, undefined],
      ['d', 6000, undefined],
    ]);
    expect(events.relief[0]).toMatchObject({ trigger: 'auto-kill', outcome: 'target-reached', target: 0.8 });
  });

  it('does not repeat a round that found nothing to kill until the level leaves critical', async () => {
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'guarded', 0, 100 * M, { protected: true });
    const monitor = monitorOf({ autoKill: true, cooldown: 0 });
    const events = record(monitor);
    memory.usedRatio = 0.97;
    await monitor.tick();
    await vi.waitFor(() => expect(events.relief).toHaveLength(1));
    expect((events.relief[0] as ReliefReport).outcome).toBe('no-candidates');
    for (let i = 0; i < 3; i++) await monitor.tick();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events.relief).toHaveLength(1);
    memory.usedRatio = 0.9;
    await monitor.tick();
    memory.usedRatio = 0.97;
    await monitor.tick();
    await vi.waitFor(() => expect(events.relief).toHaveLength(2));
  });

  it('stays off by default', async () => {
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 0, 100 * M);
    const monitor = monitorOf();
    memory.usedRatio = 0.99;
    await monitor.tick();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(monitor.level).toBe('critical');
    expect(host.kills).toEqual([]);
  });
});

describe('pause before kill', () => {
  async function ticks(monitor: MemoryMonitor, cgroups: FakeCgroups, steps: Array<[number, Record<string, number>]>): Promise<void> {
    for (const [ratio, currents] of steps) {
      memory.usedRatio = ratio;
      for (const [id, current] of Object.entries(currents)) cgroups.set(id, { current });
      await monitor.tick();
      await vi.advanceTimersByTimeAsync(1000);
    }
  }

  it('freezes the newest growing agent above high while memory rises, thaws it under the resume mark', async () => {
    vi.useFakeTimers({ now: 0 });
    host.withPause();
    const cgroups = fakeCgroups(2);
    host.add({ id: 'old', priority: 0, startedAt: 1, cgroup: cgroups.set('old', { current: G }) });
    host.add({ id: 'new', priority: 0, startedAt: 2, cgroup: cgroups.set('new', { current: G }) });
    const monitor = monitorOf({ interval: 100_000 });
    const events = record(monitor);
    await ticks(monitor, cgroups, [
      [0.8, { old: G, new: G }],
      [0.83, { old: G + 50 * M, new: G + 50 * M }],
      [0.86, { old: G + 100 * M, new: G + 100 * M }],
    ]);
    expect(host.pauses).toEqual(['pause:new']);
    expect(events.pause).toMatchObject([{ id: 'new', action: 'pause', growth: expect.any(Number) }]);
    expect(events.pause[0]!.growth).toBeCloseTo(50 * M, -3);
    // Still above high and rising: `old` is the last one running, it is never frozen.
    await ticks(monitor, cgroups, [[0.88, { old: G + 150 * M }]]);
    expect(host.pauses).toEqual(['pause:new']);
    // Falls between the resume mark (0.80) and high: stays frozen (hysteresis).
    await ticks(monitor, cgroups, [[0.82, {}], [0.81, {}]]);
    expect(host.pauses).toEqual(['pause:new']);
    // Under the resume mark and not rising: thawed.
    await ticks(monitor, cgroups, [[0.79, {}], [0.78, {}]]);
    expect(host.pauses).toEqual(['pause:new', 'resume:new']);
    expect(events.resume).toMatchObject([{ id: 'new', action: 'resume' }]);
    expect(host.map.get('new')!.pausedAt).toBeUndefined();
  });

  it('evicts a frozen agent that held its memory past holdLimit, with a notice', async () => {
    vi.useFakeTimers({ now: 0 });
    host.withPause();
    const cgroups = fakeCgroups(2);
    host.add({ id: 'runner', priority: 0, cgroup: cgroups.set('runner', { current: G }) });
    host.add({ id: 'frozen', priority: 0, pausedAt: 0, cgroup: cgroups.set('frozen', { current: 4 * G }) });
    const monitor = monitorOf({ interval: 100_000, pause: { holdLimit: '5s' } });
    await ticks(monitor, cgroups, [[0.84, {}], [0.84, {}], [0.84, {}]]);
    expect(host.kills).toEqual([]);
    await ticks(monitor, cgroups, [[0.84, {}], [0.84, {}], [0.84, {}]]);
    expect(host.kills.map((k) => [k.id, k.info.trigger, k.info.eviction?.signal])).toEqual([['frozen', 'hold-limit', 'SIGUSR2']]);
  });

  it('evicts once per excess: an evictee\'s memory counts as released until its cgroup is empty, though the host no longer lists it', async () => {
    vi.useFakeTimers({ now: 0 });
    host.withPause();
    const cgroups = fakeCgroups(2);
    host.add({ id: 'runner', priority: 0, cgroup: cgroups.set('runner', { current: G }) });
    // 84 % of 100 GiB, 4 GiB over the resume mark: one of the two frozen 5 GiB agents covers it.
    for (const id of ['a', 'b']) host.add({ id, priority: 0, pausedAt: 0, cgroup: cgroups.set(id, { current: 5 * G, populated: 1 }) });
    const monitor = monitorOf({ interval: 100_000, pause: { holdLimit: '5s' } });
    await ticks(monitor, cgroups, [[0.84, {}], [0.84, {}], [0.84, {}], [0.84, {}], [0.84, {}], [0.84, {}]]);
    expect(host.kills.map((k) => k.id)).toEqual(['a']);
    // a's notice runs and its memory is still counted as used: no second eviction, tick after tick.
    await ticks(monitor, cgroups, [[0.84, {}], [0.84, {}], [0.84, {}]]);
    expect(host.kills.map((k) => k.id)).toEqual(['a']);
    // Once a's cgroup is empty its memory is no longer "leaving": an excess still there is b's to cover.
    cgroups.set('a', { populated: 0 });
    await ticks(monitor, cgroups, [[0.84, {}], [0.84, {}]]);
    expect(host.kills.map((k) => k.id)).toEqual(['a', 'b']);
  });

  it('does nothing without a host that can freeze, or with pause: false', async () => {
    vi.useFakeTimers({ now: 0 });
    const cgroups = fakeCgroups(2);
    for (const id of ['a', 'b']) host.add({ id, priority: 0, cgroup: cgroups.set(id, { current: G }) });
    const steps: Array<[number, Record<string, number>]> = [
      [0.86, { a: G, b: G }],
      [0.88, { a: 2 * G, b: 2 * G }],
      [0.9, { a: 3 * G, b: 3 * G }],
    ];
    const plain = monitorOf({ interval: 100_000 });
    await ticks(plain, cgroups, steps);
    host.withPause();
    const off = monitorOf({ interval: 100_000, pause: false });
    await ticks(off, cgroups, steps);
    expect(host.pauses).toEqual([]);
  });
});

describe('start() and stop()', () => {
  it('ticks at once and every interval; stop() leaves no timer and no open file behind', async () => {
    const cgroups = fakeCgroups(2);
    for (let i = 0; i < 5; i++) agent(cgroups, `a${i}`, 0, M);
    const proc = fakeTree({ meminfo: 'MemTotal: 1000 kB\nMemAvailable: 500 kB\n', 'pressure/memory': 'some avg10=0 avg60=0 avg300=0 total=0\n' });
    const monitor = new MemoryMonitor(host, { procRoot: proc.root, interval: 20 });
    monitors.push(monitor);
    const events = record(monitor);
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    monitor.start();
    monitor.start();
    expect(events.sample).toHaveLength(1);
    expect(monitor.running).toBe(true);
    // One timer, unref'd: a running monitor never keeps the process alive.
    expect(setTimeoutSpy).toHaveBeenCalledTimes(1);
    expect(setTimeoutSpy).toHaveBeenCalledWith(expect.any(Function), 20);
    expect((setTimeoutSpy.mock.results[0]!.value as NodeJS.Timeout).hasRef()).toBe(false);
    expect(timers()).toBe(before);
    setTimeoutSpy.mockRestore();
    await vi.waitFor(() => expect(events.sample.length).toBeGreaterThanOrEqual(4));
    expect(openFdsBelow(cgroups.tree.root).length).toBe(15);
    expect(openFdsBelow(proc.root).length).toBe(2);
    monitor.stop();
    expect(monitor.running).toBe(false);
    expect(openFdsBelow(cgroups.tree.root)).toEqual([]);
    expect(openFdsBelow(proc.root)).toEqual([]);
    const count = events.sample.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.sample).toHaveLength(count);
    expect(monitor.agentSamples('a0').length).toBe(count);
  });

  it('leaves no fake timer pending after stop(), even mid-round', async () => {
    vi.useFakeTimers();
    const cgroups = fakeCgroups(2);
    agent(cgroups, 'a', 0, M);
    agent(cgroups, 'b', 0, M);
    memory.usedRatio = 0.99;
    const monitor = monitorOf({ autoKill: true, autoKillMode: 'to-target', interval: 500, cooldown: '5s' });
    monitor.start();
    await vi.advanceTimersByTimeAsync(1200);
    expect(host.kills).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(2); // the tick timer and the cooldown
    monitor.stop();
    expect(vi.getTimerCount()).toBe(0);
    monitor.start();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    monitor.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
