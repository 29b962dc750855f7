/**
 * The agent worker against a real redis-server and a fake host: outcomes, admission-driven
 * fetching, hand-backs, the close deadline and orphan kills, without cgroups (the integration
 * suite runs the same worker on real hosts).
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentWorker, enqueueAgent, type AgentJobData, type AgentJobOutcomeEvent, type AgentJobResult, type AgentWorker, type AgentWorkerOptions } from '../../../src/bullmq/index.js';
import { ErrorCode } from '../../../src/index.js';
import { useRedis } from '../../helpers/use-redis.js';
import { waitFor } from '../../helpers/wait.js';
import { FakeHost } from './fake-host.js';

const redis = useRedis();

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

let queues = 0;
function setup(host: FakeHost, options: Partial<AgentWorkerOptions> = {}): { queue: Queue<AgentJobData, AgentJobResult>; worker: AgentWorker; outcomes: AgentJobOutcomeEvent[] } {
  const name = `q${++queues}-${process.pid}`;
  const queue = new Queue<AgentJobData, AgentJobResult>(name, { connection: redis().connection });
  const worker = createAgentWorker(host, { queue: name, connection: redis().connection, concurrency: 4, node: 'n1', ...options });
  const outcomes: AgentJobOutcomeEvent[] = [];
  worker.outcomes.on('outcome', (event) => outcomes.push(event));
  open.push(queue, worker);
  return { queue, worker, outcomes };
}

async function settled(job: Job): Promise<string> {
  return waitFor(async () => {
    const state = await job.getState();
    return state === 'completed' || state === 'failed' ? state : undefined;
  }, { timeout: 15_000, message: `job ${job.id} settled` });
}

describe('createAgentWorker', () => {
  it('completes a job whose agent exits 0, with its result and progress', async () => {
    const host = new FakeHost();
    const { queue, outcomes } = setup(host);
    const events = new QueueEvents(queue.name, { connection: redis().connection });
    open.push(events);
    const progress: unknown[] = [];
    events.on('progress', ({ data }) => progress.push(data));
    await events.waitUntilReady();
    const job = await enqueueAgent(queue, { id: 'ok-1', command: 'exit:0', limits: { memoryMax: '1G' }, expectedMemory: '512M', profile: 'small' });
    expect(await settled(job)).toBe('completed');
    const done = (await queue.getJob('ok-1'))!;
    expect(done.returnvalue).toMatchObject({ id: 'ok-1', node: 'n1', reason: 'exit', exitCode: 0 });
    // What reached host.spawn: the data, admission that fails instead of waiting, and the forwarded new options.
    expect(host.spawned[0]).toMatchObject({ id: 'ok-1', options: { command: 'exit:0', limits: { memoryMax: '1G' }, admission: 'fail', queueTimeout: 5000, expectedMemory: '512M', profile: 'small' } });
    expect(outcomes).toEqual([expect.objectContaining({ id: 'ok-1', outcome: 'completed', reason: 'exit' })]);
    await waitFor(() => progress.some((p) => (p as { stage?: string }).stage === 'started'), { message: 'a started progress event' });
  });

  it('maps exits, relief, OOM and timeouts onto retried and unrecoverable failures', async () => {
    const host = new FakeHost();
    const { queue, outcomes } = setup(host);
    const jobs = await Promise.all([
      enqueueAgent(queue, { id: 'exit-1', command: 'exit:1' }, { attempts: 2 }),
      enqueueAgent(queue, { id: 'relief-1', command: 'relief-once' }, { attempts: 2 }),
      enqueueAgent(queue, { id: 'oom-1', command: 'oom' }, { attempts: 3 }),
      enqueueAgent(queue, { id: 'timeout-1', command: 'timeout' }, { attempts: 3 }),
      enqueueAgent(queue, { id: 'missing-1', command: 'not-found' }, { attempts: 3 }),
    ]);
    const states = await Promise.all(jobs.map(settled));
    expect(states).toEqual(['failed', 'completed', 'failed', 'failed', 'failed']);
    const get = async (id: string): Promise<Job> => (await queue.getJob(id))!;
    expect((await get('exit-1')).attemptsMade).toBe(2);
    expect((await get('exit-1')).failedReason).toMatch(/^exit: agent exit-1 exited with code 1/);
    expect((await get('relief-1')).attemptsMade).toBe(2); // failed once, completed on its second run (BullMQ counts both)
    expect((await get('oom-1')).attemptsMade).toBe(1);
    expect((await get('oom-1')).failedReason).toMatch(/^oom: the kernel OOM-killed agent oom-1/);
    expect((await get('timeout-1')).attemptsMade).toBe(1);
    expect((await get('missing-1')).failedReason).toMatch(/^error: agent missing-1 could not start/);
    const byId = (id: string): string[] => outcomes.filter((o) => o.id === id).map((o) => o.outcome);
    expect(byId('exit-1')).toEqual(['retried', 'failed']);
    expect(byId('relief-1')).toEqual(['retried', 'completed']);
    expect(byId('oom-1')).toEqual(['failed']);
  });

  it('retryOom retries an OOM-killed agent with twice the memory', async () => {
    const host = new FakeHost();
    const { queue } = setup(host, { retryOom: { factor: 2, max: '1G' } });
    const job = await enqueueAgent(queue, { id: 'grow-1', command: 'oom-below:200000000', limits: { memoryMax: '64M' } }, { attempts: 4 });
    expect(await settled(job)).toBe('completed');
    expect(host.spawned.map((s) => s.options.limits?.memoryMax)).toEqual(['64M', 128 << 20, 256 << 20]);
  });

  it('fetches nothing while admission is paused or agents wait in the host queue, and again when it resumes', async () => {
    const host = new FakeHost();
    host.pauseAdmission('memory 90% >= 85%');
    const { queue, worker } = setup(host);
    await worker.started;
    expect(worker.heldBack).toBe(true);
    await enqueueAgent(queue, { id: 'held-1', command: 'exit:0' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(host.spawned).toEqual([]);
    expect(await queue.getJobState('held-1')).toBe('waiting');
    host.resumeAdmission();
    expect(await settled((await queue.getJob('held-1'))!)).toBe('completed');
    expect(worker.heldBack).toBe(false);
    // A host whose own queue holds agents is at capacity: the same holding back.
    host.emitQueue({ reason: 'queued', size: 1, running: 4, pending: 4, paused: false });
    expect(worker.heldBack).toBe(true);
    host.emitQueue({ reason: 'dequeued', size: 0, running: 4, pending: 4, paused: false });
    expect(worker.heldBack).toBe(false);
  });

  it('returns a job the host refuses to the queue without using an attempt', async () => {
    const host = new FakeHost();
    host.refuseNext = 1;
    const { queue, outcomes } = setup(host);
    const job = await enqueueAgent(queue, { id: 'bounce-1', command: 'exit:0' }, { attempts: 1 });
    expect(await settled(job)).toBe('completed');
    expect(outcomes.map((o) => [o.outcome, o.reason])).toEqual([
      ['returned', 'admission'],
      ['completed', 'exit'],
    ]);
    // Only its completing run counts: going back used no attempt (with attempts: 1 it would have failed).
    expect((await queue.getJob('bounce-1'))!.attemptsMade).toBe(1);
  });

  it('close() with closeTimeout kills running agents gracefully and returns their jobs', async () => {
    const host = new FakeHost();
    const { queue, worker, outcomes } = setup(host, { closeTimeout: 200 });
    await enqueueAgent(queue, { id: 'long-1', command: 'hang' }, { attempts: 1 });
    await waitFor(() => host.get('long-1')?.state === 'running', { message: 'long-1 running' });
    await worker.close();
    expect(host.kills).toEqual([{ id: 'long-1', force: false }]);
    expect(await queue.getJobState('long-1')).toBe('waiting');
    expect((await queue.getJob('long-1'))!.attemptsMade).toBe(0);
    expect(outcomes).toEqual([expect.objectContaining({ id: 'long-1', outcome: 'returned', reason: 'killed' })]);
  });

  it('kills, on start, agents left running for jobs of its queue, and no other agent', async () => {
    const host = new FakeHost();
    const first = setup(host);
    await first.worker.close();
    await enqueueAgent(first.queue, { id: 'orphan-1', command: 'hang' });
    host.adopt('orphan-1');
    host.adopt('unrelated-1');
    const worker = createAgentWorker(host, { queue: first.queue.name, connection: redis().connection, autorun: false });
    open.push(worker);
    expect(await worker.started).toEqual(['orphan-1']);
    expect(host.kills).toEqual([{ id: 'orphan-1', force: true }]);
    expect(host.get('unrelated-1')?.state).toBe('running');
  });

  it('enqueueAgent checks the data and uses the agent id as the job id', async () => {
    const host = new FakeHost();
    const { queue, worker } = setup(host, { autorun: false });
    await worker.started;
    await expect(enqueueAgent(queue, { id: 'bad/id', command: 'x' })).rejects.toMatchObject({ code: ErrorCode.INVALID_NAME });
    await expect(enqueueAgent(queue, { id: 'a', command: 'x', extra: 1 } as unknown as AgentJobData)).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    const a = await enqueueAgent(queue, { id: 'same-1', command: 'exit:0' });
    const b = await enqueueAgent(queue, { id: 'same-1', command: 'exit:0' });
    expect([a.id, b.id]).toEqual(['same-1', 'same-1']);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });
});
