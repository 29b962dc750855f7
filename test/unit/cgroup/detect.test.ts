import { describe, expect, it } from 'vitest';
import { detectHierarchy } from '../../../src/cgroup/detect.js';
import { fakeTree, mountinfoLine, type FakeTree } from '../../helpers/fake-tree.js';

/** A fake /proc/<pid> with the given cgroup lines and mountinfo lines (mount points relative to the tree). */
function fakeProc(options: { cgroup: string[]; mounts: Parameters<typeof mountinfoLine>[0][]; pid?: string; files?: Record<string, string> }): FakeTree {
  const tree = fakeTree(options.files);
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '23 22 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw',
    ...options.mounts.map((m) => mountinfoLine({ ...m, mountPoint: tree.path(m.mountPoint) })),
  ];
  tree.write(`proc/${options.pid ?? 'self'}/mountinfo`, `${mountinfo.join('\n')}\n`);
  tree.write(`proc/${options.pid ?? 'self'}/cgroup`, `${options.cgroup.join('\n')}\n`);
  return tree;
}

const v1Mounts = (controllers: string[], extra: Partial<Parameters<typeof mountinfoLine>[0]> = {}) =>
  controllers.map((c, i) => ({
    id: 40 + i,
    mountPoint: `sys/fs/cgroup/${c.replace('name=', '')}`,
    fsType: 'cgroup',
    superOptions: `rw,${c}`,
    ...extra,
  }));

describe('detectHierarchy', () => {
  it('unified: pure v2 with the memory controller → driver v2, own cgroup from the 0:: line', () => {
    const tree = fakeProc({
      cgroup: ['0::/user.slice/user-1000.slice/session-2.scope'],
      mounts: [{ mountPoint: 'sys/fs/cgroup', fsType: 'cgroup2', superOptions: 'rw,nsdelegate,memory_recursiveprot' }],
      files: { 'sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toEqual({
      mode: 'unified',
      version: 2,
      mounts: { unified: tree.path('sys/fs/cgroup') },
      own: { unified: tree.path('sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope') },
      readOnly: [],
    });
  });

  it('unified without the memory controller offered → no driver (version undefined)', () => {
    const tree = fakeProc({
      cgroup: ['0::/'],
      mounts: [{ mountPoint: 'sys/fs/cgroup', fsType: 'cgroup2' }],
      files: { 'sys/fs/cgroup/cgroup.controllers': 'cpu io pids\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toMatchObject({ mode: 'unified', version: undefined });
  });

  it('hybrid (systemd, like these hosts): v1 memory/pids/freezer plus cgroup2 at unified → driver v1', () => {
    const tree = fakeProc({
      cgroup: [
        '9:name=systemd:/',
        '8:pids:/',
        '6:freezer:/',
        '4:memory:/process_api/abc',
        '1:cpu:/',
        '0::/',
      ],
      mounts: [
        ...v1Mounts(['cpu', 'memory', 'freezer', 'pids', 'name=systemd']),
        { id: 60, mountPoint: 'sys/fs/cgroup/unified', fsType: 'cgroup2' },
      ],
      files: { 'sys/fs/cgroup/unified/cgroup.controllers': '\n' },
    });
    const cg = (p: string) => tree.path('sys/fs/cgroup', p);
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toEqual({
      mode: 'hybrid',
      version: 1,
      mounts: { unified: cg('unified'), memory: cg('memory'), freezer: cg('freezer'), pids: cg('pids') },
      own: { unified: cg('unified'), memory: cg('memory/process_api/abc'), freezer: cg('freezer'), pids: cg('pids') },
      readOnly: [],
    });
  });

  it('legacy: v1 only → driver v1, no unified hierarchy', () => {
    const tree = fakeProc({
      cgroup: ['3:pids:/a', '2:memory:/a', '1:freezer:/a'],
      mounts: v1Mounts(['memory', 'pids', 'freezer']),
    });
    const h = detectHierarchy({ procRoot: tree.path('proc') });
    expect(h.mode).toBe('legacy');
    expect(h.version).toBe(1);
    expect(h.mounts.unified).toBeUndefined();
    expect(h.own).toEqual({
      memory: tree.path('sys/fs/cgroup/memory/a'),
      pids: tree.path('sys/fs/cgroup/pids/a'),
      freezer: tree.path('sys/fs/cgroup/freezer/a'),
    });
  });

  it('legacy without the memory hierarchy → no driver', () => {
    const tree = fakeProc({ cgroup: ['2:pids:/', '1:cpu,cpuacct:/'], mounts: v1Mounts(['pids', 'cpu,cpuacct']) });
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toMatchObject({ mode: 'legacy', version: undefined });
  });

  it('co-mounted v1 controllers (rw,cpu,cpuacct,memory) are found by their super options', () => {
    const tree = fakeProc({
      cgroup: ['2:cpu,cpuacct,memory:/x'],
      mounts: [{ mountPoint: 'sys/fs/cgroup/combined', fsType: 'cgroup', superOptions: 'rw,cpu,cpuacct,memory' }],
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') }).own.memory).toBe(tree.path('sys/fs/cgroup/combined/x'));
  });

  it('a v2 mount plus only the name=systemd,xattr v1 hierarchy is unified, not hybrid', () => {
    const tree = fakeProc({
      cgroup: ['1:name=systemd:/init.scope', '0::/init.scope'],
      mounts: [
        { mountPoint: 'sys/fs/cgroup', fsType: 'cgroup2' },
        { id: 50, mountPoint: 'sys/fs/cgroup/systemd', fsType: 'cgroup', superOptions: 'rw,xattr,name=systemd' },
      ],
      files: { 'sys/fs/cgroup/cgroup.controllers': 'memory pids\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toMatchObject({ mode: 'unified', version: 2 });
  });

  it('hybrid with memory on v2 (v1 holds only other controllers) → driver v2', () => {
    const tree = fakeProc({
      cgroup: ['1:cpuset:/', '0::/svc'],
      mounts: [...v1Mounts(['cpuset']), { id: 60, mountPoint: 'sys/fs/cgroup/unified', fsType: 'cgroup2' }],
      files: { 'sys/fs/cgroup/unified/cgroup.controllers': 'memory pids\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toMatchObject({
      mode: 'hybrid',
      version: 2,
      own: { unified: tree.path('sys/fs/cgroup/unified/svc') },
    });
  });

  it('none: no cgroup mounts, or no /proc at all', () => {
    const tree = fakeProc({ cgroup: ['0::/'], mounts: [] });
    const none = { mode: 'none', version: undefined, mounts: {}, own: {}, readOnly: [] };
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toEqual(none);
    expect(detectHierarchy({ procRoot: tree.path('nowhere') })).toEqual(none);
  });

  it('a v2 mount without a 0:: line (a v1-only process view) leaves unified unset', () => {
    const tree = fakeProc({
      cgroup: ['2:memory:/'],
      mounts: [...v1Mounts(['memory']), { id: 60, mountPoint: 'sys/fs/cgroup/unified', fsType: 'cgroup2' }],
    });
    const h = detectHierarchy({ procRoot: tree.path('proc') });
    expect(h.own.unified).toBeUndefined();
    expect(h.version).toBe(1);
  });

  it('bind-mounted subtree (a container without a cgroup namespace): the mount root maps to the mount point', () => {
    const tree = fakeProc({
      cgroup: ['4:memory:/docker/abc', '3:pids:/docker/abc/sub', '2:freezer:/docker/abcdef'],
      mounts: v1Mounts(['memory', 'pids', 'freezer'], { root: '/docker/abc', mountOptions: 'ro,nosuid,nodev,noexec,relatime' }),
    });
    const h = detectHierarchy({ procRoot: tree.path('proc') });
    expect(h.own.memory).toBe(tree.path('sys/fs/cgroup/memory'));
    expect(h.own.pids).toBe(tree.path('sys/fs/cgroup/pids/sub'));
    // /docker/abcdef is not below /docker/abc, whatever the common prefix says.
    expect(h.own.freezer).toBe(tree.path('sys/fs/cgroup/freezer'));
    expect(h.readOnly.sort()).toEqual(['freezer', 'memory', 'pids']);
  });

  it('cgroup namespace: "0::/" is the namespace root, which is the mount point', () => {
    const tree = fakeProc({
      cgroup: ['0::/'],
      mounts: [{ mountPoint: 'sys/fs/cgroup', fsType: 'cgroup2', mountOptions: 'rw,nosuid,nodev,noexec,relatime' }],
      files: { 'sys/fs/cgroup/cgroup.controllers': 'memory pids\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') }).own.unified).toBe(tree.path('sys/fs/cgroup'));
  });

  it('cgroup namespace: a cgroup outside the namespace root ("/../x") falls back to the mount point', () => {
    const tree = fakeProc({
      cgroup: ['0::/../../system.slice/other.service'],
      mounts: [{ mountPoint: 'sys/fs/cgroup', fsType: 'cgroup2' }],
      files: { 'sys/fs/cgroup/cgroup.controllers': 'memory pids\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') }).own.unified).toBe(tree.path('sys/fs/cgroup'));
  });

  it('a mount point with blanks (escaped in mountinfo) is unescaped', () => {
    const tree = fakeProc({ cgroup: ['0::/a'], mounts: [], files: { 'my cgroup/cgroup.controllers': 'memory\n' } });
    const line = `70 23 0:40 / ${tree.path('my cgroup').replace(/ /g, '\\040')} rw - cgroup2 cgroup2 rw`;
    tree.write('proc/self/mountinfo', `${tree.read('proc/self/mountinfo')}${line}\n`);
    expect(detectHierarchy({ procRoot: tree.path('proc') })).toMatchObject({ version: 2, own: { unified: tree.path('my cgroup/a') } });
  });

  it('reads another process through `pid`', () => {
    const tree = fakeProc({
      pid: '4242',
      cgroup: ['0::/agents/a1'],
      mounts: [{ mountPoint: 'sys/fs/cgroup', fsType: 'cgroup2' }],
      files: { 'sys/fs/cgroup/cgroup.controllers': 'memory pids\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc'), pid: 4242 }).own.unified).toBe(tree.path('sys/fs/cgroup/agents/a1'));
    expect(detectHierarchy({ procRoot: tree.path('proc') }).mode).toBe('none');
  });

  it('takes the first of several mounts of the same hierarchy', () => {
    const tree = fakeProc({
      cgroup: ['0::/'],
      mounts: [
        { id: 30, mountPoint: 'first', fsType: 'cgroup2' },
        { id: 31, mountPoint: 'second', fsType: 'cgroup2' },
      ],
      files: { 'first/cgroup.controllers': 'memory\n' },
    });
    expect(detectHierarchy({ procRoot: tree.path('proc') }).mounts.unified).toBe(tree.path('first'));
  });
});
