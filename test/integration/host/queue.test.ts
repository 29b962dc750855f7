/**
 * Admission: maxConcurrent with priorities, pause/resume, `admission: 'fail'`, queueTimeout and
 * AbortSignal — checked against the cgroups that exist (a queued agent has none).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type QueueEvent } from '../../../src/index.js';
import { waitFor } from '../../helpers/wait.js';
import { alive, anyDirExists, childNames, startHost, untilFile } from './harness.js';

describe('maxConcurrent', () => {
  it('runs at most N at once; the queue releases by priority, then in order; queue events tell it', async () => {
    const { host, root, dir } = await startHost({ maxConcurrent: 1 });
    const events: QueueEvent[] = [];
    host.on('queue', (event) => events.push(event));
    const order: string[] = [];
    const overlap: string[][] = [];
    host.on('spawn', (agent) => {
      order.push(agent.id);
      overlap.push(childNames(root));
    });
    const stop = (id: string): string => join(dir, `stop-${id}`);
    const first = await host.spawn('first', { command: 'sh', args: untilFile(stop('first')) });
    const later = ['low', 'high', 'mid', 'low2'].map((id, i) =>
      host.spawn(id, { command: 'sh', args: untilFile(stop(id)), priority: [0, 10, 5, 0][i] }),
    );
    // Queued agents have no cgroup yet.
    expect(childNames(root)).toEqual(['first']);
    expect(host.status().counts).toMatchObject({ running: 1, queued: 4 });
    expect(host.status().queue).toMatchObject({ size: 4, pending: 1, paused: false });
    expect(events.filter((e) => e.reason === 'queued').map((e) => e.id)).toEqual(['low', 'high', 'mid', 'low2']);
    expect(host.get('high')!.state).toBe('queued');

    for (const id of ['first', 'high', 'mid', 'low', 'low2']) {
      await waitFor(() => host.get(id)?.state === 'running', { message: `${id} running` });
      expect(childNames(root)).toEqual([id]);
      writeFileSync(stop(id), '');
    }
    const agents = await Promise.all(later);
    await Promise.all(agents.map((a) => a.result));
    expect(order).toEqual(['first', 'high', 'mid', 'low', 'low2']);
    // Each agent started alone: the previous one's cgroup was already gone.
    expect(overlap).toEqual(order.map((id) => [id]));
    const last = events.at(-1)!;
    expect(last).toMatchObject({ reason: 'dequeued', id: 'low2', size: 0 });
  });
});

describe('admission', () => {
  // monitor: false: admission is paused by hand here, and only by hand.
  it('pauseAdmission holds spawns in the queue (no cgroup) until resumeAdmission', async () => {
    const { host, root } = await startHost({ monitor: false });
    const events: QueueEvent[] = [];
    host.on('queue', (event) => events.push(event));
    host.pauseAdmission('memory 90.0% >= 85%');
    expect(host.admissionPaused).toBe('memory 90.0% >= 85%');
    const pending = host.spawn('waiting', { command: 'sleep', args: ['30'] });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(host.get('waiting')!.state).toBe('queued');
    expect(childNames(root)).toEqual([]);
    expect(host.status().queue).toMatchObject({ size: 1, paused: true, why: 'memory 90.0% >= 85%' });

    // admission: 'fail' refuses at once, creating nothing.
    await expect(host.spawn('impatient', { command: 'sleep', args: ['30'], admission: 'fail' })).rejects.toMatchObject({
      code: ErrorCode.ADMISSION_REFUSED,
    });
    expect(host.get('impatient')).toBeUndefined();

    host.resumeAdmission('memory 70.0% < 85%');
    const agent = await pending;
    expect(agent.state).toBe('running');
    expect(childNames(root)).toEqual(['waiting']);
    expect(events.map((e) => [e.reason, e.id ?? e.why])).toEqual([
      ['paused', 'memory 90.0% >= 85%'],
      ['queued', 'waiting'],
      ['resumed', 'memory 70.0% < 85%'],
      ['dequeued', 'waiting'],
    ]);
    await agent.kill({ force: true });
  });

  it('queueTimeout: ERR_ADMISSION_TIMEOUT, the agent dropped, nothing created, even when admission resumes later', async () => {
    const { host, root } = await startHost({ monitor: false });
    host.pauseAdmission('test');
    const started = Date.now();
    await expect(host.spawn('late', { command: 'sleep', args: ['30'], queueTimeout: '300ms' })).rejects.toMatchObject({
      code: ErrorCode.ADMISSION_TIMEOUT,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(host.get('late')).toBeUndefined();
    expect(host.status().queue.size).toBe(0);
    host.resumeAdmission();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(childNames(root)).toEqual([]);
    // The id is free again.
    const agent = await host.spawn('late', { command: 'true' });
    expect((await agent.result).reason).toBe('exit');
  });
});

describe('AbortSignal', () => {
  it('aborting a queued spawn rejects with ERR_ABORTED and creates nothing', async () => {
    const { host, root } = await startHost({ maxConcurrent: 1 });
    const blocker = await host.spawn('blocker', { command: 'sleep', args: ['30'] });
    const controller = new AbortController();
    const pending = host.spawn('queued', { command: 'sleep', args: ['30'], signal: controller.signal });
    expect(host.get('queued')!.state).toBe('queued');
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.ABORTED });
    expect(host.get('queued')).toBeUndefined();
    await blocker.kill({ force: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(childNames(root)).toEqual([]);
    // An already aborted signal fails at once.
    await expect(host.spawn('never', { command: 'true', signal: AbortSignal.abort() })).rejects.toMatchObject({ code: ErrorCode.ABORTED });
  });

  it('aborting a running agent kills its whole cgroup', async () => {
    const { host } = await startHost({ killGrace: '30s' });
    const controller = new AbortController();
    const agent = await host.spawn('aborted', { command: 'sh', args: ['-c', "trap '' TERM; sleep 30 & wait"], signal: controller.signal });
    controller.abort();
    const result = await agent.result;
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(alive([agent.pid!])).toEqual([]);
    expect(anyDirExists(agent.cgroup!)).toBe(false);
  });
});
