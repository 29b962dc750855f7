/**
 * (8) Overcommit: agents that grow after they start, more of them than memory holds at once.
 * Several loads (sizes, growth rates, start patterns; one that can never fit, so kills are
 * unavoidable), each run by every arm side by side in one bench run:
 *   plain       child_process.spawn, no cgroups, no monitor
 *   limits      per-agent limits only (Cgroup.create + cgroup.spawn), no monitor
 *   previous    the previous release: AgentHost with monitor { autoKill: true } and its round
 *               (autoKillMode 'to-target', no notices, no pausing, no limits on the agents' root);
 *               and the same with this release's kernel backstop on the agents' root
 *   relief      AgentHost with monitor { autoKill: true } and only this release's relief:
 *               release-aware, stops once the alarm clears (no admission by peak, no pause, no notices)
 *   defaults    the new defaults in full: a real AgentHost with monitor { autoKill: true } and
 *               nothing else (admission by expected peak, pause before kill, eviction notices); and
 *               the same without the kernel backstop on the agents' root (agentsMemoryMax: false)
 * Measured per arm: agents completed; killed, and by whom (kernel global OOM, memcg OOM — from
 * the kernel log — or the library); the orchestrator's worst event-loop stall while memory is
 * ≥ 80 %; peak memory; wall time. It fills the machine's memory on purpose, with the kernel's
 * global OOM killer as the plain arm's only defence: it runs only in the test VM.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cgroup, type AgentHost, type AgentHostOptions, type Limits } from '../src/index.js';
import type { BenchEnv } from './lib/env.js';
import { KernelLog } from '../test/helpers/kmsg.js';
import { usedRatio, watchPressure } from './lib/pressure-watch.js';
import { skippedSection, type Headline, type SectionResult } from './lib/report.js';

const CHILD = join(import.meta.dirname, 'overcommit-child.mjs');
/** The issue's per-agent limits: no agent alone is near them. */
const LIMITS: Limits = { memoryMax: '400M', memoryHigh: '300M', swapMax: 0, pidsMax: 512 };
/** A run that has not ended by then is stopped (its agents count as timed out). */
const RUN_LIMIT_MS = 300_000;

interface AgentSpec {
  id: string;
  /** ms after the run's start. */
  startAt: number;
  targetMb: number;
  stepMb: number;
  stepMs: number;
  holdMs: number;
  /** The spawn option `expectedMemory` the library arms pass (an agent that says how much it wants, rightly or not). */
  expectedMemory?: string;
}

interface Load {
  name: string;
  description: string;
  agents: AgentSpec[];
}

/**
 * Sizes are for a 2 GiB machine, scaled to this one's memory (node's own ~40 MB each is not).
 * `NOVA_OVERCOMMIT_SMOKE=1` shrinks them to a few MB: a check of the harness that fills nothing,
 * safe outside the VM.
 */
const SMOKE = process.env.NOVA_OVERCOMMIT_SMOKE === '1';
function loads(memTotal: number): Load[] {
  const f = SMOKE ? 0.05 : memTotal / 2 ** 31;
  const mb = (n: number): number => Math.max(1, Math.round(n * f));
  /** `count` agents `gap` ms apart, growing to `sizes` (cycled) in `step` MB every `every` ms, holding `hold` ms. */
  const agents = (prefix: string, count: number, gap: number, sizes: number[], step: number, hold: number, every = 1000): AgentSpec[] =>
    Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, startAt: i * gap, targetMb: mb(sizes[i % sizes.length]!), stepMb: mb(step), stepMs: every, holdMs: hold }));
  const gentle = agents('fit', 10, 1500, [130, 170, 210, 150, 190], 10, 6000);
  // The issue's load: together they want ~1.4× the machine, one after the other they fit.
  const crowded = agents('crowd', 12, 1500, [160, 190, 220, 175, 205, 165], 10, 10_000);
  const never = agents('hold', 8, 200, [230], 20, 12_000);
  // Faster than a 1 s monitor can always act on: ten growing together add ~5 % of the machine per second.
  const fast = agents('fast', 14, 1500, [140, 240, 165, 215, 190], 12, 10_000, 1200);
  // Agents that say they need 100 MB and grow to 320 MB, held for a minute: admission trusts them, so the
  // set admitted can never fit and someone must go — the question is who, how many, and with what warning.
  const liars = agents('liar', 6, 500, [320], 20, 60_000).map((spec) => ({ ...spec, expectedMemory: `${mb(100)}M` }));
  const all = [
    { name: 'fits, gentle', description: `10 agents 1.5 s apart, ${mb(130)}–${mb(210)} MB each in ${mb(10)} MB steps per second, held 6 s`, agents: gentle },
    { name: 'fits over time, crowded', description: `12 agents 1.5 s apart, ${mb(160)}–${mb(220)} MB each in ${mb(10)} MB steps per second, held 10 s`, agents: crowded },
    { name: 'never fits at once', description: `8 agents at once, ${mb(230)} MB each in ${mb(20)} MB steps per second, held 12 s`, agents: never },
    { name: 'fast growth', description: `14 agents 1.5 s apart, ${mb(140)}–${mb(240)} MB each in ${mb(12)} MB steps every 1.2 s, held 10 s`, agents: fast },
    {
      name: 'never fits (understated needs)',
      description: `6 agents 0.5 s apart that declare expectedMemory ${mb(100)}M and grow to ${mb(320)} MB in ${mb(20)} MB steps per second, held 60 s`,
      agents: liars,
    },
  ];
  // NOVA_OVERCOMMIT_LOADS=crowded,never: only the loads whose names contain one of these words.
  const only = process.env.NOVA_OVERCOMMIT_LOADS?.split(',');
  return only === undefined ? all : all.filter((load) => only.some((word) => load.name.includes(word)));
}

/** How one agent of one arm ended. */
interface Outcome {
  /** Killed by the library after a notice (`evicted`), of the `library` kills. */
  evicted?: boolean;
  pid: number | undefined;
  completed: boolean;
  /** Killed by the library (a relief kill). */
  library: boolean;
  timedOut: boolean;
}

interface Launched {
  pid: () => number | undefined;
  done: Promise<Outcome>;
  stop: () => Promise<void>;
}

interface Arm {
  name: string;
  /** `load`: the load's name, for arms that keep what they learned from one run of it to the next. */
  open(env: BenchEnv, label: string, load: string): Promise<{ launch(spec: AgentSpec): Launched; close(): Promise<void> }>;
}

const argsOf = (s: AgentSpec): string[] => [CHILD, String(s.targetMb), String(s.stepMb), String(s.stepMs), String(s.holdMs)];

const plain: Arm = {
  name: 'plain child_process.spawn',
  async open() {
    return {
      launch(spec) {
        const child = spawn(process.execPath, argsOf(spec), { stdio: 'ignore' });
        let timedOut = false;
        const done = new Promise<Outcome>((resolve) =>
          child.once('close', (code) => resolve({ pid: child.pid, completed: code === 0 && !timedOut, library: false, timedOut })),
        );
        return {
          pid: () => child.pid,
          done,
          stop: async () => {
            timedOut = true;
            child.kill('SIGKILL');
          },
        };
      },
      close: async () => {},
    };
  },
};

const limitsOnly: Arm = {
  name: 'per-agent limits only',
  async open(env, label) {
    const parent = env.cgroup(label);
    const made: Cgroup[] = [];
    return {
      launch(spec) {
        const cgroup = Cgroup.create(parent, spec.id, { limits: LIMITS });
        made.push(cgroup);
        const child = cgroup.spawn(process.execPath, argsOf(spec), { stdio: 'ignore' });
        let timedOut = false;
        const done = child.then((result) => ({ pid: child.pid, completed: result.exitCode === 0 && !timedOut, library: false, timedOut }));
        return {
          pid: () => child.pid,
          done,
          stop: async () => {
            timedOut = true;
            await cgroup.kill();
          },
        };
      },
      async close() {
        for (const cgroup of made) await cgroup.delete().catch(() => undefined);
        await parent.delete().catch(() => undefined);
      },
    };
  },
};

/**
 * An AgentHost arm; each agent's profile is its load's target size (agents alike in memory are learned
 * together). Arms with the same `memory` name share a state directory per load: the second of them
 * starts with the peaks the first learned, as an orchestrator restarted on the same host would.
 */
function library(name: string, options: Partial<AgentHostOptions>, memory?: string): Arm {
  return {
    name,
    async open(env, label, load) {
      const stateDir = memory === undefined ? {} : { stateDir: join(env.dir, `peaks-${memory}-${load.replace(/\W+/g, '-')}`) };
      const host: AgentHost = await env.host(label, { limits: LIMITS, timeouts: false, ...stateDir, ...options });
      if (TRACE !== undefined) traceHost(host, `${label} ${name}`);
      return {
        launch(spec) {
          let pid: number | undefined;
          let timedOut = false;
          const done = host
            .spawn(spec.id, {
              command: process.execPath,
              args: argsOf(spec),
              stdio: 'ignore',
              profile: `${spec.targetMb}M`,
              ...(spec.expectedMemory !== undefined && { expectedMemory: spec.expectedMemory }),
            })
            .then(async (agent) => {
              pid = agent.pid;
              const result = await agent.result;
              const evicted = result.reason === 'evicted';
              return { pid, completed: result.reason === 'exit' && result.exitCode === 0, library: evicted || result.reason === 'relief', evicted, timedOut };
            });
          return {
            pid: () => pid,
            done,
            stop: async () => {
              timedOut = true;
              await host.kill(spec.id, { force: true }).catch(() => undefined);
            },
          };
        },
        close: () => host.dispose(),
      };
    },
  };
}

/**
 * `NOVA_OVERCOMMIT_TRACE=FILE`: the library arms' decisions as JSON lines (ms since the arm's start,
 * event, figures) — why an agent waited, who was paused, evicted or killed — to see where time goes.
 */
const TRACE = process.env.NOVA_OVERCOMMIT_TRACE;
function traceHost(host: AgentHost, arm: string): void {
  const start = performance.now();
  const write = (event: string, data: object): void =>
    appendFileSync(TRACE!, `${JSON.stringify({ arm, t: Math.round(performance.now() - start), event, ...data })}\n`);
  host.on('queue', (e) => write('queue', { id: e.id, reason: e.reason, running: e.running, size: e.size, memory: e.memory }));
  host.on('spawn', (agent) => write('spawn', { id: agent.id }));
  host.on('exit', (agent, r) => write('exit', { id: r.id, reason: r.reason, peak: r.peakMemory }));
  host.on('pause', (agent, e) => write('pause', { ...e }));
  host.on('resume', (agent, e) => write('resume', { ...e }));
  host.on('kill', (agent, e) => write('kill', { id: agent.id, ...e }));
  host.on('pressure', (e) => {
    if (e.scope === 'host') write('pressure', { level: e.level, used: e.memory.used, total: e.memory.total });
  });
}

/** The previous release's relief: kill to the target at once, no notices, no pausing, admission by usage now. */
const PREVIOUS: Partial<AgentHostOptions> = { peaks: false, monitor: { autoKill: true, autoKillMode: 'to-target', eviction: false, pause: false } };

const ARMS: Arm[] = [
  plain,
  limitsOnly,
  // It had no limits on the agents' root.
  library('previous release: monitor { autoKill: true }', { ...PREVIOUS, agentsMemoryMax: false }),
  library('previous release with the kernel backstop', PREVIOUS),
  library('relief only (release-aware, stops when the alarm clears)', { peaks: false, agentsMemoryMax: false, monitor: { autoKill: true, eviction: false, pause: false } }),
  library('new defaults: AgentHost { monitor: { autoKill: true } }', { monitor: { autoKill: true } }, 'defaults'),
  // An orchestrator that ran this load before: the peaks learned above are in its state directory.
  library('new defaults, restarted (peaks learned by the run above)', { monitor: { autoKill: true } }, 'defaults'),
  // The backstop keeps the system reserve and headroom out of the agents' root, and the monitor's 85 % then
  // applies to what is left: on a 2 GiB machine that is ~1.5 GB. Without it, admission counts 85 % of MemTotal.
  library('new defaults without the kernel backstop (agentsMemoryMax: false)', { agentsMemoryMax: false, monitor: { autoKill: true } }),
];

/** NOVA_OVERCOMMIT_ARMS=plain,previous: only the arms whose names contain one of these words. */
const ARM_WORDS = process.env.NOVA_OVERCOMMIT_ARMS?.split(',') ?? [''];

interface ArmRun {
  load: string;
  arm: string;
  agents: number;
  completed: number;
  globalOom: number;
  memcgOom: number;
  library: number;
  /** Of the library's kills, those after a notice. */
  evicted: number;
  timedOut: number;
  worstStall: number;
  worstStallAny: number;
  peakRatio: number;
  wallMs: number;
}

/** Kernel OOM kills of `pids` in the log since the last read: global (the whole machine) or memcg (a cgroup's limit). */
function oomKills(kmsg: KernelLog | undefined, pids: ReadonlySet<number>): { global: number; memcg: number; others: number } {
  const counts = { global: 0, memcg: 0, others: 0 };
  for (const [, message] of kmsg?.records() ?? []) {
    const pid = /Killed process (\d+)/.exec(message)?.[1];
    if (pid === undefined) continue;
    if (!pids.has(Number(pid))) counts.others++;
    else if (message.startsWith('Memory cgroup out of memory')) counts.memcg++;
    else counts.global++;
  }
  return counts;
}

async function runArm(env: BenchEnv, arm: Arm, load: Load, kmsg: KernelLog | undefined, index: number): Promise<ArmRun> {
  // Start from a quiet machine: the previous arm's memory back, its page cache aside.
  const quiet = Date.now() + 30_000;
  while (!SMOKE && usedRatio() > 0.5 && Date.now() < quiet) await sleep(250);
  kmsg?.records();
  const session = await arm.open(env, `overcommit-${index}`, load.name);
  const watch = watchPressure(0.8);
  const started = performance.now();
  const launched: Launched[] = [];
  const timers = load.agents.map(
    (spec) =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          launched.push(session.launch(spec));
          resolve();
        }, spec.startAt),
      ),
  );
  await Promise.all(timers);
  const all = Promise.all(launched.map((l) => l.done));
  // The run limit's timer is cancelled when the run ends first: a pending one would keep the bench alive.
  const cancel = new AbortController();
  const limit = sleep(RUN_LIMIT_MS, 'late' as const, { signal: cancel.signal }).catch(() => 'done' as const);
  if ((await Promise.race([all, limit])) === 'late') await Promise.all(launched.map((l) => l.stop()));
  cancel.abort();
  const outcomes = await all;
  const wallMs = performance.now() - started;
  const pressure = watch.stop();
  await session.close();
  await sleep(500); // the kernel's last OOM records
  const pids = new Set(outcomes.map((o) => o.pid).filter((p): p is number => p !== undefined));
  const kills = oomKills(kmsg, pids);
  return {
    load: load.name,
    arm: arm.name,
    agents: load.agents.length,
    completed: outcomes.filter((o) => o.completed).length,
    globalOom: kills.global,
    memcgOom: kills.memcg,
    library: outcomes.filter((o) => o.library).length,
    evicted: outcomes.filter((o) => o.evicted).length,
    timedOut: outcomes.filter((o) => o.timedOut).length,
    ...pressure,
    wallMs,
  };
}

export async function overcommit(env: BenchEnv): Promise<SectionResult> {
  const title = '(8) Overcommit: agents that grow after they start';
  if (!env.machine.vm && !SMOKE) {
    return skippedSection('overcommit', title, 'overcommit', 'skipped: fills the machine (global OOM in the plain arm): only in the test VM');
  }
  const kmsg = KernelLog.open();
  if (kmsg) env.defer(() => kmsg.close());
  // The bench is the orchestrator of every arm and must outlive them to measure them; its
  // agents give the protection back (overcommit-child.mjs).
  const { readFileSync, writeFileSync } = await import('node:fs');
  if (!SMOKE) {
    const adjust = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
    writeFileSync('/proc/self/oom_score_adj', '-1000');
    env.defer(() => writeFileSync('/proc/self/oom_score_adj', adjust));
  }

  const runs: ArmRun[] = [];
  const all = loads(env.machine.memTotal);
  let index = 0;
  for (const load of all) {
    for (const arm of ARMS) {
      if (!ARM_WORDS.some((word) => arm.name.includes(word))) continue;
      process.stdout.write(`  ${load.name} × ${arm.name} …\n`);
      runs.push(await runArm(env, arm, load, kmsg, index++));
    }
  }
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const plainWall = (load: string): number => runs.find((r) => r.load === load && r.arm === plain.name)?.wallMs ?? NaN;
  const rows = runs.map((r) => [
    r.load,
    r.arm,
    `${r.completed} / ${r.agents}`,
    [r.globalOom && `${r.globalOom} global OOM`, r.memcgOom && `${r.memcgOom} memcg OOM`, r.library && `${r.library} library${r.evicted ? ` (${r.evicted} after a notice)` : ''}`, r.timedOut && `${r.timedOut} timed out`]
      .filter(Boolean)
      .join(', ') || 'none',
    s(r.worstStall),
    `${(r.peakRatio * 100).toFixed(1)} %`,
    `${s(r.wallMs)} (${(r.wallMs / plainWall(r.load)).toFixed(2)}×)`,
  ]);
  const killed = (r: ArmRun): number => r.globalOom + r.memcgOom + r.library;
  const brief = (r: ArmRun): string =>
    `${r.completed} / ${r.agents}, ${killed(r)} killed (${r.evicted} after a notice), stall ${s(r.worstStall)}, ${(r.wallMs / plainWall(r.load)).toFixed(2)}×`;
  const headlines: Headline[] = all.map((load) => {
    const of = (prefix: string): ArmRun | undefined => runs.find((r) => r.load === load.name && r.arm.startsWith(prefix));
    const figures = [
      ['new defaults', of('new defaults:')],
      ['restarted', of('new defaults, restarted')],
      ['previous release', of('previous release:')],
    ].filter((entry): entry is [string, ArmRun] => entry[1] !== undefined);
    return {
      metric: `overcommit, ${load.name}: the new defaults, cold and restarted (completed, kills, stall, wall time × plain) vs the previous release`,
      result: figures.length > 0 ? figures.map(([what, r]) => `${what}: ${brief(r)}`).join('; ') : 'not run',
      target: load.name.startsWith('never') ? 'stall ≤ 2 s, notices before non-emergency kills, fewer kills than the previous release' : 'all complete, no kill, stall ≤ 2 s, ≤ 1.3× plain',
      verdict: 'info',
    };
  });
  return {
    id: 'overcommit',
    title,
    headlines,
    tables: [{ columns: ['load', 'arm', 'completed', 'killed, by whom', 'worst stall at ≥ 80 %', 'peak memory', 'wall time (× plain)'], rows }],
    notes: [
      ...all.map((l) => `${l.name}: ${l.description}; node adds ~40 MB to each.`),
      `Per-agent limits ${LIMITS.memoryMax} max / ${LIMITS.memoryHigh} high / swap 0 / ${LIMITS.pidsMax} pids in every arm but plain. Library arms: AgentHost defaults otherwise (85 % / 95 %, 1 s interval), no timeouts.`,
      'Kills by the kernel come from its log (/dev/kmsg): "Out of memory: Killed process" (global) and "Memory cgroup out of memory: Killed process" (memcg).',
      'The stall is the lateness of a 50 ms timer in the orchestrator (the bench process, protected from the global OOM killer with oom_score_adj −1000, its agents not), counted while memory used (MemTotal − MemAvailable) is ≥ 80 %.',
      ...(kmsg ? [] : ['/dev/kmsg was not readable: kernel kills are not counted.']),
    ],
    data: runs,
  };
}
