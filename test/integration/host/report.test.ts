/**
 * memoryReport() / status() rows against the kernel's own figures, and the tables
 * formatMemoryReport / formatStatus print (the seed's check-agent-memory.sh and agent-status.sh).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatMemoryReport, formatStatus } from '../../../src/index.js';
import { waitFor } from '../../helpers/wait.js';
import { kernelFile, startHost } from './harness.js';

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
    expect(status.counts).toEqual({ queued: 1, running: 2, stopping: 0, exited: 0 });
    expect(status.queue).toMatchObject({ size: 1, paused: true, why: 'memory 90.0% >= 85%' });
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
    expect(statusText).toContain('Agents: 2 running, 0 stopping, 1 queued; OOM kills: 0');
    expect(statusText).toContain('Queue: 1 waiting (admission paused: memory 90.0% >= 85%)');
    expect(statusText).toContain(`Cgroup root: ${root.path}`);
    expect(statusText).toMatch(/^AGENT\s+STATE\s+PID\s+UPTIME\s+MEMORY\s+% LIMIT\s+PIDS\s+OOM\s+PRIO$/m);
    expect(statusText).toMatch(new RegExp(`^busy\\s+running\\s+${busy.pid}\\s+\\d+s\\s+\\S+\\s+\\d+\\.\\d%\\s+\\d+\\s+0\\s+3$`, 'm'));
    expect(statusText).toMatch(/^waiting\s+queued\s+-\s+-\s+-\s+-\s+-\s+0\s+0$/m);

    await Promise.all([busy.kill({ force: true }), idle.kill({ force: true })]);
    host.resumeAdmission();
    await (await queued).result;
    expect(formatMemoryReport(host.memoryReport())).toBe('No agents running.');
    expect(host.status().counts).toEqual({ queued: 0, running: 0, stopping: 0, exited: 0 });
  });
});
