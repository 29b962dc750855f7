/**
 * Where the cgroup hierarchies are and where this process sits in them, from
 * /proc/self/cgroup and /proc/self/mountinfo. Both are namespace-relative, so the
 * answer is right inside a container with its own cgroup namespace too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseList, parseMountinfo, parseProcCgroup, type CgroupMount } from './parse.js';

/** `unified`: pure v2. `hybrid`: v1 controllers plus a v2 mount (systemd's hybrid). `legacy`: v1 only. */
export type CgroupMode = 'unified' | 'hybrid' | 'legacy' | 'none';

/** The hierarchies a cgroup spans: `unified` on v2; one directory per controller on v1. */
export type HierarchyKey = 'unified' | V1Controller;
/** The v1 controllers an agent's cgroup spans: memory (limits, OOM), pids (fork bombs), freezer (race-free kills). */
export type V1Controller = 'memory' | 'pids' | 'freezer';
export const V1_CONTROLLERS: readonly V1Controller[] = ['memory', 'pids', 'freezer'];

/** A cgroup's directory in each hierarchy it spans. */
export type Location = Partial<Record<HierarchyKey, string>>;

/** Where cgroupfs is mounted and where a process sits in it: everything a driver needs to find files. */
export interface CgroupHierarchy {
  mode: CgroupMode;
  /** Which driver manages agents: 2 when memory is a v2 controller here, 1 when it is bound to v1. */
  version: 1 | 2 | undefined;
  /** Mount point of each hierarchy. */
  mounts: Location;
  /** This process's own cgroup directory in each hierarchy. */
  own: Location;
  /** Hierarchies mounted read-only (a container without a writable cgroupfs). */
  readOnly: HierarchyKey[];
}

/** Whose view {@link detectHierarchy} reads; the defaults read this process's. */
export interface DetectOptions {
  /** Where /proc is; tests point it at a fake tree. Default `/proc`. */
  procRoot?: string;
  /** Which process's view to read (`thread-self`: the calling thread's, which may differ on v1). Default `self`. */
  pid?: number | 'self' | 'thread-self';
}

/**
 * Reads the hierarchy fresh from /proc (uncached, unlike {@link hostHierarchy}): for another
 * process's view, or a fake /proc in tests. Never throws: without /proc or cgroupfs the mode is `none`.
 */
export function detectHierarchy(options: DetectOptions = {}): CgroupHierarchy {
  const proc = join(options.procRoot ?? '/proc', String(options.pid ?? 'self'));
  let mounts: CgroupMount[];
  let entries;
  try {
    mounts = parseMountinfo(readFileSync(join(proc, 'mountinfo'), 'utf8'));
    entries = parseProcCgroup(readFileSync(join(proc, 'cgroup'), 'utf8'));
  } catch {
    return { mode: 'none', version: undefined, mounts: {}, own: {}, readOnly: [] };
  }

  const result: CgroupHierarchy = { mode: 'none', version: undefined, mounts: {}, own: {}, readOnly: [] };
  const v2Mount = mounts.find((m) => m.fsType === 'cgroup2');
  const v2Entry = entries.find((e) => e.controllers.length === 0 && e.id === 0);
  if (v2Mount && v2Entry) locate(result, 'unified', v2Mount, v2Entry.path);

  let anyV1 = false;
  for (const mount of mounts) {
    if (mount.fsType !== 'cgroup') continue;
    if (mount.superOptions.some(isController)) {
      anyV1 = true;
    }
    for (const controller of V1_CONTROLLERS) {
      if (!mount.superOptions.includes(controller) || result.mounts[controller]) continue;
      const entry = entries.find((e) => e.controllers.includes(controller));
      if (entry) locate(result, controller, mount, entry.path);
    }
  }

  result.mode = v2Mount ? (anyV1 ? 'hybrid' : 'unified') : anyV1 ? 'legacy' : 'none';
  if (result.mounts.memory) result.version = 1;
  else if (result.mounts.unified && v2Has(result.mounts.unified, 'memory')) result.version = 2;
  return result;
}

function locate(result: CgroupHierarchy, key: HierarchyKey, mount: CgroupMount, path: string): void {
  result.mounts[key] = mount.mountPoint;
  // A bind mount of a sub-cgroup (mount root /a/b) shows /a/b/c as /c; a path outside the
  // mount's root (another namespace's view) cannot be reached, so the mount point stands in.
  const root = mount.root === '/' ? '' : mount.root;
  // Inside a cgroup namespace, a cgroup above the namespace root prints as "/../x": never join
  // that onto the mount point (it would point outside cgroupfs).
  const outside = path.split('/').includes('..');
  const relative = !outside && (path.startsWith(`${root}/`) || path === root) ? path.slice(root.length) : '/';
  // No trailing slash for the mount's own root: directories are compared as strings later.
  result.own[key] = relative === '/' || relative === '' ? mount.mountPoint : join(mount.mountPoint, relative);
  if (mount.readOnly) result.readOnly.push(key);
}

/** Options of a v1 mount that are not controllers (a `name=systemd,xattr` mount limits nothing). */
const V1_MOUNT_FLAGS = new Set(['rw', 'ro', 'none', 'all', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'favordynmods', 'nofavordynmods']);

function isController(option: string): boolean {
  return !V1_MOUNT_FLAGS.has(option) && !option.startsWith('name=') && !option.startsWith('release_agent=');
}

function v2Has(dir: string, controller: string): boolean {
  try {
    return parseList(readFileSync(join(dir, 'cgroup.controllers'), 'utf8')).includes(controller);
  } catch {
    return false;
  }
}
