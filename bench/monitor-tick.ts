/**
 * (3) MemoryMonitor tick cost: the orchestrator's CPU time (process.cpuUsage around
 * `await monitor.tick()`) with 100 / 300 / 500 live agent cgroups, each with a process in it.
 * Beside it, the same agents read the plain way (cgroup.stats(): open, read, close every file).
 */
import { MemoryMonitor, type MonitorHost } from '../src/monitor/index.js';
import type { BenchEnv } from './lib/env.js';
import type { Figure, Headline, SectionResult } from './lib/report.js';
import { Sleepers } from './lib/sleepers.js';
import { ms, summarize } from './lib/stats.js';

function cpuMs(fn: () => unknown): { cpu: number; wall: number } {
  const cpu = process.cpuUsage();
  const start = performance.now();
  fn();
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1000, wall };
}

async function cpuMsAsync(fn: () => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await fn();
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1000, wall };
}

export async function monitorTick(env: BenchEnv): Promise<SectionResult> {
  const sleepers = new Sleepers(env.cgroup('tick'));
  env.defer(() => sleepers.close());
  const rows: string[][] = [];
  const headlines: Headline[] = [];
  const data: unknown[] = [];
  const figures: Figure[] = [];
  try {
    for (const count of env.scale.tickCounts) {
      await sleepers.grow(count);
      const host: MonitorHost = { agents: () => sleepers.list, kill: async () => {} };
      const monitor = new MemoryMonitor(host, { interval: 1000 });
      const errors: Error[] = [];
      monitor.on('error', (error) => errors.push(error));
      const first = await cpuMsAsync(() => monitor.tick());
      const ticks: { cpu: number; wall: number }[] = [];
      for (let i = 0; i < env.scale.ticks; i++) ticks.push(await cpuMsAsync(() => monitor.tick()));
      monitor.stop();
      if (errors.length > 0) throw new Error(`monitor errors: ${errors[0]!.message}`);
      const plain: { cpu: number; wall: number }[] = [];
      for (let i = 0; i < Math.min(5, env.scale.ticks); i++) plain.push(cpuMs(() => sleepers.list.forEach((s) => s.cgroup.stats())));
      const cpu = summarize(ticks.map((t) => t.cpu));
      const wall = summarize(ticks.map((t) => t.wall));
      rows.push([
        String(count),
        `${ms(cpu.min)} / ${ms(cpu.median)} / ${ms(cpu.max)}`,
        ms(wall.median),
        `${((cpu.median / count) * 1000).toFixed(1)} µs`,
        `${ms(first.cpu)}`,
        ms(summarize(plain.map((p) => p.cpu)).median),
      ]);
      data.push({ count, first, ticks, plain });
      figures.push({ name: `monitor tick at ${count}: CPU / cgroup.stats() of all`, value: cpu.median / summarize(plain.map((p) => p.cpu)).median, unit: '×' });
      if (count === Math.max(...env.scale.tickCounts)) {
        headlines.push({
          metric: `monitor tick CPU at ${count} agents (median)`,
          result: `${ms(cpu.median)} (max ${ms(cpu.max)})`,
          target: count >= 500 ? '≤ 10 ms at 500' : '≤ 10 ms at 500 (fewer measured)',
          verdict: count >= 500 ? (cpu.median <= 10 ? 'met' : 'missed') : 'info',
        });
      }
    }
  } finally {
    await sleepers.close();
  }
  return {
    id: 'monitor',
    title: '(3) MemoryMonitor tick with live agent cgroups',
    headlines,
    tables: [
      {
        columns: ['agents', 'CPU per tick: min / median / max', 'wall per tick (median)', 'CPU per agent', 'first tick CPU (opens files)', 'cgroup.stats() of all (reference)'],
        rows,
      },
    ],
    notes: [
      `${env.scale.ticks} ticks per step after a first one; each agent cgroup has the seed's limits and a \`sleep\` in it; CPU = process.cpuUsage() (user + system) around \`await monitor.tick()\`.`,
    ],
    figures,
    data,
  };
}
