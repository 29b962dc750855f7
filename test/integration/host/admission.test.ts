/**
 * Admission and reports: maxConcurrent with priorities, pause/resume, `admission: 'fail'`,
 * queueTimeout and AbortSignal — checked against the cgroups that exist (a queued agent has none) —
 * and memoryReport() / status() rows against the kernel's own figures, with the tables
 * formatMemoryReport / formatStatus print (the seed's check-agent-memory.sh and agent-status.sh).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, formatMemoryReport, formatStatus, type QueueEvent } from '../../../src/index.js';
import { waitFor } from '../../helpers/wait.js';
import { alive, anyDirExists, childNames, kernelFile, startHost, untilFile } from './harness.js';

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

const M = 1024 ** 2;

describe('reports', () => {
  it('memoryReport() and status() rows match the kernel; the tables show them', async () => {
    // monitor: false: admission is paused by hand here, and only by hand.
    const { host, root } = await startHost({ maxConcurrent: 2, monitor: false });
    const busy = await host.spawn('busy', { command: 'stress-ng', args: ['--vm', '1', '--vm-bytes', '24M', '--vm-keep', '--timeout', '60s', '--quiet'], priority: 3 });
    const idle = await host.spawn('idle', { command: 'sleep', args: ['60'] });
    host.pauseAdmission('memory 90.0% >= 85%');
    const queued = host.spawn('waiting', { command: 'true' });
    queued.catch(() => undefined); // awaited at the end; no unhandled rejection if an assertion fails first
    const current = (file = busy.cgroup!.version === 2 ? 'memory.current' : 'memory.usage_in_bytes'): number =>
      Number(kernelFile(busy.cgroup!, file, busy.cgroup!.version === 2 ? undefined : 'memory'));
    await waitFor(() => current() > 20 * M, { message: 'busy allocated its 24M' });

    // The hog may still be growing: the report must fall between two reads of the kernel's figure.
    const before = current();
    const report = host.memoryReport();
    const after = current();
    expect(report.agents.map((r) => r.id)).toEqual(['busy', 'idle']);
    const [row] = report.agents;
    expect(row).toMatchObject({ id: 'busy', pid: busy.pid, limit: 64 * M, oomKills: 0 });
    expect(row!.current).toBeGreaterThanOrEqual(Math.min(before, after) - M);
    expect(row!.current).toBeLessThanOrEqual(Math.max(before, after) + M);
    expect(row!.peak).toBeGreaterThanOrEqual(row!.current);
    expect(row!.workingSet).toBeLessThanOrEqual(row!.current);
    expect(row!.percentOfLimit).toBeCloseTo((row!.current / (64 * M)) * 100, 5);
    const pidsFile = busy.cgroup!.version === 2 ? kernelFile(busy.cgroup!, 'pids.current') : kernelFile(busy.cgroup!, 'pids.current', 'pids');
    expect(row!.pids).toBe(Number(pidsFile));
    expect(report.agents[1]).toMatchObject({ id: 'idle', pid: idle.pid, pids: 1 });
    expect(report.total.current).toBe(report.agents[0]!.current + report.agents[1]!.current);
    expect(report.total.pids).toBe(row!.pids + 1);

    const status = host.status();
    expect(status.root).toBe(root.path);
    expect(status.counts).toEqual({ queued: 1, starting: 0, running: 2, paused: 0, stopping: 0, exited: 0 });
    expect(status.queue).toMatchObject({ size: 1, running: 2, pending: 2, paused: true, why: 'memory 90.0% >= 85%' });
    expect(status.oomKills).toBe(0);
    const meminfoTotal = Number(/^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) * 1024;
    expect(status.memory!.total).toBe(meminfoTotal);
    expect(status.memory!.usedRatio).toBeGreaterThan(0);
    expect(status.memory!.usedRatio).toBeLessThan(1);
    const rows = Object.fromEntries(status.agents.map((r) => [r.id, r]));
    expect(rows.busy).toMatchObject({ state: 'running', pid: busy.pid, priority: 3, limit: 64 * M });
    expect(rows.busy!.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(rows.waiting).toMatchObject({ state: 'queued', priority: 0, uptimeMs: undefined });
    expect(rows.waiting!.current).toBeUndefined();

    const memoryTable = formatMemoryReport(report).split('\n');
    expect(memoryTable[0]).toMatch(/^AGENT\s+PID\s+CURRENT\s+PEAK\s+WORKING SET\s+LIMIT\s+% LIMIT\s+PIDS\s+OOM$/);
    expect(memoryTable[1]).toMatch(new RegExp(`^busy\\s+${busy.pid}\\s+\\S+\\s+\\S+\\s+\\S+\\s+64M\\s+\\d+\\.\\d%\\s+${row!.pids}\\s+0$`));
    expect(memoryTable[2]).toMatch(new RegExp(`^idle\\s+${idle.pid}\\s`));
    expect(memoryTable.at(-1)).toMatch(/^TOTAL\s/);

    const statusText = formatStatus(status);
    expect(statusText).toMatch(/^Host memory: \S+ used of \S+ \(\d+\.\d%\), \S+ available, swap /);
    expect(statusText).toContain('Agents: 2 running, 0 paused, 0 stopping, 1 queued; OOM kills: 0');
    expect(statusText).toContain('Queue: 1 waiting (admission paused: memory 90.0% >= 85%)');
    expect(statusText).toContain(`Cgroup root: ${root.path}`);
    expect(statusText).toMatch(/^AGENT\s+STATE\s+PID\s+UPTIME\s+MEMORY\s+% LIMIT\s+PIDS\s+OOM\s+PRIO$/m);
    expect(statusText).toMatch(new RegExp(`^busy\\s+running\\s+${busy.pid}\\s+\\d+s\\s+\\S+\\s+\\d+\\.\\d%\\s+\\d+\\s+0\\s+3$`, 'm'));
    expect(statusText).toMatch(/^waiting\s+queued\s+-\s+-\s+-\s+-\s+-\s+0\s+0$/m);

    await Promise.all([busy.kill({ force: true }), idle.kill({ force: true })]);
    host.resumeAdmission();
    await (await queued).result;
    expect(formatMemoryReport(host.memoryReport())).toBe('No agents running.');
    expect(host.status().counts).toEqual({ queued: 0, starting: 0, running: 0, paused: 0, stopping: 0, exited: 0 });
  });
});
