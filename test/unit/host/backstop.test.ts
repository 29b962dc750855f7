/**
 * The backstop following a resize, on fake cgroupfs trees: the agents' root's limits are derived
 * again from the container around it (never from themselves) and re-written when they change;
 * an explicit size, no backstop or a failed first write leave them alone.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { RootBackstop } from '../../../src/host/backstop.js';
import { backstopLimits, writeRootLimits, type Placement, type PlacementOptions } from '../../../src/host/placement.js';
import { BUDGET_REFRESH_MS } from '../../../src/monitor/host-memory.js';
import { agentsRootLimits, reserveOf } from '../../../src/setup/reserve.js';
import { fakeTree, type FakeTree } from '../../helpers/fake-tree.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const MEMINFO = `MemTotal:       ${16 * 1024 * 1024} kB\nMemAvailable:   ${12 * 1024 * 1024} kB\n`;

/** What start() writes on the root of a container limited to `bytes`. */
const planned = (bytes: number) => agentsRootLimits(reserveOf(bytes).availableForAgents);

afterEach(() => {
  vi.useRealTimers();
});

/** A container `<mount>/ctr` and its agents' root `<mount>/ctr/nova-agents`: a fake v2 tree (`cg/`) or v1 memory hierarchy (`m/`). */
function fakeContainer(version: 1 | 2, files: Record<string, string>): { tree: FakeTree; root: Cgroup } {
  const [mount, key] = version === 2 ? (['cg', 'unified'] as const) : (['m', 'memory'] as const);
  const tree = fakeTree({ ...files, 'proc/meminfo': MEMINFO });
  const hierarchy: CgroupHierarchy = { mode: version === 2 ? 'unified' : 'legacy', version, mounts: { [key]: tree.path(mount) }, own: { [key]: tree.path(mount, 'ctr') }, readOnly: [] };
  return { tree, root: new Cgroup({ [key]: tree.path(mount, 'ctr/nova-agents') }, { hierarchy }) };
}

/** v2: a container `cg/ctr` limited to 1 GiB, its agents' root `cg/ctr/nova-agents` limited by start(). */
function v2Container(): { tree: FakeTree; root: Cgroup; setContainer: (bytes: number) => void; rootMax: () => number; rootHigh: () => number } {
  const { tree, root } = fakeContainer(2, {
    'cg/cgroup.controllers': 'memory pids\n',
    'cg/ctr/memory.max': `${GiB}\n`,
    'cg/ctr/nova-agents/memory.max': 'max\n',
    'cg/ctr/nova-agents/memory.high': 'max\n',
    'cg/ctr/nova-agents/memory.oom.group': '0\n',
  });
  return {
    tree,
    root,
    setContainer: (bytes) => tree.write('cg/ctr/memory.max', `${bytes}\n`),
    rootMax: () => Number(tree.read('cg/ctr/nova-agents/memory.max')),
    rootHigh: () => Number(tree.read('cg/ctr/nova-agents/memory.high')),
  };
}

/** As start() leaves it: the plan's limits written on the root, and a follower of them. */
function started(tree: FakeTree, root: Cgroup, errors: Error[] = [], options: PlacementOptions = {}): RootBackstop {
  const written = backstopLimits({ parent: new Cgroup({ unified: tree.path('cg/ctr') }, { hierarchy: root.hierarchy }) }, options, tree.path('proc'))!;
  writeRootLimits(root, written);
  return new RootBackstop(root, written, options, { error: (error) => errors.push(error) }, tree.path('proc'));
}

describe('RootBackstop: the root\'s limits follow the budget outside it', () => {
  it('v2: the container shrinks then grows, the root follows both ways (derived from the container, not from its own limit)', () => {
    const { tree, root, setContainer, rootMax, rootHigh } = v2Container();
    const backstop = started(tree, root);
    expect(rootMax()).toBe(planned(GiB).memoryMax);
    // Nothing changed: nothing written.
    expect(backstop.refresh()).toBe(false);

    setContainer(512 * MiB);
    expect(backstop.refresh()).toBe(true);
    expect([rootMax(), rootHigh()]).toEqual([planned(512 * MiB).memoryMax, planned(512 * MiB).memoryHigh]);
    expect(backstop.limits).toEqual(planned(512 * MiB));
    expect(tree.read('cg/ctr/nova-agents/memory.oom.group')).toBe('0');

    // Larger than before: read through the root's own (now smaller) limit, it could never grow back.
    setContainer(2 * GiB);
    expect(backstop.refresh()).toBe(true);
    expect(rootMax()).toBe(planned(2 * GiB).memoryMax);
    expect(backstop.refresh()).toBe(false);
  });

  it('v1: limit_in_bytes, memsw and the soft limit follow the container\'s hierarchical limit', () => {
    const v1Limits = (limit: number) => ({
      'm/ctr/memory.limit_in_bytes': `${limit}\n`,
      'm/ctr/memory.stat': `hierarchical_memory_limit ${limit}\n`,
    });
    const { tree, root } = fakeContainer(1, {
      ...v1Limits(GiB),
      'm/ctr/nova-agents/memory.limit_in_bytes': '9223372036854771712\n',
      'm/ctr/nova-agents/memory.memsw.limit_in_bytes': '9223372036854771712\n',
      'm/ctr/nova-agents/memory.soft_limit_in_bytes': '9223372036854771712\n',
    });
    const written = planned(GiB);
    writeRootLimits(root, written);
    const backstop = new RootBackstop(root, written, {}, { error: (error) => expect.fail(error.message) }, tree.path('proc'));
    for (const [file, content] of Object.entries(v1Limits(768 * MiB))) tree.write(file, content);
    expect(backstop.refresh()).toBe(true);
    const read = (file: string): number => Number(tree.read(`m/ctr/nova-agents/${file}`));
    expect([read('memory.limit_in_bytes'), read('memory.memsw.limit_in_bytes'), read('memory.soft_limit_in_bytes')]).toEqual([
      planned(768 * MiB).memoryMax,
      planned(768 * MiB).memoryMax,
      planned(768 * MiB).memoryHigh,
    ]);
  });

  it('checks at the budget\'s own refresh period, and stops', () => {
    vi.useFakeTimers();
    const { tree, root, setContainer, rootMax } = v2Container();
    const backstop = started(tree, root).start();
    setContainer(768 * MiB);
    vi.advanceTimersByTime(BUDGET_REFRESH_MS - 1);
    expect(rootMax()).toBe(planned(GiB).memoryMax);
    vi.advanceTimersByTime(1);
    expect(rootMax()).toBe(planned(768 * MiB).memoryMax);
    backstop.stop();
    setContainer(GiB);
    vi.advanceTimersByTime(2 * BUDGET_REFRESH_MS);
    expect(rootMax()).toBe(planned(768 * MiB).memoryMax);
  });

  it('a failed write is reported once (typed, naming the root\'s file), tried again quietly, and the next success resets it', () => {
    const { tree, root, setContainer, rootMax } = v2Container();
    const errors: Error[] = [];
    const backstop = started(tree, root, errors);
    // A directory where the kernel file should be: the write fails as the kernel's refusal would.
    rmSync(tree.path('cg/ctr/nova-agents/memory.max'));
    mkdirSync(tree.path('cg/ctr/nova-agents/memory.max'));
    setContainer(512 * MiB);
    expect(backstop.refresh()).toBe(false);
    expect(backstop.refresh()).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(AgentHostError);
    expect(String((errors[0] as AgentHostError).file ?? errors[0]!.message)).toContain('memory.max');
    // The limits it holds are still the ones on the root.
    expect(backstop.limits).toEqual(planned(GiB));
    rmSync(tree.path('cg/ctr/nova-agents/memory.max'), { recursive: true });
    tree.write('cg/ctr/nova-agents/memory.max', `${planned(GiB).memoryMax}\n`);
    expect(backstop.refresh()).toBe(true);
    expect(rootMax()).toBe(planned(512 * MiB).memoryMax);
  });

  it('a budget that leaves nothing for agents is an error; the limits stay', () => {
    const { tree, root, setContainer, rootMax } = v2Container();
    const errors: Error[] = [];
    const reserve = { system: '512M' } as const;
    const backstop = started(tree, root, errors, { reserve });
    const before = agentsRootLimits(reserveOf(GiB, reserve).availableForAgents);
    expect(rootMax()).toBe(before.memoryMax);
    setContainer(512 * MiB);
    expect(backstop.refresh()).toBe(false);
    expect(errors.map((e) => (e as AgentHostError).code)).toEqual([ErrorCode.HOST_MEMORY_UNAVAILABLE]);
    expect(rootMax()).toBe(before.memoryMax);
  });

  it('follows only limits the host derived and wrote: not an explicit size, not with agentsMemoryMax: false, not after a failed first write', () => {
    const { root } = v2Container();
    const report = { error: () => expect.fail('no error expected') };
    const placement = (backstop: Placement['backstop']): Placement => ({ root, supervisor: undefined, backstop });
    expect(RootBackstop.follow(placement(agentsRootLimits(2 * GiB)), { agentsMemoryMax: '2G' }, report)).toBeUndefined();
    expect(RootBackstop.follow(placement(undefined), { agentsMemoryMax: false }, report)).toBeUndefined();
    const failed = new AgentHostError(ErrorCode.CGROUP_PERMISSION, 'denied');
    expect(RootBackstop.follow(placement({ error: failed }), {}, report)).toBeUndefined();
    const following = RootBackstop.follow(placement(planned(GiB)), {}, report);
    expect(following).toBeInstanceOf(RootBackstop);
    following!.stop();
  });
});
