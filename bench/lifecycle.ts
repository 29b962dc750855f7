/**
 * (1) Full agent lifecycle — create a cgroup, set the seed's 4 limits, spawn /bin/true joined,
 * reap it, remove the cgroup — through the library (Cgroup directly, and AgentHost.spawn → result),
 * side by side with a bare child_process.spawn of the same command, libcgroup's tools and
 * systemd-run --scope. Variants run interleaved, round after round, so ratios compare figures
 * taken under the same load.
 */
import { relative } from 'node:path';
import { Cgroup, DEFAULT_AGENT_LIMITS, parseSize } from '../src/index.js';
import type { BenchEnv } from './lib/env.js';
import { execaShimSpawn, polledJoined } from './lib/alternatives.js';
import { available, run, runOk } from './lib/proc.js';
import type { Headline, SectionResult } from './lib/report.js';
import { median, mmm, ms, ratio, summarize } from './lib/stats.js';

const COMMAND = '/bin/true';

export interface Variant {
  name: string;
  /** What one operation includes. */
  does: string;
  setup?(): Promise<void> | void;
  op(i: number): Promise<void>;
  /** Why the variant cannot run here. */
  skip?: string;
}

export interface InterleavedResult {
  name: string;
  does: string;
  skip?: string;
  /** Median ms per operation of each round. */
  rounds: number[];
  /** Every operation's ms. */
  all: number[];
  /** Per-round ratio of this variant's median to the baseline's. */
  ratios: number[];
  /** The orchestrator's own CPU time (user + system) per operation, in ms. */
  cpu: number;
}

/**
 * Runs the variants round after round (rotating their order), each `perRound` times after a warm-up,
 * so every variant sees the same background load; ratios are taken round by round.
 */
export async function interleave(variants: Variant[], env: BenchEnv, baseline = variants[0]!.name): Promise<InterleavedResult[]> {
  const { rounds, perRound, warmup } = env.scale;
  const active = variants.filter((v) => v.skip === undefined);
  for (const v of active) await v.setup?.();
  const samples = new Map<string, number[][]>(active.map((v) => [v.name, []]));
  const cpu = new Map<string, number>(active.map((v) => [v.name, 0]));
  let counter = 0;
  for (let r = 0; r < rounds; r++) {
    const order = active.map((_, k) => active[(k + r) % active.length]!);
    for (const v of order) {
      for (let k = 0; k < warmup; k++) await v.op(counter++);
      const times: number[] = [];
      const cpuStart = process.cpuUsage();
      for (let k = 0; k < perRound; k++) {
        const start = performance.now();
        await v.op(counter++);
        times.push(performance.now() - start);
      }
      const used = process.cpuUsage(cpuStart);
      cpu.set(v.name, cpu.get(v.name)! + (used.user + used.system) / 1000);
      samples.get(v.name)!.push(times);
    }
  }
  const base = samples.get(baseline)!.map(median);
  return variants.map((v) => {
    const perRound = samples.get(v.name);
    if (!perRound) return { name: v.name, does: v.does, skip: v.skip, rounds: [], all: [], ratios: [], cpu: NaN };
    const medians = perRound.map(median);
    const all = perRound.flat();
    return { name: v.name, does: v.does, rounds: medians, all, ratios: medians.map((m, r) => m / base[r]!), cpu: cpu.get(v.name)! / all.length };
  });
}

/** cgcreate/cgexec/cgdelete take `controller:path` with the path relative to each hierarchy's mount. */
function libcgroupSpecs(cgroup: Cgroup): { all: string[]; memory: string; pids: string } {
  const { mounts } = cgroup.hierarchy;
  if (cgroup.version === 2) {
    const path = relative(mounts.unified!, cgroup.location.unified!);
    return { all: ['-g', `memory,pids:${path}`], memory: path, pids: path };
  }
  // memory and pids only: what a libcgroup user needs for these limits (the library's v1 freezer
  // directory is for race-free kills). Also, cgdelete 2.0.2 given three -g options leaves the third.
  const memory = relative(mounts.memory!, cgroup.location.memory!);
  const pids = relative(mounts.pids!, cgroup.location.pids!);
  return { all: ['-g', `memory:${memory}`, '-g', `pids:${pids}`], memory, pids };
}

/** The seed's 4 limits as cgset writes: one cgset per distinct path (v1 hierarchies may differ). */
function cgsetCalls(cgroup: Cgroup, memory: string, pids: string): string[][] {
  const max = parseSize(DEFAULT_AGENT_LIMITS.memoryMax!);
  const high = parseSize(DEFAULT_AGENT_LIMITS.memoryHigh!);
  const tasks = String(DEFAULT_AGENT_LIMITS.pidsMax);
  if (cgroup.version === 2) {
    return [['-r', `memory.high=${high}`, '-r', `memory.max=${max}`, '-r', 'memory.swap.max=0', '-r', `pids.max=${tasks}`, memory]];
  }
  const memoryWrites = ['-r', `memory.soft_limit_in_bytes=${high}`, '-r', `memory.limit_in_bytes=${max}`, '-r', `memory.memsw.limit_in_bytes=${max}`];
  return memory === pids
    ? [[...memoryWrites, '-r', `pids.max=${tasks}`, memory]]
    : [[...memoryWrites, memory], ['-r', `pids.max=${tasks}`, pids]];
}

export function lifecycleVariants(env: BenchEnv): Variant[] {
  let cgroupParent: Cgroup;
  let cgexecParent: Cgroup;
  let host: Awaited<ReturnType<BenchEnv['host']>>;
  const libcgroup = available('cgexec') && available('cgcreate') ? undefined : 'libcgroup tools (cgroup-tools) not installed';
  const systemd = !env.machine.systemd
    ? 'needs systemd as PID 1 (run the bench in the VM with `cgroup2-vm run --systemd`)'
    : available('systemd-run')
      ? undefined
      : 'systemd-run not installed';

  const viaLibcgroup = (withLimits: boolean) => async (i: number): Promise<void> => {
    const cgroup = cgexecParent.child(`x${i}`);
    const specs = libcgroupSpecs(cgroup);
    await runOk('cgcreate', specs.all);
    if (withLimits) for (const args of cgsetCalls(cgroup, specs.memory, specs.pids)) await runOk('cgset', args);
    await runOk('cgexec', [...specs.all, COMMAND]);
    await runOk('cgdelete', specs.all);
  };

  return [
    {
      name: 'child_process.spawn',
      does: `bare \`spawn('${COMMAND}')\` → exit: no cgroup, no limits (the baseline)`,
      op: async () => {
        const status = await run(COMMAND);
        if (status !== 0) throw new Error(`${COMMAND} exited ${status}`);
      },
    },
    {
      name: 'Cgroup',
      does: 'Cgroup.create(parent, name, { limits: 4 }) → cgroup.spawn() (forks from inside) → joined() → exit → delete()',
      setup: () => {
        cgroupParent = env.cgroup('lc-cgroup');
      },
      op: async (i) => {
        const cgroup = Cgroup.create(cgroupParent, `c${i}`, { limits: DEFAULT_AGENT_LIMITS });
        const subprocess = cgroup.spawn(COMMAND);
        await cgroup.joined(subprocess);
        const result = await subprocess;
        if (result.exitCode !== 0) throw new Error(`agent exited ${result.exitCode}`);
        await cgroup.delete();
      },
    },
    {
      name: 'Cgroup, spawn as before',
      does: 'the same with the previous spawn path: execa + the `sh` join shim, joined() polling cgroup.procs (before and after side by side)',
      op: async (i) => {
        const cgroup = Cgroup.create(cgroupParent, `b${i}`, { limits: DEFAULT_AGENT_LIMITS });
        const subprocess = execaShimSpawn(cgroup, COMMAND);
        await polledJoined(cgroup, subprocess);
        const result = await subprocess;
        if (result.exitCode !== 0) throw new Error(`agent exited ${result.exitCode}`);
        await cgroup.delete();
      },
    },
    {
      name: 'AgentHost',
      does: 'host.spawn(id, { command }) → agent.result (cgroup, 4 limits, state file, watcher, timeouts, cleanup)',
      setup: async () => {
        host = await env.host('lc-host');
      },
      op: async (i) => {
        const agent = await host.spawn(`a${i}`, { command: COMMAND });
        const result = await agent.result;
        if (result.exitCode !== 0 || result.reason !== 'exit') throw new Error(`agent ended: ${JSON.stringify(result)}`);
      },
    },
    {
      name: 'cgcreate+cgexec+cgdelete',
      does: 'libcgroup: `cgcreate`, `cgexec`, `cgdelete` (3 execs; no limits; memory and pids hierarchies on v1)',
      skip: libcgroup,
      setup: () => {
        cgexecParent = env.cgroup('lc-cgexec');
      },
      op: viaLibcgroup(false),
    },
    {
      name: '… + cgset (4 limits)',
      does: 'libcgroup with the same 4 limits: `cgcreate`, `cgset` (one per distinct v1 path), `cgexec`, `cgdelete`',
      skip: libcgroup,
      op: viaLibcgroup(true),
    },
    {
      name: 'systemd-run --scope',
      does: '`systemd-run --scope --quiet -p MemoryMax=4G -p MemoryHigh=3G -p MemorySwapMax=0 -p TasksMax=512 /bin/true`',
      skip: systemd,
      op: async () => {
        await runOk('systemd-run', ['--scope', '--quiet', '-p', 'MemoryMax=4G', '-p', 'MemoryHigh=3G', '-p', 'MemorySwapMax=0', '-p', 'TasksMax=512', COMMAND]);
      },
    },
  ];
}

export async function lifecycle(env: BenchEnv): Promise<SectionResult> {
  const results = await interleave(lifecycleVariants(env), env);
  const byName = new Map(results.map((r) => [r.name, r]));
  const rows = results.map((r) =>
    r.skip
      ? [r.name, 'skipped', '–', '–', '–', r.skip]
      : [r.name, mmm(summarize(r.rounds)), ratio(median(r.ratios)), `${ratio(Math.min(...r.ratios))} – ${ratio(Math.max(...r.ratios))}`, ms(r.cpu), r.does],
  );
  const headlines: Headline[] = [];
  for (const name of ['Cgroup', 'AgentHost']) {
    const r = byName.get(name)!;
    const x = median(r.ratios);
    headlines.push({
      metric: `lifecycle via ${name} / bare spawn`,
      result: `${ratio(x)} (${ms(median(r.rounds))} vs ${ms(median(byName.get('child_process.spawn')!.rounds))})`,
      target: '≤ 1.50×',
      verdict: x <= 1.5 ? 'met' : 'missed',
    });
  }
  const host = byName.get('AgentHost')!;
  for (const name of ['cgcreate+cgexec+cgdelete', 'systemd-run --scope']) {
    const other = byName.get(name)!;
    if (other.skip) {
      headlines.push({ metric: `AgentHost vs ${name}`, result: 'skipped', target: 'faster', verdict: 'skipped' });
      continue;
    }
    const x = median(other.rounds) / median(host.rounds);
    const result = x >= 1 ? `${ratio(x)} faster` : `${ratio(1 / x)} slower`;
    headlines.push({ metric: `AgentHost vs ${name}`, result: `${result} (${ms(median(host.rounds))} vs ${ms(median(other.rounds))})`, target: 'faster', verdict: x > 1 ? 'met' : 'missed' });
  }
  const { rounds, perRound } = env.scale;
  return {
    id: 'lifecycle',
    title: '(1) Full agent lifecycle of /bin/true',
    headlines,
    tables: [{ columns: ['variant', 'per op: min / median / max of round medians', 'ratio to bare (median)', 'ratio range', 'node CPU per op', 'one operation'], rows }],
    notes: [
      `${rounds} rounds × ${perRound} operations per variant (after ${env.scale.warmup} warm-up operations per round), variants interleaved and rotated each round; ratios are per-round medians over the bare spawn's median of the same round. "node CPU per op" is the orchestrator process's own user + system time (process.cpuUsage), not its children's.`,
    ],
    figures: ['Cgroup', 'AgentHost'].flatMap((name) => [
      { name: `lifecycle: ${name} / bare spawn`, value: median(byName.get(name)!.ratios), unit: '×' as const },
      // The orchestrator's own CPU per operation: what a change of the library's code moves, and less swayed by a loaded machine than wall time.
      { name: `lifecycle CPU: ${name} / bare spawn`, value: byName.get(name)!.cpu / byName.get('child_process.spawn')!.cpu, unit: '×' as const },
    ]),
    data: results.map(({ all, ...rest }) => ({ ...rest, p99: summarize(all).p99 })),
  };
}
