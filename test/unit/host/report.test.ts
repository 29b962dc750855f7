/**
 * The reports as data and as tables, from stand-in agents (no kernel): rows, totals, sorting,
 * a vanished agent, host memory from a fake /proc/meminfo, and the exact table layout.
 */
import { describe, expect, it } from 'vitest';
import type { Agent, AgentState } from '../../../src/host/agent.js';
import {
  buildMemoryReport,
  buildStatus,
  formatMemoryReport,
  formatStatus,
  formatTable,
  type HostStatus,
} from '../../../src/host/report.js';
import type { CgroupStats } from '../../../src/cgroup/stats.js';
import { fakeTree } from '../../helpers/fake-tree.js';
import { HostMemoryReader } from '../../../src/monitor/host-memory.js';

const M = 1024 ** 2;

function stats(current: number, max: number, pids: number, oomKill = 0): CgroupStats {
  return {
    memory: {
      current,
      peak: current + M,
      workingSet: current - M,
      anon: current,
      file: 0,
      inactiveFile: M,
      max,
      high: max,
      swap: 0,
      events: { low: 0, high: 0, max: 0, oom: oomKill, oomKill },
    },
    pids: { current: pids, max: 512, events: { max: 0 } },
    pressure: undefined,
  } as CgroupStats;
}

/** A stand-in with what the reports read from an Agent. */
function agent(id: string, state: AgentState, read: () => CgroupStats | undefined, extra: { pid?: number; priority?: number; startedAt?: number } = {}): Agent {
  return { id, state, pid: extra.pid, priority: extra.priority ?? 0, startedAt: extra.startedAt, stats: read } as unknown as Agent;
}

const meminfo = ['MemTotal:       16384000 kB', 'MemFree:         1000000 kB', 'MemAvailable:    4096000 kB', 'SwapTotal:             0 kB', 'SwapFree:              0 kB', ''].join('\n');

describe('buildMemoryReport', () => {
  it('rows sorted by current memory, % of limit, totals; ended and unlimited agents handled', () => {
    const report = buildMemoryReport([
      agent('small', 'running', () => stats(10 * M, 100 * M, 1), { pid: 11 }),
      agent('big', 'running', () => stats(80 * M, 100 * M, 3, 2), { pid: 12 }),
      agent('free', 'running', () => stats(5 * M, Infinity, 1), { pid: 13 }),
      agent('gone', 'running', () => {
        throw new Error('ENOENT');
      }),
      agent('nocgroup', 'running', () => undefined),
    ]);
    expect(report.agents.map((r) => r.id)).toEqual(['big', 'small', 'free']);
    expect(report.agents[0]).toEqual({
      id: 'big',
      state: 'running',
      pid: 12,
      current: 80 * M,
      peak: 81 * M,
      workingSet: 79 * M,
      limit: 100 * M,
      percentOfLimit: 80,
      pids: 3,
      oomKills: 2,
    });
    expect(report.agents[2]!.percentOfLimit).toBe(0);
    expect(report.total).toEqual({ current: 95 * M, workingSet: 92 * M, pids: 5, oomKills: 2 });
  });
});

describe('host memory / buildStatus', () => {
  it('host memory from /proc/meminfo: used = total − available', () => {
    const proc = fakeTree({ 'meminfo': meminfo });
    expect(new HostMemoryReader(proc.root).read()).toEqual({
      total: 16384000 * 1024,
      available: 4096000 * 1024,
      used: (16384000 - 4096000) * 1024,
      usedRatio: 0.75,
      swapTotal: 0,
      swapFree: 0,
      source: 'meminfo',
    });
  });

  it('counts by state, a row per agent (no figures for queued ones), unknown host memory without /proc', () => {
    const proc = fakeTree({ 'meminfo': meminfo });
    const now = Date.now();
    const status = buildStatus({
      agents: [
        agent('run', 'running', () => stats(10 * M, 100 * M, 2), { pid: 5, priority: 1, startedAt: now - 5000 }),
        agent('stop', 'stopping', () => stats(1 * M, 100 * M, 1), { pid: 6, startedAt: now - 1000 }),
        agent('wait', 'queued', () => {
          throw new Error('never read');
        }),
      ],
      queue: { size: 1, running: 2, pending: 2, paused: false, why: undefined },
      root: '/sys/fs/cgroup/nova-agents',
      oomKills: 3,
      memory: new HostMemoryReader(proc.root).read(),
      level: 'high',
    });
    expect(status.counts).toEqual({ queued: 1, starting: 0, running: 1, paused: 0, stopping: 1, exited: 0 });
    expect(status.agents.map((r) => [r.id, r.state, r.pid, r.current])).toEqual([
      ['run', 'running', 5, 10 * M],
      ['stop', 'stopping', 6, 1 * M],
      ['wait', 'queued', undefined, undefined],
    ]);
    expect(status.agents[0]!.uptimeMs).toBeGreaterThanOrEqual(5000);
    expect(status.memory!.usedRatio).toBe(0.75);
    expect(status.oomKills).toBe(3);
    expect(status.level).toBe('high');
  });
});

describe('tables', () => {
  it('formatTable pads the first column right, the others left, and trims line ends', () => {
    expect(formatTable([['A', 'NUM'], ['long-name', '1'], ['x', '12345']])).toBe(['A            NUM', 'long-name      1', 'x          12345'].join('\n'));
  });

  it('formatMemoryReport prints check-agent-memory.sh’s table, or a line when nothing runs', () => {
    const report = buildMemoryReport([
      agent('agent-001', 'running', () => stats(512 * M, 4096 * M, 7, 1), { pid: 4242 }),
      agent('agent-002', 'running', () => stats(64 * M, Infinity, 1), { pid: 4243 }),
    ]);
    expect(formatMemoryReport(report)).toBe(
      [
        'AGENT       PID  CURRENT  PEAK  WORKING SET  LIMIT  % LIMIT  PIDS  OOM',
        'agent-001  4242     512M  513M         511M   4.0G    12.5%     7    1',
        'agent-002  4243      64M   65M          63M    max     0.0%     1    0',
        'TOTAL               576M               574M                     8    1',
      ].join('\n'),
    );
    expect(formatMemoryReport({ at: 0, agents: [], total: { current: 0, workingSet: 0, pids: 0, oomKills: 0 } })).toBe('No agents running.');
  });

  it('formatStatus prints agent-status.sh’s overview', () => {
    const status: HostStatus = {
      at: 0,
      root: '/sys/fs/cgroup/nova-agents',
      memory: { total: 16 * 1024 * M, available: 4 * 1024 * M, used: 12 * 1024 * M, usedRatio: 0.75, swapTotal: 0, swapFree: 0 },
      level: undefined,
      counts: { queued: 1, starting: 0, running: 1, paused: 0, stopping: 0, exited: 0 },
      agents: [
        { id: 'agent-001', state: 'running', pid: 77, uptimeMs: 3_725_000, priority: 5, current: 300 * M, percentOfLimit: 7.32, pids: 4, oomKills: 1 },
        { id: 'agent-002', state: 'queued', uptimeMs: undefined, priority: 0 },
      ],
      oomKills: 1,
      queue: { size: 1, running: 1, pending: 1, paused: true, why: 'memory 86.0% >= 85%' },
    };
    expect(formatStatus(status)).toBe(
      [
        'Host memory: 12G used of 16G (75.0%), 4.0G available, swap off',
        'Agents: 1 running, 0 paused, 0 stopping, 1 queued; OOM kills: 1',
        'Queue: 1 waiting (admission paused: memory 86.0% >= 85%)',
        'Cgroup root: /sys/fs/cgroup/nova-agents',
        '',
        'AGENT        STATE  PID  UPTIME  MEMORY  % LIMIT  PIDS  OOM  PRIO',
        'agent-001  running   77   1h02m    300M     7.3%     4    1     5',
        'agent-002   queued    -       -       -        -     -    0     0',
      ].join('\n'),
    );
    expect(formatStatus({ ...status, memory: undefined, agents: [], root: undefined, queue: { ...status.queue, paused: false } })).toBe(
      ['Host memory: unknown', 'Agents: 1 running, 0 paused, 0 stopping, 1 queued; OOM kills: 1', 'Queue: 1 waiting'].join('\n'),
    );
  });

  it('a cgroup budget: status and the memory report say whose limit and working set they count', () => {
    const memory = { total: 1024 * M, available: 224 * M, used: 800 * M, usedRatio: 800 / 1024, source: 'cgroup' as const, cgroup: '/sys/fs/cgroup/pod', oomKills: 0 };
    const status = buildStatus({ agents: [], queue: { size: 0, running: 0, pending: 0, paused: false, why: undefined }, root: undefined, oomKills: 0, memory, level: 'normal' });
    expect(formatStatus(status).split('\n').slice(0, 2)).toEqual([
      'Host memory: 800M used of 1.0G (78.1%, normal), 224M available, swap off',
      'Budget: the memory limit, working set of /sys/fs/cgroup/pod counted, kernel OOM kills there: 0',
    ]);
    const report = buildMemoryReport([agent('agent-001', 'running', () => stats(512 * M, 4096 * M, 7, 1), { pid: 4242 })], memory);
    expect(report.memory).toEqual(memory);
    // The table stays check-agent-memory.sh's.
    expect(formatMemoryReport(report).split('\n').at(-1)).toMatch(/^TOTAL\s/);
  });
});
