/**
 * The memory budget on the real kernel: the orchestrator in a 1 GiB cgroup (a container, a pod)
 * on a machine with far more RAM. The host must count the container's limit, not the machine's:
 * admission pauses at 85 % of 1 GiB, auto-kill relief runs at 95 %, and the kernel's OOM killer
 * in the container never has to act. Runs natively (v1 here) and in the v2 VM.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, type HostMemory } from '../../../src/index.js';
import { testParent } from '../../helpers/cgroups.js';
import { hasCommand, skipIf } from '../../helpers/kernel.js';
import { kernelOomKills, tempDir } from './harness.js';
import { runInside } from './fixtures/budget-client.js';
import type { BudgetOrchestratorConfig } from './fixtures/budget-orchestrator.js';

const GiB = 2 ** 30;
const parent = testParent('budget');

/** Six agents growing 12 MB a second each, one started every 1.5 s, under an auto-killing monitor sampling every 100 ms. */
const FILL: Omit<BudgetOrchestratorConfig, 'stateDir'> = {
  agents: 6,
  gapMs: 1500,
  steps: 16,
  stepBytes: '12M',
  limits: { memoryMax: '400M', memoryHigh: '400M', swapMax: 0, pidsMax: 128 },
  // A load that must be relieved: admission by expected peak and pause before kill, which would hold it
  // under critical, are off (lose-no-work.test.ts has them); the budget's levels and relief are what is judged.
  monitor: { interval: 100, autoKill: true, cooldown: 1000, pause: false },
  peaks: false,
  runMs: 30_000,
  // The budget alone: no kernel backstop on the agents' root (placement-backstop.test.ts has it).
  agentsMemoryMax: false,
};

/** Fills the 1 GiB `ctr` through an orchestrator inside it and checks what the issue asks; returns the figures. */
async function fill(ctr: Cgroup, pod: boolean): Promise<string> {
  const oomBefore = kernelOomKills(ctr);
  const { code, lines, stderr } = await runInside(ctr, { ...FILL, stateDir: join(tempDir('budget'), 'state') }, pod);
  expect(code, stderr).toBe(0);
  const memory = lines.find((l) => l.kind === 'MEMORY')!.data as HostMemory;
  // The container's limit, not the machine's RAM (inside a namespace, its root is the container).
  expect(memory).toMatchObject({ total: GiB, source: 'cgroup', cgroup: pod ? '/sys/fs/cgroup' : ctr.path });
  const events = lines.filter((l) => l.kind === 'EVENT').map((l) => l.data);
  const high = events.find((e) => e.type === 'pressure' && e.level !== 'normal');
  expect(high, JSON.stringify(events)).toBeDefined();
  expect(high.ratio).toBeGreaterThanOrEqual(0.85);
  expect(high.total).toBe(GiB);
  expect(events.some((e) => e.type === 'queue' && e.reason === 'paused')).toBe(true);
  const critical = events.find((e) => e.type === 'pressure' && e.level === 'critical');
  expect(critical?.ratio, JSON.stringify(events)).toBeGreaterThanOrEqual(0.95);
  const relief = events.filter((e) => e.type === 'relief' && e.trigger === 'auto-kill').flatMap((e) => e.kills);
  expect(relief.length).toBeGreaterThan(0);
  // At critical at once (`relief`); a kill of the same round below critical comes after a notice (`evicted`).
  expect(events.filter((e) => e.type === 'exit' && (e.reason === 'relief' || e.reason === 'evicted')).length).toBe(relief.length);
  // Nothing was left to the kernel: no OOM kill in the container, none of an agent.
  expect(kernelOomKills(ctr)).toBe(oomBefore);
  expect(events.filter((e) => e.type === 'exit' && e.reason === 'oom')).toEqual([]);
  expect(lines.some((l) => l.kind === 'DONE')).toBe(true);
  return `budget ${memory.total} (${memory.source} ${memory.cgroup}); first high at ${(high.ratio * 100).toFixed(1)} %, critical at ${(critical.ratio * 100).toFixed(1)} %; relief kills ${relief.length}`;
}

describe('the memory budget of an orchestrator in a 1 GiB cgroup', () => {
  it('counts the cgroup limit: admission pauses at 85 %, relief runs at 95 %, the kernel OOM-kills nothing', async () => {
    const ctr = Cgroup.create(parent, 'ctr', { limits: { memoryMax: GiB, swapMax: 0 } });
    console.log(await fill(ctr, false));
  }, 120_000);

  it('the same in its own cgroup namespace (a pod): the limit on the namespace root counts', async (ctx) => {
    skipIf(ctx, Cgroup.self().version !== 2 && 'needs cgroup v2 (a cgroup2 mount of its own in the namespace); run it in the VM');
    skipIf(ctx, !hasCommand('unshare') && 'unshare(1) is not installed');
    const pod = Cgroup.create(parent, 'pod', { limits: { memoryMax: GiB, swapMax: 0 } });
    console.log(await fill(pod, true));
  }, 120_000);
});
