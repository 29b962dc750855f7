/**
 * The one placement module over fake v1 and v2 trees: where the agents' root goes, that setup
 * asks the same module, and that hosts on a v1 machine never share a root where their own
 * cgroup in a hierarchy is shared.
 */
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import { findRoot, locate, makeRoot, parentOf } from '../../../src/host/placement.js';
import { agentsRoot } from '../../../src/setup/root.js';
import { resolveSetupOptions } from '../../../src/setup/options.js';
import { ErrorCode } from '../../../src/errors.js';
import { fakeTree, type FakeTree } from '../../helpers/fake-tree.js';

/** v1 hybrid: memory own at `memoryOwn`, pids and freezer own at `otherOwn` ('' = the mount's root). */
function v1(memoryOwn: string, otherOwn: string): { tree: FakeTree; hierarchy: CgroupHierarchy } {
  const tree = fakeTree({ [`v1/memory/${memoryOwn}/`]: '', [`v1/pids/${otherOwn}/`]: '', [`v1/freezer/${otherOwn}/`]: '' });
  const dir = (key: string, own: string): string => (own === '' ? tree.path('v1', key) : tree.path('v1', key, own));
  const hierarchy: CgroupHierarchy = {
    mode: 'hybrid',
    version: 1,
    mounts: { memory: tree.path('v1/memory'), pids: tree.path('v1/pids'), freezer: tree.path('v1/freezer') },
    own: { memory: dir('memory', memoryOwn), pids: dir('pids', otherOwn), freezer: dir('freezer', otherOwn) },
    readOnly: [],
  };
  return { tree, hierarchy };
}

describe('findRoot on v1', () => {
  it('names the root alike in every hierarchy when the process sits in the same cgroup in each', () => {
    const { tree, hierarchy } = v1('ctr', 'ctr');
    const { root, parent, given, delegated } = findRoot({}, hierarchy);
    expect(root.location).toEqual({
      memory: tree.path('v1/memory/ctr/nova-agents'),
      pids: tree.path('v1/pids/ctr/nova-agents'),
      freezer: tree.path('v1/freezer/ctr/nova-agents'),
    });
    expect(parent.location).toEqual(Cgroup.self({ hierarchy }).location);
    expect({ given, delegated }).toEqual({ given: false, delegated: false });
  });

  it('gives each host its own root where pids and freezer are a shared cgroup', () => {
    const a = v1('pod-a', '');
    const rootA = findRoot({}, a.hierarchy).root;
    expect(rootA.location.memory).toBe(a.tree.path('v1/memory/pod-a/nova-agents'));
    expect(rootA.location.pids).toMatch(new RegExp(`^${a.tree.path('v1/pids')}/nova-agents-[0-9a-f]{8}$`));
    expect(rootA.location.freezer!.slice(-8)).toBe(rootA.location.pids!.slice(-8));
    // Another host in another memory cgroup of the same machine: another name.
    const otherMemory: CgroupHierarchy = { ...a.hierarchy, own: { ...a.hierarchy.own, memory: a.tree.path('v1/memory/pod-b') } };
    const rootB = findRoot({}, otherMemory).root;
    expect(rootB.location.pids).not.toBe(rootA.location.pids);
    // The same host restarted: the same name (it finds and adopts its agents).
    expect(findRoot({}, a.hierarchy).root.location).toEqual(rootA.location);
    // Its own rootName gives its own suffix too.
    expect(findRoot({ rootName: 'other' }, a.hierarchy).root.location.pids).toMatch(/\/other-[0-9a-f]{8}$/);
  });

  it('makes the root with its names, and its parent is the orchestrator cgroup in every hierarchy', () => {
    const { hierarchy } = v1('pod-a', '');
    const site = findRoot({}, hierarchy);
    const root = makeRoot(site);
    expect(root.exists()).toBe(true);
    expect(parentOf(root).location).toEqual(Cgroup.self({ hierarchy }).location);
    expect(root.child('agent-1').location.pids).toBe(`${root.location.pids}/agent-1`);
  });

  it('setup asks the same module: a v1 memory path as cgroupRoot stays in each hierarchy', () => {
    const { tree, hierarchy } = v1('ctr', '');
    const placed = agentsRoot(resolveSetupOptions({ hierarchy, cgroupRoot: tree.path('v1/memory/nova') }));
    expect(placed.root!.location).toEqual({
      memory: tree.path('v1/memory/nova'),
      pids: tree.path('v1/pids/nova'),
      freezer: tree.path('v1/freezer/nova'),
    });
    expect(placed.root!.location).toEqual(findRoot({ cgroupRoot: tree.path('v1/memory/nova') }, hierarchy).root.location);
    const byDefault = agentsRoot(resolveSetupOptions({ hierarchy }));
    expect(byDefault.root!.location).toEqual(findRoot({}, hierarchy).root.location);
  });

  it('refuses ".." in cgroupRoot, for the host and for setup alike', () => {
    const { tree, hierarchy } = v1('ctr', 'ctr');
    const path = `${tree.path('v1/memory')}/../../etc`;
    expect(() => locate(path, hierarchy)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    expect(() => agentsRoot(resolveSetupOptions({ hierarchy, cgroupRoot: 'a/../../x' }))).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});

describe('Cgroup on v1 with different own cgroups per hierarchy', () => {
  it('load(self().path) is self()', () => {
    const { hierarchy } = v1('pod-a/x', '');
    const self = Cgroup.self({ hierarchy });
    expect(Cgroup.load(self.path, { hierarchy }).location).toEqual(self.location);
  });

  it('populated() sees a process in any hierarchy, as children() lists them all', () => {
    const { tree, hierarchy } = v1('ctr', 'ctr');
    const root = makeRoot(findRoot({}, hierarchy));
    for (const dir of root.dirs) tree.write(`${dir.slice(tree.root.length + 1)}/cgroup.procs`, '');
    expect(root.populated()).toBe(false);
    tree.write(`${root.location.pids!.slice(tree.root.length + 1)}/cgroup.procs`, '4242\n');
    expect(root.populated()).toBe(true);
  });
});

describe('findRoot on v2', () => {
  it('puts the root beside a supervisor leaf in a delegated cgroup, straight below the true root', () => {
    const tree = fakeTree({ 'cg/cgroup.controllers': 'memory pids', 'cg/unit/cgroup.type': 'domain\n' });
    const hierarchy: CgroupHierarchy = { mode: 'unified', version: 2, mounts: { unified: tree.path('cg') }, own: { unified: tree.path('cg/unit') }, readOnly: [] };
    expect(findRoot({}, hierarchy)).toMatchObject({ given: false, delegated: true });
    expect(findRoot({}, hierarchy).root.path).toBe(tree.path('cg/unit/nova-agents'));
    // Restarted from inside its supervisor leaf: the same root.
    const fromLeaf = { ...hierarchy, own: { unified: tree.path('cg/unit/supervisor') } };
    expect(findRoot({}, fromLeaf).root.path).toBe(tree.path('cg/unit/nova-agents'));
    const atRoot = { ...hierarchy, own: { unified: tree.path('cg') } };
    expect(findRoot({}, atRoot)).toMatchObject({ delegated: false });
  });
});
