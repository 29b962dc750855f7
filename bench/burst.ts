/**
 * (2) Burst: 300 `sleep` agents asked for at once; the time until every one of them is running
 * (its spawn() resolved: cgroup made, limits set, process joined). Side by side, per run: the
 * same burst of bare child_process.spawn (until every 'spawn' event) and of Cgroup directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Cgroup, DEFAULT_AGENT_LIMITS, type Agent } from '../src/index.js';
import type { BenchEnv } from './lib/env.js';
import { execaShimSpawn, polledJoined } from './lib/alternatives.js';
import { profile } from './lib/profile.js';
import type { SectionResult, Table } from './lib/report.js';
import { median, mmm, ms, summarize } from './lib/stats.js';

interface BurstRun {
  bare: number;
  cgroup: number;
  /** Cgroup with the previous spawn path (execa + sh shim + polled join). */
  before: number;
  host: number;
  hostFirst: number;
  /** Agents that had already exited when the last one started (0: all were running at once). */
  exitedEarly: number;
  /** From the burst's start until every agent had exited and its cgroup was removed. */
  hostDone: number;
  /** The orchestrator's CPU time (ms) for the bare and the AgentHost burst, from the start until every child was reaped. */
  bareCpu: number;
  hostCpu: number;
}

/** Runs `fn` and adds the CPU time it took (ms) to its result, as `key`. */
async function withCpu<T extends object, K extends string>(key: K, fn: () => Promise<T>): Promise<T & Record<K, number>> {
  const start = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(start);
  return { ...result, [key]: (used.user + used.system) / 1000 } as T & Record<K, number>;
}

async function bareBurst(count: number, seconds: number): Promise<number> {
  const children: ChildProcess[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: count }, () => {
      const child = spawn('sleep', [String(seconds)], { stdio: 'ignore', detached: true });
      children.push(child);
      return new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    }),
  );
  const elapsed = performance.now() - start;
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : (child.once('exit', resolve), child.kill('SIGKILL'))))));
  return elapsed;
}

async function cgroupBurst(parent: Cgroup, count: number, seconds: number, run: string, before: boolean): Promise<number> {
  const start = performance.now();
  const cgroups: Cgroup[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const cgroup = Cgroup.create(parent, `b${run}-${i}`, { limits: DEFAULT_AGENT_LIMITS });
      cgroups.push(cgroup);
      if (before) {
        const subprocess = execaShimSpawn(cgroup, 'sleep', [String(seconds)]);
        return polledJoined(cgroup, subprocess);
      }
      return cgroup.joined(cgroup.spawn('sleep', [String(seconds)]));
    }),
  );
  const elapsed = performance.now() - start;
  await Promise.all(cgroups.map((cgroup) => cgroup.delete()));
  return elapsed;
}

export async function burst(env: BenchEnv): Promise<SectionResult> {
  const { burst: count, burstRuns, burstSleep } = env.scale;
  const parent = env.cgroup('burst-cgroup');
  const host = await env.host('burst-host');
  const hostBurst = async (run: number): Promise<Pick<BurstRun, 'host' | 'hostFirst' | 'exitedEarly' | 'hostDone'>> => {
    const start = performance.now();
    let first = Infinity;
    const agents: Agent[] = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const agent = await host.spawn(`r${run}-${i}`, { command: 'sleep', args: [String(burstSleep)] });
        first = Math.min(first, performance.now() - start);
        return agent;
      }),
    );
    const allRunning = performance.now();
    const exitedEarly = agents.filter((a) => a.state === 'exited').length;
    const results = await Promise.all(agents.map((a) => a.result));
    const bad = results.filter((r) => r.reason !== 'exit' || r.exitCode !== 0);
    if (bad.length > 0) throw new Error(`${bad.length} burst agents did not exit cleanly: ${JSON.stringify(bad[0])}`);
    return { host: allRunning - start, hostFirst: first, exitedEarly, hostDone: performance.now() - start };
  };
  const runs: BurstRun[] = [];
  for (let run = 0; run < burstRuns; run++) {
    const variants: (() => Promise<Partial<BurstRun>>)[] = [
      () => withCpu('bareCpu', async () => ({ bare: await bareBurst(count, burstSleep) })),
      async () => ({ cgroup: await cgroupBurst(parent, count, burstSleep, `c${run}`, false) }),
      async () => ({ before: await cgroupBurst(parent, count, burstSleep, `n${run}`, true) }),
      () => withCpu('hostCpu', () => hostBurst(run)),
    ];
    // Rotated each run, so the first burst's warm-up and a drift of the machine's load fall on each variant in turn.
    const order = [...variants.slice(run % variants.length), ...variants.slice(0, run % variants.length)];
    let measured: Partial<BurstRun> = {};
    for (const variant of order) measured = { ...measured, ...(await variant()) };
    runs.push(measured as BurstRun);
  }
  // One more AgentHost burst under the profiler: where the main thread's time goes.
  let profiledAgents: Agent[] = [];
  const summary = await profile(async () => {
    profiledAgents = await Promise.all(Array.from({ length: count }, (_, i) => host.spawn(`p-${i}`, { command: 'sleep', args: [String(burstSleep)] })));
  });
  await Promise.all(profiledAgents.map((a) => a.kill({ force: true })));
  const busy = summary.categories.filter(([c]) => c !== '(idle)').reduce((a, [, v]) => a + v, 0);
  const profileTable: Table = {
    title: `CPU profile of one more AgentHost burst of ${count}, until all running: ${ms(busy)} busy of ${ms(summary.totalMs)}`,
    columns: ['where', 'self time', 'per agent', 'share of busy'],
    rows: summary.categories.slice(0, 10).map(([c, v]) => [c, ms(v), ms(v / count), c === '(idle)' ? '–' : `${((v / busy) * 100).toFixed(0)} %`]),
  };
  const s = (pick: (r: BurstRun) => number) => summarize(runs.map(pick));
  const hostMedian = median(runs.map((r) => r.host));
  const early = Math.max(...runs.map((r) => r.exitedEarly));
  return {
    id: 'burst',
    title: `(2) Burst: ${count} \`sleep ${burstSleep}\` agents admitted and running`,
    headlines: [
      {
        metric: `burst of ${count} agents until all running (AgentHost)`,
        result: `${ms(hostMedian)} (${env.machine.cores} cores)`,
        target: '≤ 1.5 s on 2 cores',
        verdict: hostMedian <= 1500 && early === 0 ? 'met' : 'missed',
      },
    ],
    tables: [
      {
        columns: ['variant', `until all ${count} running: min / median / max`, 'per agent (median)'],
        rows: [
          ['child_process.spawn (bare)', mmm(s((r) => r.bare)), ms(median(runs.map((r) => r.bare)) / count)],
          ['Cgroup (create + limits + spawn + joined)', mmm(s((r) => r.cgroup)), ms(median(runs.map((r) => r.cgroup)) / count)],
          ['Cgroup, spawn as before (execa + sh shim + polled join)', mmm(s((r) => r.before)), ms(median(runs.map((r) => r.before)) / count)],
          ['AgentHost.spawn', mmm(s((r) => r.host)), ms(hostMedian / count)],
          ['AgentHost: first agent running', mmm(s((r) => r.hostFirst)), '–'],
          [`AgentHost: from the start until all ${count} exited, reaped and removed (sleep ${burstSleep} s)`, mmm(s((r) => r.hostDone)), '–'],
        ],
      },
      profileTable,
    ],
    notes: [
      `${burstRuns} run(s), the variants side by side in each (their order rotated from run to run); every AgentHost agent ran to its natural exit (exit 0); ${early} had already exited when the last one started.`,
      `The orchestrator's own CPU for a whole burst, until every child was reaped (median): bare spawn ${ms(median(runs.map((r) => r.bareCpu)))}, AgentHost ${ms(median(runs.map((r) => r.hostCpu)))}.`,
    ],
    figures: [
      { name: `burst of ${count}: AgentHost / bare spawn`, value: median(runs.map((r) => r.host / r.bare)), unit: '×' },
      { name: `burst of ${count}: Cgroup / bare spawn`, value: median(runs.map((r) => r.cgroup / r.bare)), unit: '×' },
      { name: `burst of ${count} CPU, until all reaped: AgentHost / bare spawn`, value: median(runs.map((r) => r.hostCpu / r.bareCpu)), unit: '×' },
    ],
    data: runs,
  };
}
