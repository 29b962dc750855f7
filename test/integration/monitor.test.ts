/**
 * MemoryMonitor on the real kernel (cgroup v1 natively here, v2 in the VM): real cgroups below
 * a test parent under this process's own cgroup, real `sleep` and `stress-ng` agents, and a
 * minimal MonitorHost over a Map whose kill is `cgroup.kill()`. Host "used" memory is driven
 * by readMemory from which agents are still alive, never by filling RAM.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cgroup, type Limits, type Subprocess } from '../../src/index.js';
import { MemoryMonitor } from '../../src/monitor/index.js';
import type { AgentPressureEvent, HostMemory, MonitoredAgent, MonitorHost, ReliefKill, ReliefReport } from '../../src/monitor/index.js';
import { leftovers, testParent, uniqueName } from '../helpers/cgroups.js';
import { hasCommand, skipIf } from '../helpers/kernel.js';
import { isAlive } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

const M = 2 ** 20;
const self = Cgroup.self();
const v2 = self.version === 2;
process.stderr.write(`[monitor integration] cgroup v${self.version} (${self.hierarchy.mode}), own cgroup ${self.path}\n`);

const parent = testParent('monitor');

interface Live {
  agent: MonitoredAgent;
  pid: number;
}

/** The smallest MonitorHost: agents in a Map, kill = cgroup.kill(). */
class TestHost implements MonitorHost {
  readonly live = new Map<string, Live>();
  readonly kills: Array<{ id: string; info: ReliefKill; at: number }> = [];
  readonly cgroups: Cgroup[] = [];
  readonly processes: Subprocess[] = [];

  *agents(): Iterable<MonitoredAgent> {
    for (const { agent } of this.live.values()) yield agent;
  }

  async kill(id: string, info: ReliefKill): Promise<void> {
    this.kills.push({ id, info, at: performance.now() });
    const live = this.live.get(id);
    if (!live) throw new Error(`no agent ${id}`);
    await live.agent.cgroup.kill();
    this.live.delete(id);
  }

  async start(
    id: string,
    command: string,
    args: string[],
    options: { priority?: number; protected?: boolean; preferred?: boolean; limits?: Limits } = {},
  ): Promise<Live> {
    const cgroup = Cgroup.create(parent, uniqueName(id), { limits: options.limits ?? { memoryMax: '256M' } });
    this.cgroups.push(cgroup);
    const subprocess = cgroup.spawn(command, args);
    this.processes.push(subprocess);
    const pid = await cgroup.joined(subprocess);
    const { limits: _, priority = 0, ...flags } = options;
    const live = { agent: { id, cgroup, priority, ...flags }, pid };
    this.live.set(id, live);
    return live;
  }

  async cleanup(): Promise<void> {
    for (const cgroup of this.cgroups.splice(0)) {
      await cgroup.delete();
      expect(leftovers(cgroup)).toEqual({ cgroups: [], pids: [] });
    }
    await Promise.all(this.processes.splice(0));
  }
}

/** Keeps `megabytes` resident and then sleeps (no CPU burned); `--oomable` so it never respawns. */
const hog = (megabytes: number, extra: string[] = ['--vm-hang', '0']): string[] => [
  '--vm', '1', '--vm-bytes', `${megabytes}M`, '--vm-keep', '--oomable', '--timeout', '300s', '--quiet', ...extra,
];

let host: TestHost;
const monitors: MemoryMonitor[] = [];
afterEach(async () => {
  for (const monitor of monitors.splice(0)) monitor.stop();
  await host?.cleanup();
});

beforeAll(() => {
  host = new TestHost();
});

describe('host memory and samples', () => {
  it('reads the real /proc/meminfo (and PSI where the kernel has it)', () => {
    const monitor = new MemoryMonitor(new TestHost());
    monitors.push(monitor);
    const memory: HostMemory = monitor.hostMemory();
    expect(memory.total).toBe(totalmem());
    expect(memory.usedRatio).toBeGreaterThan(0);
    expect(memory.usedRatio).toBeLessThan(1);
    expect(memory.used + memory.available).toBe(memory.total);
    expect(memory.pressure !== undefined).toBe(hasPsi());
  });

  it('samples real agents: usage, events and (v2) PSI through files kept open', async (ctx) => {
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed');
    host = new TestHost();
    const big = await host.start('big', 'stress-ng', hog(20));
    await host.start('idle', 'sleep', ['300']);
    const monitor = new MemoryMonitor(host, { samples: 5 });
    monitors.push(monitor);
    await waitFor(async () => {
      await monitor.tick();
      return (monitor.agentSamples('big').at(-1)?.current ?? 0) >= 20 * M;
    });
    const sample = monitor.agentSamples('big').at(-1)!;
    expect(sample.current).toBeLessThan(64 * M);
    expect(sample.pressure !== undefined).toBe(v2 && big.agent.cgroup.stats().pressure !== undefined);
    expect(monitor.agentSamples('idle').at(-1)!.current).toBeLessThan(16 * M);
    for (let i = 0; i < 6; i++) await monitor.tick();
    expect(monitor.agentSamples('big')).toHaveLength(5);
    // A cgroup removed under the monitor's open files (ENODEV on read) is skipped, not an error.
    const errors: Error[] = [];
    monitor.on('error', (error) => errors.push(error));
    const idle = host.live.get('idle')!.agent.cgroup;
    const before = monitor.agentSamples('idle').at(-1)!;
    await idle.delete();
    await monitor.tick();
    expect(errors).toEqual([]);
    expect(monitor.agentSamples('idle').at(-1)).toEqual(before);
  });
});

describe('relief', () => {
  /**
   * Five agents on a pretend 200 MiB host: 63 % used besides them, and each hog's 20 MiB (10 %)
   * while its cgroup is populated — memory is back once the cgroup is empty, as on a real host.
   * `bump` pushes the host to critical. Default policy order: preferred, big (prio 0, the larger
   * working set), small (prio 0), important (prio 3); guarded never.
   */
  const shares: Record<string, number> = { big: 0.1, important: 0.1 };
  const TOTAL = 200 * M;
  let bump = 0;
  const readMemory = (): HostMemory => {
    let ratio = 0.63 + bump;
    for (const [id, share] of Object.entries(shares)) {
      const cgroup = host.cgroups.find((c) => c.name.includes(`-${id}-`));
      if (cgroup?.populated()) ratio += share;
    }
    const used = Math.round(ratio * TOTAL);
    return { total: TOTAL, available: TOTAL - used, used, usedRatio: used / TOTAL };
  };

  async function fleet(): Promise<Record<'preferred' | 'big' | 'small' | 'important' | 'guarded', Live>> {
    host = new TestHost();
    bump = 0;
    const agents = {
      preferred: await host.start('preferred', 'sleep', ['300'], { priority: 5, preferred: true }),
      big: await host.start('big', 'stress-ng', hog(20)),
      small: await host.start('small', 'sleep', ['300']),
      important: await host.start('important', 'stress-ng', hog(20), { priority: 3 }),
      guarded: await host.start('guarded', 'sleep', ['300'], { priority: -1, protected: true }),
    };
    // The hogs must hold their memory before the policy compares working sets.
    for (const id of ['big', 'important'] as const) {
      const sampler = agents[id].agent.cgroup.sampler();
      await waitFor(() => (sampler.usage()?.workingSet ?? 0) >= 18 * M, { message: `${id}: stress-ng holds 20M` });
      sampler.close();
    }
    expect(readMemory().usedRatio).toBeCloseTo(0.83, 6);
    return agents;
  }

  it('dry run kills nothing and reports the plan', async (ctx) => {
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed');
    const agents = await fleet();
    const monitor = new MemoryMonitor(host, { readMemory });
    monitors.push(monitor);
    const report = await monitor.relieve({ dryRun: true, targetPercent: 1 });
    expect(report.kills.map((k) => k.id)).toEqual(['preferred', 'big', 'small', 'important']);
    expect(report).toMatchObject({ dryRun: true, outcome: 'no-candidates', failures: [] });
    expect(report.kills[1]!.workingSet).toBeGreaterThanOrEqual(18 * M);
    expect((await monitor.relieve({ dryRun: true, targetPercent: 79 })).kills.map((k) => k.id)).toEqual(['big']);
    expect(host.kills).toEqual([]);
    for (const live of Object.values(agents)) {
      expect(isAlive(live.pid), live.agent.id).toBe(true);
      expect(live.agent.cgroup.populated()).toBe(true);
    }
  });

  it('kills the fewest real agents covering the deficit, measures once their cgroups are empty, stops at the target', async (ctx) => {
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed');
    const agents = await fleet();
    const monitor = new MemoryMonitor(host, { readMemory, eviction: false });
    monitors.push(monitor);
    const reliefs: ReliefReport[] = [];
    monitor.on('relief', (r) => reliefs.push(r));
    // 83 % → 79 %: 8 MiB over; big's 20 MiB cover it alone (preferred's few hundred KiB would not).
    const report = await monitor.relieve({ targetPercent: 79 });
    expect(host.kills.map((k) => k.id)).toEqual(['big']);
    expect(report.outcome).toBe('target-reached');
    expect(Math.round(report.after.usedRatio * 100)).toBe(73);
    expect(reliefs).toEqual([report]);
    expect(agents.big.agent.cgroup.populated()).toBe(false);
    expect(isAlive(agents.big.pid)).toBe(false);
    for (const id of ['preferred', 'small', 'important', 'guarded'] as const) expect(isAlive(agents[id].pid), id).toBe(true);
  });

  it('auto-kill at critical kills until the alarm clears, not down to reliefTarget', async (ctx) => {
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed');
    const agents = await fleet();
    const monitor = new MemoryMonitor(host, { readMemory, autoKill: true, interval: 100, cooldown: 100, reliefTarget: 0.5 });
    monitors.push(monitor);
    const reliefs: ReliefReport[] = [];
    monitor.on('relief', (r) => reliefs.push(r));
    monitor.start();
    expect(monitor.level).toBe('normal');
    bump = 0.14; // 97 %
    await waitFor(() => reliefs.length > 0, { message: 'an auto-kill round' });
    // 97 % → 87 % once big is gone: under the clear mark (93 %), far above reliefTarget.
    expect(reliefs[0]).toMatchObject({ trigger: 'auto-kill', outcome: 'alarm-cleared' });
    expect(host.kills.map((k) => [k.id, k.info.trigger, k.info.eviction])).toEqual([['big', 'auto-kill', undefined]]);
    for (const id of ['preferred', 'small', 'important', 'guarded'] as const) expect(isAlive(agents[id].pid), id).toBe(true);
    monitor.stop();
  });

  it("the previous release's auto-kill ('to-target') works down to reliefTarget, one kill per cooldown", async (ctx) => {
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed');
    const agents = await fleet();
    const cooldown = 150;
    const monitor = new MemoryMonitor(host, { readMemory, autoKill: true, autoKillMode: 'to-target', interval: 100, cooldown, reliefTarget: 0.85 });
    monitors.push(monitor);
    const reliefs: ReliefReport[] = [];
    monitor.on('relief', (r) => reliefs.push(r));
    monitor.start();
    bump = 0.14;
    await waitFor(() => reliefs.length > 0, { message: 'an auto-kill round' });
    // 97 → preferred 97 → big 87 → small 87 → important 77 < 85.
    expect(reliefs[0]).toMatchObject({ trigger: 'auto-kill', outcome: 'target-reached' });
    expect(host.kills.map((k) => k.id)).toEqual(['preferred', 'big', 'small', 'important']);
    for (let i = 1; i < host.kills.length; i++) expect(host.kills[i]!.at - host.kills[i - 1]!.at).toBeGreaterThanOrEqual(cooldown - 2);
    expect(isAlive(agents.guarded.pid)).toBe(true);
    monitor.stop();
  });
});

describe('pause before kill', () => {
  /** Grows 2 MB every 100 ms up to 48 MB, then holds (a node process, pages written). */
  const GROWER = "const held = []; const t = setInterval(() => { held.push(Buffer.alloc(2 << 20, 1)); if (held.length >= 24) clearInterval(t); }, 100); setInterval(() => {}, 1000);";

  it('freezes the newest growing agent while the host is above high and rising, and thaws it under the resume mark', async () => {
    host = new TestHost();
    const frozenAt = new Map<string, number>();
    const calls: string[] = [];
    // The host's half: freeze / thaw the cgroup, and say who is frozen (pausedAt).
    const pausing: MonitorHost = {
      agents: () => [...host.agents()].map((a) => ({ ...a, pausedAt: frozenAt.get(a.id) })),
      kill: (id, info) => host.kill(id, info),
      pause: async (id) => {
        await host.live.get(id)!.agent.cgroup.freeze();
        frozenAt.set(id, Date.now());
        calls.push(`pause:${id}`);
      },
      resume: async (id) => {
        await host.live.get(id)!.agent.cgroup.thaw();
        frozenAt.delete(id);
        calls.push(`resume:${id}`);
      },
    };
    const old = await host.start('old', process.execPath, ['-e', GROWER]);
    const young = await host.start('young', process.execPath, ['-e', GROWER]);
    const startedAt: Record<string, number> = { old: 1, young: 2 };
    const usage = (live: Live): number => live.agent.cgroup.stats().memory.current;
    // A pretend 400 MiB host at 80 % besides the agents' growth since the start.
    const TOTAL = 400 * M;
    const base = usage(old) + usage(young);
    let offset = 0.8;
    const readMemory = (): HostMemory => {
      let grown = 0;
      for (const live of [old, young]) if (live.agent.cgroup.populated()) grown += usage(live);
      const used = Math.round((offset + (grown - base) / TOTAL) * TOTAL);
      return { total: TOTAL, available: TOTAL - used, used, usedRatio: used / TOTAL };
    };
    const monitor = new MemoryMonitor(
      { ...pausing, agents: () => [...pausing.agents()].map((a) => ({ ...a, startedAt: startedAt[a.id] })) },
      { readMemory, interval: 200, eviction: false },
    );
    monitors.push(monitor);
    monitor.start();
    await waitFor(() => calls.includes('pause:young'), { timeout: 30_000, message: 'young frozen' });
    // Only the newest: the last running agent is never frozen.
    expect(calls).toEqual(['pause:young']);
    const held = usage(young);
    await waitFor(() => usage(old) >= 48 * M, { timeout: 30_000, message: 'old grown to 48 MB' });
    expect(usage(young)).toBeLessThanOrEqual(held + M); // frozen: it grows no more
    expect(isAlive(young.pid)).toBe(true);
    // Memory comes back well under the resume mark (80 %), with room for young's growth: thawed, it grows on.
    offset = 0.3;
    await waitFor(() => calls.includes('resume:young'), { timeout: 30_000, message: 'young thawed' });
    await waitFor(() => usage(young) >= 48 * M, { timeout: 60_000, message: `young grows again (calls: ${calls.join(', ')})` });
    expect(calls).toEqual(['pause:young', 'resume:young']);
    expect(host.kills).toEqual([]);
    monitor.stop();
  });
});

describe('pressure at memory.high (v2)', () => {
  it('an agent held at memory.high produces a throttled pressure event', async (ctx) => {
    skipIf(ctx, !v2 && 'cgroup v1 has no memory.high and no memory.events `high` counter (run it in the v2 VM)');
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed');
    host = new TestHost();
    const monitor = new MemoryMonitor(host, { interval: 200 });
    monitors.push(monitor);
    const events: AgentPressureEvent[] = [];
    monitor.on('pressure', (e) => {
      if (e.scope === 'agent') events.push(e);
    });
    const idle = await host.start('idle', 'sleep', ['300'], { limits: { memoryHigh: '16M', memoryMax: '64M', swapMax: 0 } });
    const limits = { memoryHigh: '16M', memoryMax: '64M', swapMax: 0 };
    const throttled = Cgroup.create(parent, uniqueName('throttled'), { limits });
    host.cgroups.push(throttled);
    host.live.set('throttled', { agent: { id: 'throttled', cgroup: throttled, priority: 0 }, pid: 0 });
    monitor.start(); // baseline samples before the hog starts
    const hogProcess = throttled.spawn('stress-ng', hog(40, []));
    host.processes.push(hogProcess);
    await throttled.joined(hogProcess);
    await waitFor(() => events.some((e) => e.id === 'throttled' && e.kind === 'throttled'), {
      timeout: 60_000,
      message: "a 'throttled' pressure event",
    });
    const event = events.find((e) => e.kind === 'throttled')!;
    expect(event.sample.highDelta).toBeGreaterThan(0);
    expect(event.sample.events.high).toBeGreaterThan(0);
    expect(throttled.stats().memory.events.high).toBeGreaterThanOrEqual(event.sample.events.high);
    expect(events.filter((e) => e.id === 'idle')).toEqual([]);
    expect(isAlive(idle.pid)).toBe(true);
    process.stderr.write(
      `[monitor integration] throttled agent: high=${event.sample.events.high}, PSI full avg10=${
        monitor.agentSamples('throttled').at(-1)?.pressure?.full?.avg10
      }\n`,
    );
  });
});

function hasPsi(): boolean {
  try {
    return readFileSync('/proc/pressure/memory', 'utf8').startsWith('some ');
  } catch {
    return false;
  }
}
