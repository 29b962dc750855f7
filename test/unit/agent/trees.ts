/**
 * Fake /proc and cgroupfs trees for the agent side: the layouts it meets in the wild (v2, v1
 * hybrid, a container's own root, no cgroups at all), built from `{ path: content }` maps.
 */
import { fakeTree, mountinfoLine, type FakeTree, type TreeSpec } from '../../helpers/fake-tree.js';

export const MiB = 1024 * 1024;
/** What v1 prints for "no limit": 2^63 rounded down to a 4 KiB page. */
export const V1_UNLIMITED = '9223372036854771712';
export const PSI = 'some avg10=1.50 avg60=0.20 avg300=0.05 total=12345\nfull avg10=0.50 avg60=0.10 avg300=0.01 total=2345\n';

/** A v2 cgroup directory's files (a `cgroup.procs` marks it a cgroup, `cgroup.controllers` a v2 one). */
export function v2Files(dir: string, files: { current?: number; max?: number | 'max'; high?: number | 'max'; inactive?: number; psi?: string } = {}): TreeSpec {
  const spec: TreeSpec = { [`${dir}/cgroup.procs`]: '', [`${dir}/cgroup.controllers`]: 'cpu io memory pids\n' };
  if (files.current !== undefined) spec[`${dir}/memory.current`] = `${files.current}\n`;
  if (files.max !== undefined) spec[`${dir}/memory.max`] = `${files.max}\n`;
  if (files.high !== undefined) spec[`${dir}/memory.high`] = `${files.high}\n`;
  if (files.inactive !== undefined) spec[`${dir}/memory.stat`] = `anon 1000\nfile 2000\ninactive_file ${files.inactive}\nactive_file 10\n`;
  if (files.psi !== undefined) spec[`${dir}/memory.pressure`] = files.psi;
  return spec;
}

/** A v1 memory cgroup directory's files; limits default to "unlimited". */
export function v1Files(dir: string, files: { usage: number; limit?: number; soft?: number; inactive?: number }): TreeSpec {
  const spec: TreeSpec = {
    [`${dir}/cgroup.procs`]: '',
    [`${dir}/memory.usage_in_bytes`]: `${files.usage}\n`,
    [`${dir}/memory.limit_in_bytes`]: `${files.limit ?? V1_UNLIMITED}\n`,
    [`${dir}/memory.soft_limit_in_bytes`]: `${files.soft ?? V1_UNLIMITED}\n`,
  };
  if (files.inactive !== undefined) spec[`${dir}/memory.stat`] = `cache 5000\ninactive_file 7\ntotal_inactive_file ${files.inactive}\n`;
  return spec;
}

/**
 * A v2 host: /proc/self says the agent is in `path`, cgroup2 mounted at `<root>/cg` (with mount
 * root `mountRoot`). Returns the tree; add cgroup directories with {@link v2Files} under `cg`.
 */
export function v2Host(path: string, spec: TreeSpec = {}, mountRoot = '/'): FakeTree {
  const tree = fakeTree();
  tree.add({
    'proc/self/cgroup': `0::${path}\n`,
    'proc/self/mountinfo': [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      mountinfoLine({ mountPoint: tree.path('cg'), fsType: 'cgroup2', root: mountRoot, superOptions: 'rw,nsdelegate' }),
      '',
    ].join('\n'),
    'proc/self/status': 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   2048 kB\nThreads:\t7\n',
    ...spec,
  });
  return tree;
}

/** A systemd hybrid host: v1 memory at `<root>/memory`, v2 (without memory) at `<root>/unified`. */
export function v1HybridHost(memoryPath: string, spec: TreeSpec = {}): FakeTree {
  const tree = fakeTree();
  tree.add({
    'proc/self/cgroup': ['12:pids:/x', `4:memory:${memoryPath}`, '1:name=systemd:/user.slice', '0::/user.slice/session-1.scope', ''].join('\n'),
    'proc/self/mountinfo': [
      mountinfoLine({ id: 31, mountPoint: tree.path('unified'), fsType: 'cgroup2' }),
      mountinfoLine({ id: 32, mountPoint: tree.path('systemd'), fsType: 'cgroup', superOptions: 'rw,xattr,name=systemd' }),
      mountinfoLine({ id: 35, mountPoint: tree.path('memory'), fsType: 'cgroup', superOptions: 'rw,memory' }),
      '',
    ].join('\n'),
    'unified/cgroup.procs': '',
    'unified/cgroup.controllers': '',
    'unified/user.slice/session-1.scope/cgroup.procs': '',
    'unified/user.slice/session-1.scope/cgroup.controllers': '',
    ...spec,
  });
  return tree;
}
