/**
 * Where the lifecycle's time goes: each step of one Cgroup lifecycle timed on its own, the spawn
 * mechanisms side by side (bare spawn, the sh join shim, execa, the join wait), the per-agent
 * extras AgentHost adds, and a CPU profile of the AgentHost loop. This is the "profile" the
 * benchmark issue asks for wherever the lifecycle target is missed.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';
import { Cgroup, DEFAULT_AGENT_LIMITS, TimeoutPolicy, whenSpawned, type Subprocess } from '../src/index.js';
import { StateStore } from '../src/host/state.js';
import type { BenchEnv } from './lib/env.js';
import { interleave, type Variant } from './lifecycle.js';
import { run } from './lib/proc.js';
import { execaShimSpawn, polledJoined, procsFiles, SHIM } from './lib/alternatives.js';
import { instrument, type Probe } from './lib/instrument.js';
import { profile } from './lib/profile.js';
import type { SectionResult, Table } from './lib/report.js';
import { median, mmm, ms, ratio, summarize } from './lib/stats.js';

const COMMAND = '/bin/true';
const EXECA_OPTIONS = {
  stdio: ['ignore', 'ignore', 'ignore'],
  detached: true,
  reject: false,
  buffer: false,
  cleanup: false,
  extendEnv: false,
  env: { PATH: process.env.PATH },
} as const;

function exited(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('exit', () => resolve());
    child.once('error', reject);
  });
}

function mechanismVariants(env: BenchEnv): Variant[] {
  let target: Cgroup;
  const options = { stdio: 'ignore', detached: true, env: { PATH: process.env.PATH } } as const;
  return [
    { name: 'child_process.spawn', does: '`spawn(/bin/true)` → exit', op: async () => void (await run(COMMAND)) },
    {
      name: 'child_process.spawn + sh shim',
      does: '`spawn(sh -c <join shim> … -- /bin/true)` → exit: the shim joins the cgroup, then execs (what a busy cgroup gets)',
      setup: () => {
        target = env.cgroup('mech');
      },
      op: () => exited(spawn('/bin/sh', ['-c', SHIM, 'nova-join', ...procsFiles(target), '--', COMMAND], options)),
    },
    {
      name: 'cgroup.spawn() + joined() (the library)',
      does: 'forks from inside the empty cgroup: the orchestrator steps in, spawns, steps out (v1: its thread; v2: the process) → exit',
      op: async () => {
        const subprocess = target.spawn(COMMAND);
        await target.joined(subprocess);
        await subprocess;
      },
    },
    { name: 'execa', does: 'execa(/bin/true) with the previous join.ts options → exit', op: async () => void (await execa(COMMAND, [], EXECA_OPTIONS)) },
    {
      name: 'execa + sh shim + polled joined() (before)',
      does: 'the previous cgroup.spawn() + joined(): execa(sh -c <join shim> …), poll cgroup.procs → exit',
      op: async () => {
        const subprocess = execaShimSpawn(target, COMMAND);
        await polledJoined(target, subprocess);
        await subprocess;
      },
    },
  ];
}

interface Steps {
  bare: number[];
  create: number[];
  limits: number[];
  spawnCall: number[];
  spawnEvent: number[];
  joined: number[];
  exit: number[];
  remove: number[];
  total: number[];
}

async function steps(env: BenchEnv, ops: number): Promise<Steps> {
  const parent = env.cgroup('steps');
  const s: Steps = { bare: [], create: [], limits: [], spawnCall: [], spawnEvent: [], joined: [], exit: [], remove: [], total: [] };
  for (let i = -env.scale.warmup; i < ops; i++) {
    const b0 = performance.now();
    await run(COMMAND);
    const b1 = performance.now();
    const t0 = performance.now();
    const cgroup = Cgroup.create(parent, `s${i + env.scale.warmup}`);
    const t1 = performance.now();
    cgroup.setLimits(DEFAULT_AGENT_LIMITS);
    const t2 = performance.now();
    const subprocess = cgroup.spawn(COMMAND);
    const t3 = performance.now();
    await whenSpawned(subprocess);
    const t4 = performance.now();
    await cgroup.joined(subprocess);
    const t5 = performance.now();
    await subprocess;
    const t6 = performance.now();
    await cgroup.delete();
    const t7 = performance.now();
    if (i < 0) continue;
    s.bare.push(b1 - b0);
    s.create.push(t1 - t0);
    s.limits.push(t2 - t1);
    s.spawnCall.push(t3 - t2);
    s.spawnEvent.push(t4 - t3);
    s.joined.push(t5 - t4);
    s.exit.push(t6 - t5);
    s.remove.push(t7 - t6);
    s.total.push(t7 - t0);
  }
  return s;
}

/** One AgentHost lifecycle step by step: the calls it makes, timed by wrapping them. */
async function hostLifecycleSteps(env: BenchEnv, ops: number): Promise<Table> {
  const host = await env.host('host-steps');
  const probes: Probe[] = [
    { target: Cgroup, method: 'create', label: 'Cgroup.create with limits' },
    { target: Cgroup.prototype, method: 'spawn', label: 'cgroup.spawn() (sync: step in, fork + exec, step out)' },
    { target: Cgroup.prototype, method: 'joined', label: 'cgroup.joined()' },
    { target: Cgroup.prototype, method: 'watch', label: 'cgroup.watch()' },
    { target: StateStore.prototype, method: 'write', label: 'state file write' },
    { target: Cgroup.prototype, method: 'peakMemory', label: 'cgroup.peakMemory() (exit report)' },
    { target: Cgroup.prototype, method: 'populated', label: 'cgroup.populated()' },
    { target: Cgroup.prototype, method: 'delete', label: 'cgroup.delete()' },
    { target: StateStore.prototype, method: 'remove', label: 'state file remove' },
  ];
  let n = 0;
  const times = await instrument(probes, async (record) => {
    for (let i = -env.scale.warmup; i < ops; i++) {
      const start = performance.now();
      const agent = await host.spawn(`h${n++}`, { command: COMMAND });
      const running = performance.now();
      await agent.result;
      if (i < 0) continue;
      record('spawn(): until it resolves (running)', running - start);
      record('… then until the result', performance.now() - running);
      record('lifecycle total', performance.now() - start);
    }
  });
  // The probes' lists include the few warm-up lifecycles: medians hardly move.
  const per = (label: string): number => median(times.get(label) ?? []);
  const total = per('lifecycle total');
  const rows = [...times.keys()].map((label) => [label, ms(per(label)), `${((per(label) / total) * 100).toFixed(0)} %`, String((times.get(label) ?? []).length)]);
  return {
    title: `Steps of one AgentHost lifecycle (median of ${ops}; calls wrapped and timed while host.spawn → result runs)`,
    columns: ['call', 'median', 'share of total', 'calls'],
    rows,
  };
}

/** Per-call cost of what AgentHost adds around each agent, in ms (median of `ops` calls). */
async function hostExtras(env: BenchEnv, ops: number): Promise<[string, number][]> {
  const live = Cgroup.create(env.cgroup('extras'), 'live', { limits: DEFAULT_AGENT_LIMITS });
  const store = new StateStore(join(env.dir, 'extras-state'));
  store.prepare();
  const policy = new TimeoutPolicy();
  const target = { signalMain() {}, signalAll() {}, killAll: async () => {}, onSoftTimeout() {}, onHardTimeout() {} };
  const record = { id: 'x', pid: 1, command: COMMAND, args: [], priority: 0, protected: false, preferred: false, startedAt: Date.now(), workspace: undefined, owner: process.pid };
  const each = async (fn: (i: number) => unknown): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < ops; i++) {
      const start = performance.now();
      await fn(i);
      times.push(performance.now() - start);
    }
    return median(times);
  };
  const parent = env.cgroup('extras-mk');
  return [
    ['Cgroup.create, no limits (mkdir per hierarchy)', await each((i) => Cgroup.create(parent, `m${i}`))],
    ['setLimits (the 4 limits)', await each((i) => parent.child(`m${i}`).setLimits(DEFAULT_AGENT_LIMITS))],
    ['delete() of an empty cgroup', await each((i) => parent.child(`m${i}`).delete())],
    ['StateStore write (JSON, write + rename) + remove', await each(() => (store.write(record), store.remove('x')))],
    ['cgroup.watch() + close() (inotify watches on v2)', await each(() => live.watch({ pollInterval: 0 }).close())],
    ['cgroup.peakMemory() (the exit report)', await each(() => live.peakMemory())],
    ['cgroup.stats() (what the exit report read before)', await each(() => live.stats())],
    ['cgroup.populated()', await each(() => live.populated())],
    ['TimeoutPolicy.arm() + clear() (default 15 min / 30 min)', await each(() => policy.arm(target).clear())],
  ];
}

export async function breakdown(env: BenchEnv): Promise<SectionResult> {
  const ops = env.scale.breakdownOps;
  const s = await steps(env, ops);
  const stepRows: [string, number[]][] = [
    ['Cgroup.create (mkdir per hierarchy)', s.create],
    ['setLimits (4 limits; 5 writes on v1)', s.limits],
    ['cgroup.spawn() call (sync: step in, fork + exec, step out)', s.spawnCall],
    ["… until the 'spawn' event", s.spawnEvent],
    ['joined() (nothing to wait for: born inside)', s.joined],
    ['… until the exit is reaped', s.exit],
    ['delete()', s.remove],
    ['total', s.total],
  ];
  const bare = median(s.bare);
  const stepsTable: Table = {
    title: `Steps of one Cgroup lifecycle (median of ${ops}; a bare spawn → exit of /bin/true took ${ms(bare)} alongside)`,
    columns: ['step', 'median', 'p90', 'share of total'],
    rows: stepRows.map(([name, v]) => {
      const sorted = [...v].sort((a, b) => a - b);
      return [name, ms(median(v)), ms(sorted[Math.floor(sorted.length * 0.9)]!), `${((median(v) / median(s.total)) * 100).toFixed(0)} %`];
    }),
  };

  const mechanisms = await interleave(mechanismVariants(env), env);
  const mechTable: Table = {
    title: 'Spawn mechanisms, /bin/true → exit, interleaved (joins an existing cgroup: no mkdir/rmdir)',
    columns: ['mechanism', 'per op: min / median / max of round medians', 'ratio to bare', 'node CPU per op', 'what'],
    rows: mechanisms.map((m) => [m.name, mmm(summarize(m.rounds)), ratio(median(m.ratios)), ms(m.cpu), m.does]),
  };

  const extras = await hostExtras(env, Math.max(50, ops));
  const extrasTable: Table = {
    title: 'Per-agent extras, one call each (median)',
    columns: ['call', 'median'],
    rows: extras.map(([name, v]) => [name, ms(v)]),
  };

  const hostSteps = await hostLifecycleSteps(env, ops);

  const host = await env.host('profile');
  let n = 0;
  const summary = await profile(async () => {
    for (let i = 0; i < ops; i++) await (await host.spawn(`p${n++}`, { command: COMMAND })).result;
  });
  const busy = summary.categories.filter(([c]) => c !== '(idle)').reduce((a, [, v]) => a + v, 0);
  const profTable: Table = {
    title: `CPU profile of ${ops} AgentHost lifecycles (inspector sampling profiler, self time; ${ms(summary.totalMs)} wall, ${ms(busy)} busy)`,
    columns: ['where', 'self time', 'per lifecycle', 'share of busy'],
    rows: summary.categories
      .slice(0, 14)
      .map(([c, v]) => [c, ms(v), ms(v / ops), c === '(idle)' ? '–' : `${((v / busy) * 100).toFixed(0)} %`]),
  };
  const topTable: Table = {
    title: 'Top functions by self time (idle excluded)',
    columns: ['function', 'self time', 'per lifecycle'],
    rows: summary.functions
      .filter(([f]) => !f.startsWith('(idle)'))
      .slice(0, 12)
      .map(([f, v]) => [f, ms(v), ms(v / ops)]),
  };

  return {
    id: 'breakdown',
    title: 'Profile: where the lifecycle time goes',
    headlines: [],
    tables: [stepsTable, mechTable, hostSteps, extrasTable, profTable, topTable],
    notes: [],
    data: { steps: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, summarize(v)])), mechanisms, extras, profile: summary.categories },
  };
}
