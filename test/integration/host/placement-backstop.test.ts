/**
 * The kernel backstop on the real kernel: the orchestrator in a 1 GiB cgroup, its agents' root
 * limited by start() to the plan's "available for agents" of that budget, and a load that grows
 * faster than a monitor sampling every 5 s can act on. The kernel must stop it inside the agents'
 * root — never in the container around it — the orchestrator must keep running, and the host must
 * report every kernel kill. Runs natively (v1 here) and in the v2 VM.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, type HostMemory, type MemoryEvents } from '../../../src/index.js';
import { agentsRootLimits, reserveOf } from '../../../src/setup/reserve.js';
import { testParent } from '../../helpers/cgroups.js';
import { kernelFile, kernelOomKills, tempDir } from './harness.js';
import { runInside } from './fixtures/budget-client.js';

const GiB = 2 ** 30;
const parent = testParent('backstop');

describe('the kernel backstop on the agents\' root', () => {
  it('a load faster than the monitor: the kernel kills inside the agents\' root only, the host reports every kill', async () => {
    const ctr = Cgroup.create(parent, 'ctr', { limits: { memoryMax: GiB, swapMax: 0 } });
    const ctrOomBefore = kernelOomKills(ctr);
    const { code, lines, stderr } = await runInside(ctr, {
      stateDir: join(tempDir('backstop'), 'state'),
      // Five agents, each +40 MB every 0.5 s up to 320 MB (below their own 400M): together far
      // beyond the root's limit within seconds, between two samples of the monitor.
      agents: 5,
      gapMs: 300,
      steps: 8,
      stepBytes: '40M',
      stepMs: 500,
      limits: { memoryMax: '400M', memoryHigh: '400M', swapMax: 0, pidsMax: 128 },
      // The monitor samples but never kills: whether relief wins the race or not, the kernel alone must
      // be able to stop the load, inside the root (with relief on, it sometimes got there first).
      monitor: { interval: '5s', autoKill: false, pause: false },
      // Let in at once: admission by expected peak would hold the later agents back.
      peaks: false,
      runMs: 20_000,
    });
    expect(code, stderr).toBe(0);
    const expected = agentsRootLimits(reserveOf(GiB).availableForAgents);
    const root = lines.find((l) => l.kind === 'ROOT')!.data.path as string;
    const memory = lines.find((l) => l.kind === 'MEMORY')!.data as HostMemory;
    // The monitor's thresholds apply to the root's limit: it is the tightest budget now.
    expect(memory).toMatchObject({ total: expected.memoryMax, source: 'cgroup', cgroup: root });

    const events = lines.filter((l) => l.kind === 'EVENT').map((l) => l.data);
    const reported = events.filter((e) => e.type === 'oom').reduce((sum, e) => sum + e.count, 0);
    const rootEvents = lines.find((l) => l.kind === 'ROOT-EVENTS')!.data as MemoryEvents;
    const done = lines.find((l) => l.kind === 'DONE')?.data;
    console.log(
      `root limit ${expected.memoryMax} (high ${expected.memoryHigh}); kernel kills reported ${reported}, root counters ${JSON.stringify(rootEvents)}; ` +
        `relief kills ${events.filter((e) => e.type === 'exit' && e.reason === 'relief').length}; worst orchestrator stall ${done?.maxStallMs} ms`,
    );
    // The kernel had to act, and only inside the agents' root: the container's own limit was never reached.
    // On v2 it first throttles the agents at the root's memory.high (under emulation that alone may hold
    // them for the whole run); v1 has no high, so there it kills.
    if (ctr.version === 2) expect(rootEvents.high + rootEvents.oomKill).toBeGreaterThan(0);
    else expect(reported).toBeGreaterThan(0);
    // Each reported as the root's limit reached, not the agent's own (400M, never reached here).
    expect(events.filter((e) => e.type === 'oom').map((e) => e.scope)).toEqual(events.filter((e) => e.type === 'oom').map(() => 'agents-root'));
    if (ctr.version === 2) {
      // memory.events counts every kill below the root; `oom` counts the root's own limit reached.
      expect(rootEvents.oomKill).toBe(reported);
      if (reported > 0) expect(rootEvents.oom).toBeGreaterThan(0);
      expect(Number(/^oom (\d+)$/m.exec(kernelFile(ctr, 'memory.events.local'))![1])).toBe(0);
    } else {
      // v1 counts a kill in the victim's own memcg only: the container's counter stays where it was.
      expect(kernelOomKills(ctr)).toBe(ctrOomBefore);
    }
    expect(kernelOomKills(ctr) - ctrOomBefore).toBe(ctr.version === 2 ? reported : 0);
    // The orchestrator kept running to the end and disposed its host.
    expect(done).toBeDefined();
    expect(done.maxStallMs).toBeLessThan(2000);
  }, 120_000);
});
