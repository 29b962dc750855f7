/**
 * The kernel backstop on the real kernel: the orchestrator in a 1 GiB cgroup (the test's
 * "container"), its agents' root limited by start() to the plan's "available for agents" of that
 * budget, and a load that grows faster than the monitor can act on. The kernel must stop it inside
 * the agents' root — never in the container around it, never as a global OOM (its own log says
 * which) — the orchestrator and an unrelated probe process beside it must keep their rhythm, and
 * the host must report every kernel kill. Runs natively (v1 here) and in the v2 VM.
 */
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, type HostMemory, type MemoryEvents, type MemoryMonitorOptions } from '../../../src/index.js';
import { agentsRootLimits, reserveOf } from '../../../src/setup/reserve.js';
import { testParent } from '../../helpers/cgroups.js';
import { watchOomKills, type OomKillRecord } from '../../helpers/kmsg.js';
import { defer, kernelFile, kernelOomKills, tempDir } from './harness.js';
import { runInside } from './fixtures/budget-client.js';
import { startProbe } from './fixtures/probe.js';

const GiB = 2 ** 30;
const parent = testParent('backstop');

/** A cgroup's path as the kernel prints it in its log: below the unified hierarchy's mount (v2), the memory one's (v1). */
function kernelPath(cgroup: Cgroup, path = cgroup.path): string {
  return `/${relative(cgroup.hierarchy.mounts[cgroup.version === 2 ? 'unified' : 'memory']!, path)}`;
}

const within = (path: string | undefined, top: string): boolean => path !== undefined && (path === top || path.startsWith(`${top}/`));

/**
 * Five agents, each +40 MB every 0.5 s up to 320 MB (below their own 400M): together far beyond the
 * root's limit within seconds, between two samples of the monitor. Run with `monitor`, in a fresh
 * container `ctr-<label>` holding the orchestrator and, in a leaf of its own, the probe.
 */
async function runFastLoad(label: string, monitor: MemoryMonitorOptions, runMs: number) {
  const ctr = Cgroup.create(parent, `ctr-${label}`, { limits: { memoryMax: GiB, swapMax: 0 } });
  defer(() => ctr.delete());
  const ctrOomBefore = kernelOomKills(ctr);
  const kmsg = watchOomKills();
  defer(() => void kmsg?.stop());
  // Outside the agents' root, beside the orchestrator: it ticks from before the first agent to the end.
  const probe = await startProbe(ctr);
  const { code, lines, stderr } = await runInside(ctr, {
    stateDir: `${tempDir('backstop')}/state`,
    agents: 5,
    gapMs: 300,
    steps: 8,
    stepBytes: '40M',
    stepMs: 500,
    limits: { memoryMax: '400M', memoryHigh: '400M', swapMax: 0, pidsMax: 128 },
    monitor,
    // Let in at once: admission by expected peak would hold the later agents back.
    peaks: false,
    runMs,
  });
  const probeWorstMs = await probe.stop();
  expect(code, stderr).toBe(0);
  const root = lines.find((l) => l.kind === 'ROOT')!.data.path as string;
  const events = lines.filter((l) => l.kind === 'EVENT').map((l) => l.data);
  const ooms = events.filter((e) => e.type === 'oom');
  // Only this run's records about this container: the kernel log is the whole machine's.
  const records = kmsg?.stop().filter((r) => within(r.taskMemcg, kernelPath(ctr)) || within(r.oomMemcg, kernelPath(ctr)));
  return {
    ctr,
    ctrOomBefore,
    root,
    rootKernelPath: kernelPath(ctr, root),
    memory: lines.find((l) => l.kind === 'MEMORY')!.data as HostMemory,
    rootEvents: lines.find((l) => l.kind === 'ROOT-EVENTS')!.data as MemoryEvents,
    done: lines.find((l) => l.kind === 'DONE')?.data as { maxStallMs: number } | undefined,
    ooms,
    reported: ooms.reduce((sum, e) => sum + e.count, 0),
    reliefKills: events.filter((e) => e.type === 'exit' && e.reason === 'relief').length,
    probeWorstMs,
    records,
  };
}

type Run = Awaited<ReturnType<typeof runFastLoad>>;

/** What holds with any monitor settings: the limit is the plan's, every kill stayed in the root and was reported, nothing else suffered. */
function expectContained(run: Run): void {
  const { ctr, rootEvents, done, records } = run;
  const expected = agentsRootLimits(reserveOf(GiB).availableForAgents);
  // The monitor's thresholds apply to the root's limit: it is the tightest budget now.
  expect(run.memory).toMatchObject({ total: expected.memoryMax, source: 'cgroup', cgroup: run.root });
  console.log(
    `root limit ${expected.memoryMax} (high ${expected.memoryHigh}); kernel kills reported ${run.reported}, root counters ${JSON.stringify(rootEvents)}; ` +
      `relief kills ${run.reliefKills}; worst orchestrator stall ${done?.maxStallMs} ms; probe's worst lateness ${run.probeWorstMs} ms; ` +
      (records ? `kernel log: ${records.length} oom-kill records${records[0] ? `, e.g. oom-kill:constraint=${records[0].constraint},oom_memcg=${records[0].oomMemcg},task_memcg=${records[0].taskMemcg}` : ''}` : 'kernel log: not checked'),
  );
  // Each reported as the root's limit reached, not the agent's own (400M, never reached here).
  expect(run.ooms.map((e) => e.scope)).toEqual(run.ooms.map(() => 'agents-root'));
  if (ctr.version === 2) {
    // memory.events counts every kill below the root; `oom` counts the root's own limit reached.
    expect(rootEvents.oomKill).toBe(run.reported);
    if (run.reported > 0) expect(rootEvents.oom).toBeGreaterThan(0);
    expect(Number(/^oom (\d+)$/m.exec(kernelFile(ctr, 'memory.events.local'))![1])).toBe(0);
  }
  // v1 counts a kill in the victim's own memcg only: the container's counter stays where it was.
  expect(kernelOomKills(ctr) - run.ctrOomBefore).toBe(ctr.version === 2 ? run.reported : 0);
  if (records === undefined) {
    console.log('[skipped] the kernel log check: /dev/kmsg cannot be opened (not root)');
  } else {
    // The kernel's own word: every kill a cgroup's (never a global OOM), that cgroup the agents'
    // root or one inside it (never the container), the victim inside the root. The kernel logs that
    // summary with the OOM report, which it rate-limits machine-wide (10 per 5 s): a burst of kills
    // logs fewer summaries than the host reports, never more.
    const wrong = records.filter((r: OomKillRecord) => r.constraint !== 'CONSTRAINT_MEMCG' || !within(r.oomMemcg, run.rootKernelPath) || !within(r.taskMemcg, run.rootKernelPath));
    expect(wrong).toEqual([]);
    expect(records.length).toBeLessThanOrEqual(run.reported);
  }
  // The orchestrator kept running to the end and disposed its host; the probe beside it kept its 250 ms rhythm.
  expect(done).toBeDefined();
  expect(done!.maxStallMs).toBeLessThan(2000);
  expect(run.probeWorstMs).toBeLessThan(2000);
}

describe('the kernel backstop on the agents\' root', () => {
  it('a load faster than a 5 s monitor that never kills: the kernel kills inside the agents\' root only, the host reports every kill', async () => {
    // The monitor samples but never kills: the kernel alone must be able to stop the load, inside the root.
    const run = await runFastLoad('watch', { interval: '5s', autoKill: false, pause: false }, 20_000);
    expectContained(run);
    // The kernel had to act. On v2 it first throttles the agents at the root's memory.high (under
    // emulation that alone may hold them for the whole run); v1 has no high, so there it kills.
    if (run.ctr.version === 2) expect(run.rootEvents.high + run.rootEvents.oomKill).toBeGreaterThan(0);
    else expect(run.reported).toBeGreaterThan(0);
  }, 120_000);

  it('the same load under the monitor\'s defaults (auto-kill, 1 s): relief and the kernel together, the kernel\'s kills still inside the root', async () => {
    // Whichever wins the race — relief or the kernel — nothing outside the root may suffer.
    const run = await runFastLoad('defaults', { autoKill: true }, 12_000);
    expectContained(run);
  }, 120_000);
});
