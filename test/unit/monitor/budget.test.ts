/**
 * The memory budget over fake cgroupfs trees: the tightest of MemTotal, every limit from the
 * agents' root up and the `budget` option; usage is the budget cgroup's working set.
 */
import { describe, expect, it, vi } from 'vitest';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import { ErrorCode } from '../../../src/errors.js';
import { findBudget } from '../../../src/monitor/budget.js';
import { BUDGET_REFRESH_MS, HostMemoryReader } from '../../../src/monitor/host-memory.js';
import { MemoryMonitor } from '../../../src/monitor/monitor.js';
import { fakeTree, type FakeTree } from '../../helpers/fake-tree.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const V1_UNLIMITED = '9223372036854771712';

/** A v2 cgroup with memory files: max, current, inactive_file, oom kills and PSI. */
function v2Files(dir: string, max: string, current = 0, inactive = 0, oomKill = 0): Record<string, string> {
  return {
    [`${dir}/memory.max`]: `${max}\n`,
    [`${dir}/memory.current`]: `${current}\n`,
    [`${dir}/memory.stat`]: `anon ${current - inactive}\ninactive_file ${inactive}\n`,
    [`${dir}/memory.events`]: `low 0\nhigh 0\nmax 0\noom 0\noom_kill ${oomKill}\n`,
    [`${dir}/memory.pressure`]: 'some avg10=7.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=2.00 avg60=0.00 avg300=0.00 total=1\n',
  };
}

/** v2: mount `cg/` (the true root: no memory.max), the walk starts at `cg/<from>`. */
function v2(spec: Record<string, string>, from: string): { tree: FakeTree; cgroup: Cgroup } {
  const tree = fakeTree({ 'cg/cgroup.controllers': 'memory pids\n', ...spec });
  const hierarchy: CgroupHierarchy = { mode: 'unified', version: 2, mounts: { unified: tree.path('cg') }, own: { unified: tree.path('cg', from) }, readOnly: [] };
  return { tree, cgroup: Cgroup.self({ hierarchy }) };
}

/** v1: memory mounted at `m/`, limit_in_bytes per level and the kernel's hierarchical_memory_limit. */
function v1Files(dir: string, limit: string, hierarchical: string, usage = 0, inactive = 0): Record<string, string> {
  return {
    [`${dir}/memory.limit_in_bytes`]: `${limit}\n`,
    [`${dir}/memory.usage_in_bytes`]: `${usage}\n`,
    [`${dir}/memory.stat`]: `total_inactive_file ${inactive}\nhierarchical_memory_limit ${hierarchical}\n`,
    [`${dir}/memory.oom_control`]: 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
    [`${dir}/memory.failcnt`]: '0\n',
  };
}

function v1(spec: Record<string, string>, from: string): { tree: FakeTree; cgroup: Cgroup } {
  const tree = fakeTree(spec);
  const hierarchy: CgroupHierarchy = { mode: 'legacy', version: 1, mounts: { memory: tree.path('m') }, own: { memory: tree.path('m', from) }, readOnly: [] };
  return { tree, cgroup: Cgroup.self({ hierarchy }) };
}

describe('findBudget', () => {
  it('nested v2 limits: the tightest wins, wherever it is', () => {
    const { tree, cgroup } = v2({ ...v2Files('cg/pod', String(2 * GiB)), ...v2Files('cg/pod/ctr', String(1 * GiB)), ...v2Files('cg/pod/ctr/app', 'max') }, 'pod/ctr/app');
    const budget = findBudget({ memTotal: 16 * GiB, from: cgroup });
    expect(budget).toMatchObject({ total: GiB, source: 'cgroup' });
    expect(budget.cgroup!.path).toBe(tree.path('cg/pod/ctr'));
    // Tighter further up: that one.
    tree.write('cg/pod/memory.max', `${512 * MiB}\n`);
    expect(findBudget({ memTotal: 16 * GiB, from: cgroup }).cgroup!.path).toBe(tree.path('cg/pod'));
  });

  it('"max" everywhere: MemTotal, from meminfo', () => {
    const { cgroup } = v2({ ...v2Files('cg/a', 'max'), ...v2Files('cg/a/b', 'max') }, 'a/b');
    expect(findBudget({ memTotal: 8 * GiB, from: cgroup })).toEqual({ total: 8 * GiB, source: 'meminfo', cgroup: undefined });
  });

  it('a limit larger than MemTotal: MemTotal', () => {
    const { cgroup } = v2(v2Files('cg/a', String(64 * GiB)), 'a');
    expect(findBudget({ memTotal: 8 * GiB, from: cgroup }).source).toBe('meminfo');
  });

  it('starts from a root not made yet: its ancestors still count', () => {
    const { cgroup } = v2(v2Files('cg/pod', String(GiB)), 'pod');
    const budget = findBudget({ memTotal: 8 * GiB, from: cgroup.child('nova-agents') });
    expect(budget).toMatchObject({ total: GiB, source: 'cgroup' });
  });

  it('v1: limit_in_bytes per level, and hierarchical_memory_limit for ancestors a namespace hides', () => {
    const visible = v1({ ...v1Files('m', V1_UNLIMITED, V1_UNLIMITED), ...v1Files('m/ctr', String(GiB), String(GiB)), ...v1Files('m/ctr/app', V1_UNLIMITED, String(GiB)) }, 'ctr/app');
    const budget = findBudget({ memTotal: 16 * GiB, from: visible.cgroup });
    expect(budget).toMatchObject({ total: GiB, source: 'cgroup' });
    expect(budget.cgroup!.path).toBe(visible.tree.path('m/ctr'));
    // The mount is a container's view: the limit is set above it, only the kernel's hierarchical figure shows it.
    const hidden = v1({ ...v1Files('m', V1_UNLIMITED, String(2 * GiB)), ...v1Files('m/app', V1_UNLIMITED, String(2 * GiB)) }, 'app');
    const fromHidden = findBudget({ memTotal: 16 * GiB, from: hidden.cgroup });
    expect(fromHidden).toMatchObject({ total: 2 * GiB, source: 'cgroup' });
    expect(fromHidden.cgroup!.path).toBe(hidden.tree.path('m'));
  });

  it('the budget option: a size tightens, never loosens; a cgroup counts its own limit', () => {
    const { tree, cgroup } = v2({ ...v2Files('cg/a', String(4 * GiB)), ...v2Files('cg/other', String(GiB)) }, 'a');
    expect(findBudget({ memTotal: 8 * GiB, from: cgroup, option: '2G' })).toMatchObject({ total: 2 * GiB, source: 'option' });
    expect(findBudget({ memTotal: 8 * GiB, from: cgroup, option: '6G' })).toMatchObject({ total: 4 * GiB, source: 'cgroup' });
    const other = findBudget({ memTotal: 8 * GiB, from: cgroup, option: tree.path('cg/other') });
    expect(other).toMatchObject({ total: GiB, source: 'option' });
    expect(other.cgroup!.path).toBe(tree.path('cg/other'));
    expect(() => findBudget({ memTotal: 8 * GiB, option: '0' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    expect(() => new MemoryMonitor({ agents: () => [], kill: async () => {} }, { budget: 'lots' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_SIZE }));
  });
});

describe('HostMemoryReader with a cgroup budget', () => {
  const meminfo = (totalKb: number, availableKb: number): string => `MemTotal: ${totalKb} kB\nMemAvailable: ${availableKb} kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n`;

  it('used is the working set (current − inactive_file); PSI and OOM kills are the cgroup\'s', () => {
    const proc = fakeTree({ meminfo: meminfo(16 * 1024 * 1024, 15 * 1024 * 1024) });
    const { tree, cgroup } = v2(v2Files('cg/pod', String(GiB), 900 * MiB, 100 * MiB, 2), 'pod');
    const reader = new HostMemoryReader(proc.root, { from: () => cgroup });
    const memory = reader.read();
    expect(memory).toMatchObject({ total: GiB, used: 800 * MiB, available: GiB - 800 * MiB, source: 'cgroup', cgroup: tree.path('cg/pod'), oomKills: 2 });
    expect(memory.usedRatio).toBeCloseTo(800 / 1024);
    expect(memory.pressure?.some.avg10).toBe(7);
    // Usage is read every time (files kept open).
    tree.write('cg/pod/memory.current', `${1000 * MiB}\n`);
    expect(reader.read().used).toBe(900 * MiB);
    reader.close();
  });

  it('never counts more available than the machine has', () => {
    const proc = fakeTree({ meminfo: meminfo(4 * 1024 * 1024, 200 * 1024) });
    const { cgroup } = v2(v2Files('cg/pod', String(2 * GiB), 100 * MiB), 'pod');
    const memory = new HostMemoryReader(proc.root, { from: () => cgroup }).read();
    expect(memory).toMatchObject({ total: 2 * GiB, available: 200 * MiB, used: 2 * GiB - 200 * MiB });
  });

  it('sees a resize once the limits are looked up again', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const proc = fakeTree({ meminfo: meminfo(16 * 1024 * 1024, 15 * 1024 * 1024) });
      const { tree, cgroup } = v2(v2Files('cg/pod', String(GiB), 100 * MiB), 'pod');
      const reader = new HostMemoryReader(proc.root, { from: () => cgroup });
      expect(reader.read().total).toBe(GiB);
      tree.write('cg/pod/memory.max', `${2 * GiB}\n`);
      expect(reader.read().total).toBe(GiB);
      vi.advanceTimersByTime(BUDGET_REFRESH_MS + 1);
      expect(reader.read().total).toBe(2 * GiB);
      tree.write('cg/pod/memory.max', 'max\n');
      vi.advanceTimersByTime(BUDGET_REFRESH_MS + 1);
      expect(reader.read()).toMatchObject({ total: 16 * GiB, source: 'meminfo' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('the monitor\'s levels follow the budget: 85 % of a 1 GiB cgroup is high on a roomy machine', async () => {
    const proc = fakeTree({ meminfo: meminfo(16 * 1024 * 1024, 15 * 1024 * 1024) });
    const { cgroup } = v2(v2Files('cg/pod', String(GiB), 880 * MiB), 'pod');
    const monitor = new MemoryMonitor({ agents: () => [], kill: async () => {}, root: () => cgroup.child('nova-agents') }, { procRoot: proc.root });
    await monitor.tick();
    expect(monitor.level).toBe('high');
    expect(monitor.hostMemory()).toMatchObject({ total: GiB, source: 'cgroup' });
    monitor.stop();
  });
});
