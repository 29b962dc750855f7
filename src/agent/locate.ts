/**
 * Where the agent's own cgroup is: the directory the host named in the environment, else the one
 * /proc/self/cgroup and /proc/self/mountinfo point at (namespace-relative, so right inside a
 * container whose cgroup root is the agent's own cgroup too).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCgroupMounts, parseProcCgroup, readText, type CgroupMountLine } from './read.js';

/**
 * The environment variable through which the host tells an agent its cgroup directory (the v2
 * directory, or on v1 the memory hierarchy's directory).
 */
export const AGENT_CGROUP_ENV = 'NOVA_AGENT_CGROUP';

/** Options of every function of `nova-agent-host/agent`. */
export interface AgentOptions {
  /** Where procfs is mounted. Default `/proc`; tests point it at a fake tree. */
  procRoot?: string;
  /**
   * The agent's cgroup directory. Default: `$NOVA_AGENT_CGROUP`, else found from /proc. A value
   * that names no cgroup directory (neither v1 memory nor v2 files in it) is passed over.
   */
  cgroupDir?: string;
}

/** The agent's own cgroup. */
export interface AgentCgroup {
  /** Its directory: on v1, in the memory hierarchy. */
  dir: string;
  version: 1 | 2;
  /** Where {@link dir} came from: the `cgroupDir` option, {@link AGENT_CGROUP_ENV}, or /proc/self. */
  source: 'option' | 'env' | 'proc';
}

/**
 * Finds the agent's own cgroup, or `undefined` when it has none that accounts memory (not
 * Linux, cgroupfs not mounted, /proc unreadable). Never throws.
 */
export function findAgentCgroup(options: AgentOptions = {}): AgentCgroup | undefined {
  if (options.cgroupDir !== undefined) {
    const version = versionOf(options.cgroupDir);
    if (version) return { dir: options.cgroupDir, version, source: 'option' };
  }
  const fromEnv = process.env[AGENT_CGROUP_ENV];
  if (fromEnv) {
    const version = versionOf(fromEnv);
    if (version) return { dir: fromEnv, version, source: 'env' };
  }
  return fromProc(options.procRoot ?? '/proc');
}

/** v1 memory directories have memory.usage_in_bytes; every v2 directory has cgroup.controllers. */
function versionOf(dir: string): 1 | 2 | undefined {
  if (existsSync(join(dir, 'memory.usage_in_bytes'))) return 1;
  if (existsSync(join(dir, 'cgroup.controllers'))) return 2;
  return undefined;
}

function fromProc(procRoot: string): AgentCgroup | undefined {
  const cgroupText = readText(join(procRoot, 'self', 'cgroup'));
  const mountText = readText(join(procRoot, 'self', 'mountinfo'));
  if (cgroupText === undefined || mountText === undefined) return undefined;
  const lines = parseProcCgroup(cgroupText);
  const mounts = parseCgroupMounts(mountText);

  // Where a v1 memory hierarchy is mounted (legacy and hybrid hosts), memory is accounted there,
  // not in the v2 tree next to it.
  const v1Line = lines.find((line) => line.controllers.includes('memory'));
  const v1Mounts = mounts.filter((mount) => mount.fsType === 'cgroup' && mount.superOptions.includes('memory'));
  if (v1Line && v1Mounts.length > 0) return { dir: dirIn(v1Mounts, v1Line.path), version: 1, source: 'proc' };

  const v2Line = lines.find((line) => line.controllers.length === 0);
  const v2Mounts = mounts.filter((mount) => mount.fsType === 'cgroup2');
  if (v2Line && v2Mounts.length > 0) return { dir: dirIn(v2Mounts, v2Line.path), version: 2, source: 'proc' };
  return undefined;
}

/**
 * The directory of cgroup `path` (as /proc/self/cgroup prints it) under one of a hierarchy's
 * mounts. A container often sees only a bind mount of its own cgroup (mount root `/docker/abc`,
 * or `/` with a cgroup namespace): the path is taken relative to the mount's root. A path the
 * mounts do not reach ("/../x" above a namespace root) falls back to the mount point, the
 * nearest cgroup the agent can see.
 */
function dirIn(mounts: CgroupMountLine[], path: string): string {
  const outside = path.split('/').includes('..');
  for (const mount of mounts) {
    const root = mount.root === '/' ? '' : mount.root;
    if (outside || !(path === root || path.startsWith(`${root}/`))) continue;
    const relative = path.slice(root.length);
    return relative === '' || relative === '/' ? mount.mountPoint : join(mount.mountPoint, relative);
  }
  return mounts[0]!.mountPoint;
}
