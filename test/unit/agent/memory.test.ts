import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AGENT_CGROUP_ENV, memoryUsage, shouldReduceMemoryUsage } from '../../../src/agent/index.js';
import { fakeTree } from '../../helpers/fake-tree.js';
import { MiB, PSI, v1Files, v1HybridHost, v2Files, v2Host } from './trees.js';

beforeEach(() => {
  // The test process may itself run under a host that sets the variable.
  vi.stubEnv(AGENT_CGROUP_ENV, '');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('memoryUsage', () => {
  it('v2: memory.current against memory.max, memory.high, working set, PSI some avg10', () => {
    const tree = v2Host('/agents/a1', {
      ...v2Files('cg'),
      ...v2Files('cg/agents', { current: 900 * MiB, max: 'max' }),
      ...v2Files('cg/agents/a1', { current: 48 * MiB, max: 64 * MiB, high: 56 * MiB, inactive: 8 * MiB, psi: PSI }),
    });
    expect(memoryUsage({ procRoot: tree.path('proc') })).toEqual({
      current: 48 * MiB,
      max: 64 * MiB,
      high: 56 * MiB,
      ratio: 0.75,
      workingSet: 40 * MiB,
      pressure: 1.5,
      cgroup: tree.path('cg/agents/a1'),
      version: 2,
    });
  });

  it('v1: usage_in_bytes against limit_in_bytes; soft limit as high; total_inactive_file for the working set', () => {
    const tree = v1HybridHost('/agents/a1', {
      ...v1Files('memory', { usage: 5000 * MiB }),
      ...v1Files('memory/agents', { usage: 100 * MiB }),
      ...v1Files('memory/agents/a1', { usage: 16 * MiB, limit: 64 * MiB, soft: 48 * MiB, inactive: 4 * MiB }),
    });
    expect(memoryUsage({ procRoot: tree.path('proc') })).toEqual({
      current: 16 * MiB,
      max: 64 * MiB,
      high: 48 * MiB,
      ratio: 0.25,
      workingSet: 12 * MiB,
      cgroup: tree.path('memory/agents/a1'),
      version: 1,
    });
  });

  it('unlimited everywhere: own current, max and high Infinity, ratio 0 (v2 "max", v1 huge values)', () => {
    const v2 = v2Host('/a', { ...v2Files('cg'), ...v2Files('cg/a', { current: 7 * MiB, max: 'max', high: 'max' }) });
    expect(memoryUsage({ procRoot: v2.path('proc') })).toMatchObject({ current: 7 * MiB, max: Infinity, high: Infinity, ratio: 0, cgroup: v2.path('cg/a') });
    const v1 = v1HybridHost('/a', { ...v1Files('memory', { usage: 99 * MiB }), ...v1Files('memory/a', { usage: 3 * MiB }) });
    expect(memoryUsage({ procRoot: v1.path('proc') })).toMatchObject({ current: 3 * MiB, max: Infinity, high: Infinity, ratio: 0, cgroup: v1.path('memory/a') });
  });

  it('nested: an unlimited own cgroup inside a limited one reports the ancestor whose limit applies', () => {
    const tree = v2Host('/agents/a1/work', {
      ...v2Files('cg'),
      ...v2Files('cg/agents', { current: 2000 * MiB, max: 'max' }),
      ...v2Files('cg/agents/a1', { current: 3072 * MiB, max: 4096 * MiB, high: 3584 * MiB }),
      ...v2Files('cg/agents/a1/work', { current: 1024 * MiB, max: 'max', high: 'max', psi: PSI }),
    });
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({
      current: 3072 * MiB,
      max: 4096 * MiB,
      high: 3584 * MiB,
      ratio: 0.75,
      cgroup: tree.path('cg/agents/a1'),
      // PSI stays the agent's own: its stalls, whichever level causes them.
      pressure: 1.5,
    });
  });

  it('nested: of several limits, the one closest to being reached', () => {
    const tree = v1HybridHost('/pool/a1', {
      ...v1Files('memory', { usage: 1 }),
      ...v1Files('memory/pool', { usage: 90 * MiB, limit: 100 * MiB }),
      ...v1Files('memory/pool/a1', { usage: 20 * MiB, limit: 64 * MiB }),
    });
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({ current: 90 * MiB, max: 100 * MiB, ratio: 0.9, cgroup: tree.path('memory/pool') });
    tree.write('memory/pool/memory.usage_in_bytes', `${30 * MiB}\n`);
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({ current: 20 * MiB, max: 64 * MiB, cgroup: tree.path('memory/pool/a1') });
  });

  it('an ancestor whose files cannot be read is passed over; the walk stops at the mount', () => {
    const tree = v2Host('/a/b/c', {
      ...v2Files('cg', { current: 1, max: 2 }), // not a real root's files, but shows the walk reaches the mount point
      ...v2Files('cg/a', { current: 10 * MiB, max: 100 * MiB }),
      ...v2Files('cg/a/b'), // memory controller not enabled here: no memory.* files
      ...v2Files('cg/a/b/c', { current: 5 * MiB, max: 'max' }),
      'memory.max': '1\n', // above the mount point: never read
      'memory.current': '1\n',
    });
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({ current: 1, max: 2, ratio: 0.5, cgroup: tree.path('cg') });
    tree.write('cg/memory.max', 'max\n');
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({ current: 10 * MiB, max: 100 * MiB, cgroup: tree.path('cg/a') });
  });

  it('container: the cgroup2 mount is the agent\'s own, limited cgroup', () => {
    const tree = v2Host('/', v2Files('cg', { current: 30 * MiB, max: 120 * MiB, high: 'max', psi: PSI }));
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({ current: 30 * MiB, max: 120 * MiB, high: Infinity, ratio: 0.25, cgroup: tree.path('cg'), pressure: 1.5 });
  });

  it('a cgroup without memory accounting (the v2 root) falls back to the nearest ancestor that has it, else VmRSS', () => {
    const child = v2Host('/a/b', { ...v2Files('cg'), ...v2Files('cg/a', { current: 9 * MiB, max: 'max' }), ...v2Files('cg/a/b') });
    expect(memoryUsage({ procRoot: child.path('proc') })).toMatchObject({ current: 9 * MiB, max: Infinity, cgroup: child.path('cg/a') });
    const root = v2Host('/', v2Files('cg'));
    expect(memoryUsage({ procRoot: root.path('proc') })).toEqual({ current: 2 * MiB, max: Infinity, high: Infinity, ratio: 0 });
  });

  it('no cgroup at all: VmRSS, or 0 without /proc; never throws', () => {
    const bare = fakeTree({ 'proc/self/cgroup': '', 'proc/self/mountinfo': '', 'proc/self/status': 'VmRSS:\t  4096 kB\n' });
    expect(memoryUsage({ procRoot: bare.path('proc') })).toEqual({ current: 4 * MiB, max: Infinity, high: Infinity, ratio: 0 });
    expect(memoryUsage({ procRoot: bare.path('missing') })).toEqual({ current: 0, max: Infinity, high: Infinity, ratio: 0 });
    expect(memoryUsage({ procRoot: bare.path('proc'), agentCgroup: null })).toMatchObject({ current: 4 * MiB, max: Infinity });
  });

  it('garbage in kernel files reads as "not known", not as an exception', () => {
    const tree = v2Host('/a', { ...v2Files('cg'), ...v2Files('cg/a'), 'cg/a/memory.current': 'oops\n', 'cg/a/memory.max': '\n', 'cg/a/memory.pressure': 'none\n' });
    expect(memoryUsage({ procRoot: tree.path('proc') })).toEqual({ current: 2 * MiB, max: Infinity, high: Infinity, ratio: 0 });
  });

  it('the cgroupDir option and the environment variable are used as given', () => {
    const tree = v2Host('/a', {
      ...v2Files('cg'),
      ...v2Files('cg/a', { current: 1 * MiB, max: 'max' }),
      ...v2Files('cg/b', { current: 10 * MiB, max: 20 * MiB }),
      ...v2Files('cg/c', { current: 15 * MiB, max: 20 * MiB }),
    });
    expect(memoryUsage({ procRoot: tree.path('proc'), cgroupDir: tree.path('cg/b') })).toMatchObject({ ratio: 0.5, cgroup: tree.path('cg/b') });
    vi.stubEnv(AGENT_CGROUP_ENV, tree.path('cg/c'));
    expect(memoryUsage({ procRoot: tree.path('proc') })).toMatchObject({ ratio: 0.75, cgroup: tree.path('cg/c') });
  });
});

describe('shouldReduceMemoryUsage', () => {
  const host = () =>
    v2Host('/a', { ...v2Files('cg'), ...v2Files('cg/a', { current: 81 * MiB, max: 100 * MiB }) });

  it('the seed\'s check: over 80 % of the limit by default, strictly above the threshold', () => {
    const tree = host();
    expect(shouldReduceMemoryUsage(undefined, { procRoot: tree.path('proc') })).toBe(true);
    expect(shouldReduceMemoryUsage(0.81, { procRoot: tree.path('proc') })).toBe(false);
    expect(shouldReduceMemoryUsage(0.9, { procRoot: tree.path('proc') })).toBe(false);
    tree.write('cg/a/memory.current', `${80 * MiB}\n`);
    expect(shouldReduceMemoryUsage(0.8, { procRoot: tree.path('proc') })).toBe(false);
  });

  it('always false without a limit or without cgroups', () => {
    const tree = v2Host('/a', { ...v2Files('cg'), ...v2Files('cg/a', { current: 81 * MiB, max: 'max' }) });
    expect(shouldReduceMemoryUsage(0.01, { procRoot: tree.path('proc') })).toBe(false);
    expect(shouldReduceMemoryUsage(0.01, { procRoot: tree.path('nowhere') })).toBe(false);
  });

  it.each([0, -0.5, 1.5, Number.NaN, Infinity, '0.8' as unknown as number])('refuses threshold %s with ERR_INVALID_OPTION', (threshold) => {
    expect(() => shouldReduceMemoryUsage(threshold)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_OPTION' }));
  });
});
