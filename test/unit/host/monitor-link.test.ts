/**
 * The memory monitor wired to runs (monitor-link.ts), with fake runs: the pause policy freezes
 * and thaws through AgentRun.pause/resume (timeouts' clock stopped, events on agent and host),
 * a non-emergency kill is an eviction notice through the one stop path (reason `evicted`), an
 * emergency kill is at once (`relief`), `critical` cuts a notice's grace short, and relief
 * measures again only once the run has ended.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Cgroup } from '../../../src/cgroup/cgroup.js';
import { Admission } from '../../../src/host/admission.js';
import { AgentRun } from '../../../src/host/agent-run.js';
import { linkMonitor } from '../../../src/host/monitor-link.js';
import type { MemoryMonitor } from '../../../src/monitor/monitor.js';
import type { MemoryMonitorOptions } from '../../../src/monitor/types.js';
import { FakeMemory, fakeCgroups, type FakeCgroups } from '../monitor/fake-agents.js';
import { FakeCgroup, fakeWorld, spec, type FakeWorld } from './fake-run.js';

const G = 1024 ** 3;
const M = 1024 ** 2;

/** A fake run cgroup the monitor can sample: its figures live in a fake cgroupfs tree. */
class SampledCgroup extends FakeCgroup {
  constructor(
    name: string,
    readonly real: Cgroup,
  ) {
    super(name);
  }
  sampler(): ReturnType<Cgroup['sampler']> {
    return this.real.sampler();
  }
}

interface Linked {
  world: FakeWorld;
  cgroups: FakeCgroups;
  memory: FakeMemory;
  monitor: MemoryMonitor;
  runs: Map<string, AgentRun>;
  /** Host events as `event:id`. */
  hostEvents: string[];
  start(id: string, info?: { protected?: boolean; startedAt?: number; timeouts?: { soft?: number; hard?: number } }): Promise<AgentRun>;
  /** Sets the agents' usage and the host's, ticks, and lets a second pass. */
  tick(ratio: number, currents?: Record<string, number>): Promise<void>;
}

const monitors: MemoryMonitor[] = [];
afterEach(() => {
  for (const monitor of monitors.splice(0)) monitor.stop();
  vi.useRealTimers();
});

function linked(options: MemoryMonitorOptions = {}): Linked {
  const world = fakeWorld();
  const cgroups = fakeCgroups(2);
  const runs = new Map<string, AgentRun>();
  world.ctx.createCgroup = (id) => {
    const cgroup = new SampledCgroup(id, cgroups.set(id, { current: G, populated: 1 }));
    world.cgroups.push(cgroup);
    return cgroup;
  };
  const ended = world.ctx.ended;
  world.ctx.ended = (run) => {
    runs.delete(run.id);
    ended(run);
  };
  const memory = new FakeMemory();
  const hostEvents: string[] = [];
  const events = {
    emit: (event: string, ...args: unknown[]): boolean => {
      const first = args[0] as { id?: string } | undefined;
      hostEvents.push(`${event}:${first?.id ?? ''}`);
      return true;
    },
  };
  const admission = new Admission({ concurrency: Infinity });
  const monitor = linkMonitor({ interval: 100_000, readMemory: memory.read, cgroup: false, ...options }, { runs, admission, events: events as never, root: () => undefined });
  monitors.push(monitor);
  return {
    world,
    cgroups,
    memory,
    monitor,
    runs,
    hostEvents,
    async start(id, info = {}) {
      const run = new AgentRun(spec(id, { workspace: false, info: { id, command: 'agent', args: [], priority: 0, protected: info.protected ?? false, preferred: false }, timeouts: info.timeouts }), world.ctx);
      runs.set(id, run);
      await run.start();
      return run;
    },
    async tick(ratio, currents = {}) {
      memory.usedRatio = ratio;
      for (const [id, current] of Object.entries(currents)) cgroups.set(id, { current });
      await monitor.tick();
      await vi.advanceTimersByTimeAsync(1000);
    },
  };
}

describe('pause before kill, through the runs', () => {
  it('freezes the newest growing run (its timeouts paused), thaws it under the resume mark; events on agent and host', async () => {
    vi.useFakeTimers({ now: 0 });
    const l = linked();
    const old = await l.start('old', { timeouts: { soft: 60_000, hard: 120_000 } });
    await vi.advanceTimersByTimeAsync(10);
    const young = await l.start('young', { timeouts: { soft: 60_000, hard: 120_000 } });
    const agentEvents: string[] = [];
    young.agent.on('pause', (e) => agentEvents.push(`pause:${e.id}`));
    young.agent.on('resume', (e) => agentEvents.push(`resume:${e.id}`));
    await l.tick(0.8, { old: G, young: G });
    await l.tick(0.83, { old: G + 50 * M, young: G + 50 * M });
    await l.tick(0.86, { old: G + 100 * M, young: G + 100 * M });
    expect([old.state, young.state]).toEqual(['running', 'paused']);
    expect(young.pausedAt).toBeTypeOf('number');
    expect(young.timer?.paused).toBe(true);
    expect(old.timer?.paused).toBe(false);
    expect(l.world.cgroups[1]!.frozen).toBe(true);
    expect(l.hostEvents).toContain('pause:young');
    // Hysteresis: between the resume mark (0.80) and high it stays frozen; below, not rising, thawed.
    await l.tick(0.82);
    expect(young.state).toBe('paused');
    await l.tick(0.79);
    await l.tick(0.78);
    expect(young.state).toBe('running');
    expect(young.pausedAt).toBeUndefined();
    expect(young.timer?.paused).toBe(false);
    expect(agentEvents).toEqual(['pause:young', 'resume:young']);
    expect(l.hostEvents.filter((e) => e.startsWith('pause') || e.startsWith('resume'))).toEqual(['pause:young', 'resume:young']);
  });

  it('never freezes a protected run', async () => {
    vi.useFakeTimers({ now: 0 });
    const l = linked();
    await l.start('keeper', { protected: true });
    await l.start('other', { protected: true });
    await l.tick(0.8, { keeper: G, other: G });
    await l.tick(0.83, { keeper: G + 50 * M, other: G + 50 * M });
    await l.tick(0.86, { keeper: G + 100 * M, other: G + 100 * M });
    expect([...l.runs.values()].map((r) => r.state)).toEqual(['running', 'running']);
  });

  it('a frozen run held past holdLimit is evicted: thawed, the notice signal, the kill after the grace; reason evicted', async () => {
    vi.useFakeTimers({ now: 0 });
    const l = linked({ pause: { holdLimit: '3s' }, eviction: { minGrace: '2s', maxGrace: '4s' } });
    await l.start('runner');
    const frozen = await l.start('frozen');
    l.world.cgroups[1]!.trapsTerm = true;
    await frozen.pause();
    const result = frozen.result;
    for (let i = 0; i < 6 && frozen.state === 'paused'; i++) await l.tick(0.84, { runner: G, frozen: 4 * G });
    expect(frozen.state).toBe('stopping');
    expect(l.world.cgroups[1]!.calls).toEqual(['spawn', 'freeze', 'thaw', 'signal:SIGUSR2']);
    await vi.advanceTimersByTimeAsync(4000);
    expect((await result).reason).toBe('evicted');
    expect(l.world.events).toContain('kill:evicted');
  });
});

describe('relief kills through the one stop path', () => {
  it('below critical: a notice (SIGUSR2), the kill after the grace, reason evicted; critical cuts the grace short', async () => {
    vi.useFakeTimers({ now: 0 });
    const l = linked({ pause: false, eviction: { minGrace: '20s', maxGrace: '20s' }, releaseTimeout: '1s' });
    const victim = await l.start('victim');
    l.world.cgroups[0]!.trapsTerm = true;
    await l.tick(0.9, { victim: 2 * G });
    const relief = l.monitor.relieve({ targetPercent: 80, maxKills: 1 });
    await vi.advanceTimersByTimeAsync(50);
    expect(victim.state).toBe('stopping');
    expect(l.world.cgroups[0]!.calls).toEqual(['spawn', 'signal:SIGUSR2']);
    // Memory turns critical during the grace: the kill comes at once.
    await l.tick(0.96);
    const result = await victim.result;
    expect(result.reason).toBe('evicted');
    expect(l.world.cgroups[0]!.calls).toContain('kill');
    const report = await relief;
    expect(report.kills.map((k) => [k.id, k.eviction?.signal])).toEqual([['victim', 'SIGUSR2']]);
  });

  it('at critical (auto-kill): at once, reason relief', async () => {
    vi.useFakeTimers({ now: 0 });
    const l = linked({ pause: false, autoKill: true });
    const big = await l.start('big');
    await l.start('small');
    void big.result.then(() => (l.memory.usedRatio = 0.5));
    await l.tick(0.97, { big: 8 * G, small: 100 * M });
    await vi.advanceTimersByTimeAsync(100);
    expect((await big.result).reason).toBe('relief');
    expect(l.world.cgroups[0]!.calls).toEqual(['spawn', 'kill', 'delete']);
    expect(l.runs.has('small')).toBe(true);
  });

  it('after a notice the round waits for the run to end before it measures again (no second victim meanwhile)', async () => {
    vi.useFakeTimers({ now: 0 });
    const l = linked({ pause: false, eviction: { minGrace: '20s', maxGrace: '20s' }, releaseTimeout: '5s' });
    const first = await l.start('first');
    await l.start('second');
    l.world.cgroups[0]!.trapsTerm = true;
    l.cgroups.set('second', { current: G });
    await l.tick(0.9, { first: 12 * G, second: G });
    void first.result.then(() => (l.memory.usedRatio = 0.6));
    const relief = l.monitor.relieve({ targetPercent: 80 });
    await vi.advanceTimersByTimeAsync(15_000);
    expect(first.state).toBe('stopping');
    expect(l.runs.get('second')?.state).toBe('running');
    await vi.advanceTimersByTimeAsync(6_000);
    const report = await relief;
    expect(report.kills.map((k) => k.id)).toEqual(['first']);
    expect(report.outcome).toBe('target-reached');
    expect((await first.result).reason).toBe('evicted');
    expect(l.runs.get('second')?.state).toBe('running');
  });
});
