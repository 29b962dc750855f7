/**
 * The worker on a real AgentHost (this process, one node): the kernel's and the host's verdicts —
 * an OOM kill at the agent's own limit, a hard timeout, a relief kill, a non-zero exit — become the
 * BullMQ outcomes docs/fleet.md promises, and nothing is left in the node's root.
 */
import { Queue, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentWorker, enqueueAgent, type AgentJobData, type AgentJobResult } from '../../../src/bullmq/index.js';
import { AgentHost, Cgroup } from '../../../src/index.js';
import { leftovers, testParent } from '../../helpers/cgroups.js';
import { defer, runDeferred, tempDir } from '../../helpers/cleanup.js';
import { hasCommand } from '../../helpers/kernel.js';
import { useRedis } from '../../helpers/use-redis.js';
import { waitFor } from '../../helpers/wait.js';

const parent = testParent('fleet-outcomes');
const redis = useRedis();
afterEach(runDeferred);

const settled = (job: Job): Promise<string> =>
  waitFor(
    async () => {
      const state = await job.getState();
      return state === 'completed' || state === 'failed' ? state : undefined;
    },
    { timeout: 60_000, interval: 100, message: `job ${job.id} settled` },
  );

describe('agent outcomes on a real host', () => {
  it('OOM and hard timeout fail for good, relief and non-zero exits are retried, exit 0 completes', { timeout: 180_000 }, async () => {
    expect(hasCommand('stress-ng'), 'stress-ng is installed').toBe(true);
    const root = Cgroup.create(parent, 'node');
    defer(async () => {
      await root.delete();
    });
    const host = new AgentHost({ cgroupRoot: root, stateDir: `${tempDir('outcomes')}/state`, killGrace: 200, pollInterval: 100 });
    await host.start();
    defer(() => host.dispose());
    const name = `outcomes-${process.pid}`;
    const queue = new Queue<AgentJobData, AgentJobResult>(name, { connection: redis().connection });
    defer(() => queue.close());
    const worker = createAgentWorker(host, { queue: name, connection: redis().connection, concurrency: 4, node: 'real' });
    defer(() => worker.close());
    // Evicted once, by the host's relief path (as the monitor's auto-kill would): then left to finish.
    let evicted = false;
    host.on('spawn', (agent) => {
      if (agent.id === 'evicted' && !evicted) {
        evicted = true;
        setTimeout(() => void host.kill('evicted', { reason: 'relief', force: true }).catch(() => undefined), 300);
      }
    });

    const jobs = [
      await enqueueAgent(
        queue,
        {
          id: 'hog',
          command: 'stress-ng',
          args: ['--vm', '1', '--vm-bytes', '200M', '--vm-keep', '--oomable', '--timeout', '60s', '--quiet'],
          cwd: tempDir('hog'),
          limits: { memoryMax: '64M', memoryHigh: 'max', swapMax: 0 },
        },
        { attempts: 3 },
      ),
      await enqueueAgent(queue, { id: 'slow', command: 'sleep', args: ['30'], timeouts: { soft: false, hard: 400, grace: 100 } }, { attempts: 3 }),
      await enqueueAgent(queue, { id: 'evicted', command: 'sleep', args: ['1'] }, { attempts: 2 }),
      await enqueueAgent(queue, { id: 'failing', command: 'sh', args: ['-c', 'exit 3'] }, { attempts: 2 }),
      await enqueueAgent(queue, { id: 'fine', command: 'true' }, { attempts: 1 }),
    ];
    expect(await Promise.all(jobs.map(settled))).toEqual(['failed', 'failed', 'completed', 'failed', 'completed']);
    const get = async (id: string): Promise<Job<AgentJobData, AgentJobResult>> => (await queue.getJob(id))!;
    expect(await get('hog')).toMatchObject({ attemptsMade: 1, failedReason: expect.stringMatching(/^oom: the kernel OOM-killed agent hog/) });
    expect(await get('slow')).toMatchObject({ attemptsMade: 1, failedReason: expect.stringMatching(/^timeout: agent slow reached its hard timeout/) });
    expect(await get('evicted')).toMatchObject({ attemptsMade: 2, returnvalue: { reason: 'exit', exitCode: 0, node: 'real' } });
    expect(await get('failing')).toMatchObject({ attemptsMade: 2, failedReason: expect.stringMatching(/^exit: agent failing exited with code 3/) });
    expect((await get('fine')).returnvalue).toMatchObject({ id: 'fine', reason: 'exit', exitCode: 0, oomKills: 0 });
    expect((await get('fine')).returnvalue.peakMemory).toBeGreaterThan(0);
    await worker.close();
    await host.dispose();
    expect(leftovers(root)).toEqual({ cgroups: [...root.dirs], pids: [] });
  });
});
