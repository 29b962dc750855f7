/**
 * A fake host for the setup tests: /proc, /sys, a cgroupfs and the seed's directories in a temp
 * tree, set up as a well-configured v2 host unless a test changes a file.
 */
import { chmodSync } from 'node:fs';
import { mountinfoLine, fakeTree, type FakeTree } from '../../helpers/fake-tree.js';
import type { ApplySetupOptions } from '../../../src/setup/apply.js';

export const GOOD_SYSCTLS: Record<string, string> = {
  'kernel/pid_max': '4194304',
  'kernel/threads-max': '16000',
  'vm/max_map_count': '1048576',
  // systemd sets LONG_MAX: beyond 2^53, still read as a (large) number.
  'fs/file-max': '9223372036854775807',
  'fs/nr_open': '1048576',
  'fs/inotify/max_user_watches': '1048576',
  'fs/inotify/max_user_instances': '8192',
  'vm/overcommit_memory': '0',
  'vm/panic_on_oom': '0',
  'vm/oom_kill_allocating_task': '0',
};

/** 2 GiB of RAM: threads-max capped at 16384 by the kernel's rule, so 16000 is within 95%. */
export const MEMINFO = 'MemTotal:        2097152 kB\nMemFree:         1000000 kB\n';

export interface FakeHost {
  tree: FakeTree;
  /** Options pointing every path into the tree. */
  options: Required<Pick<ApplySetupOptions, 'procRoot' | 'sysRoot' | 'scratchDir' | 'workspaceRoot' | 'workspaceSlots' | 'fstab'>>;
  /** Rewrites /proc/self/mountinfo with the cgroup mounts plus `extra` lines. */
  setMounts(extra?: string[]): void;
  /** A mountinfo line for a tmpfs at `dir` (absolute). */
  tmpfsLine(dir: string): string;
}

export type HostKind = 'v2' | 'v1' | 'none';

export function fakeHost(kind: HostKind = 'v2', spec: Record<string, string> = {}): FakeHost {
  const tree = fakeTree();
  const base: Record<string, string> = {
    'proc/self/cgroup': kind === 'v1' ? '9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/svc\n0::/\n' : '0::/\n',
    'proc/swaps': 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n',
    'proc/meminfo': MEMINFO,
    'proc/pressure/memory': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
    'sys/kernel/mm/transparent_hugepage/enabled': 'always [madvise] never\n',
    'etc/fstab': '# static file system information\nUUID=abc / ext4 errors=remount-ro 0 1\n',
  };
  for (const [key, value] of Object.entries(GOOD_SYSCTLS)) base[`proc/sys/${key}`] = `${value}\n`;
  if (kind === 'v2') {
    Object.assign(base, {
      'cg/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
      'cg/cgroup.subtree_control': 'cpu io memory pids\n',
      'cg/cgroup.procs': '1\n',
      'cg/init.scope/memory.max': 'max\n',
      'cg/init.scope/memory.swap.max': 'max\n',
      'cg/nova-agents/cgroup.controllers': 'cpu io memory pids\n',
      'cg/nova-agents/cgroup.subtree_control': 'memory pids\n',
      'cg/nova-agents/cgroup.procs': '',
      'cg/nova-agents/cgroup.type': 'domain\n',
      'cg/nova-agents/memory.max': 'max\n',
      'cg/nova-agents/memory.swap.max': 'max\n',
    });
  }
  if (kind === 'v1') {
    Object.assign(base, {
      'v1/memory/memory.memsw.limit_in_bytes': '9223372036854771712\n',
      'v1/memory/svc/nova-agents/cgroup.procs': '',
      'v1/pids/nova-agents/cgroup.procs': '',
      'v1/freezer/nova-agents/cgroup.procs': '',
      'v2/cgroup.controllers': '',
    });
  }
  tree.add({ ...base, ...spec });

  const cgroupLines = (): string[] => {
    const root = '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw';
    if (kind === 'v2') return [root, mountinfoLine({ mountPoint: tree.path('cg'), fsType: 'cgroup2', superOptions: 'rw,nsdelegate' })];
    if (kind === 'v1') {
      return [
        root,
        ...['memory', 'pids', 'freezer'].map((c, i) => mountinfoLine({ id: 40 + i, mountPoint: tree.path('v1', c), fsType: 'cgroup', superOptions: `rw,${c}` })),
        mountinfoLine({ id: 50, mountPoint: tree.path('v2'), fsType: 'cgroup2' }),
      ];
    }
    return [root];
  };
  const tmpfsLine = (dir: string): string => `99 22 0:99 / ${dir} rw,nosuid,nodev,relatime shared:50 - tmpfs tmpfs rw,size=209716k,mode=1777`;
  const host: FakeHost = {
    tree,
    options: {
      procRoot: tree.path('proc'),
      sysRoot: tree.path('sys'),
      scratchDir: tree.path('scratch'),
      workspaceRoot: tree.path('active'),
      workspaceSlots: 5,
      fstab: tree.path('etc/fstab'),
    },
    setMounts(extra = []) {
      tree.write('proc/self/mountinfo', `${[...cgroupLines(), ...extra].join('\n')}\n`);
    },
    tmpfsLine,
  };
  // A fully set-up host: scratch mounted, every slot present.
  tree.add({ 'scratch/': '' });
  for (let i = 1; i <= 5; i++) {
    tree.add({ [`active/ws-00${i}/`]: '' });
    chmodSync(tree.path(`active/ws-00${i}`), 0o700);
  }
  host.setMounts([tmpfsLine(tree.path('scratch'))]);
  return host;
}
