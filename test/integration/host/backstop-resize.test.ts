/**
 * The backstop follows a resize on the real kernel: the container around the agents' root (a
 * test cgroup standing in for a pod resized in place) shrinks, then grows; within the budget's
 * refresh period the host re-writes the root's limits from the container's new limit, and the
 * monitor's budget — the root's limit now — follows them. Runs natively (v1 here) and in the v2 VM.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, Cgroup } from '../../../src/index.js';
import { agentsRootLimits, reserveOf } from '../../../src/setup/reserve.js';
import { testParent } from '../../helpers/cgroups.js';
import { waitFor } from '../../helpers/wait.js';
import { defer, kernelFile, SMALL, tempDir } from './harness.js';

const MiB = 2 ** 20;
const parent = testParent('resize');

/** What start() writes on the root of a container limited to `bytes`. */
const planned = (bytes: number) => agentsRootLimits(reserveOf(bytes).availableForAgents);

describe('the backstop follows a resize', () => {
  it('the container shrinks, then grows: the root\'s limits and the monitor\'s budget follow, no error', async () => {
    const ctr = Cgroup.create(parent, 'ctr', { limits: { memoryMax: 1024 * MiB } });
    defer(() => ctr.delete());
    const root = ctr.child('agents');
    const host = new AgentHost({ cgroupRoot: root, stateDir: join(tempDir('resize'), 'state'), limits: SMALL, timeouts: false });
    defer(() => host.dispose());
    const errors: Error[] = [];
    host.on('error', (error) => errors.push(error));
    await host.start();
    const maxFile = ctr.version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
    const rootMax = (): number => Number(kernelFile(root, maxFile, ctr.version === 2 ? undefined : 'memory'));
    expect(rootMax()).toBe(planned(1024 * MiB).memoryMax);

    const follows = async (bytes: number): Promise<void> => {
      const started = Date.now();
      ctr.setLimits({ memoryMax: bytes });
      // Within the refresh period (10 s) for the root, and as long again for the monitor's cached budget.
      await waitFor(() => rootMax() === planned(bytes).memoryMax, { timeout: 30_000, interval: 250, message: `root limit for a ${bytes / MiB}M container` });
      const rootAfterMs = Date.now() - started;
      await waitFor(() => host.monitor!.hostMemory().total === planned(bytes).memoryMax, { timeout: 30_000, interval: 250, message: 'the monitor\'s budget' });
      console.log(`container ${bytes / MiB}M: root limit ${rootMax()} after ${rootAfterMs} ms, monitor's budget after ${Date.now() - started} ms`);
    };
    await follows(768 * MiB);
    // Grown back: derived from the container, not from the root's own (smaller) limit.
    await follows(1024 * MiB);
    if (ctr.version === 2) expect(Number(kernelFile(root, 'memory.high'))).toBe(planned(1024 * MiB).memoryHigh);
    else expect(Number(kernelFile(root, 'memory.memsw.limit_in_bytes', 'memory'))).toBe(planned(1024 * MiB).memoryMax);
    expect(errors).toEqual([]);
  }, 120_000);
});
