/**
 * Where agents live, following the kernel's and systemd's delegation rules:
 * - in the true root cgroup (a host without systemd): `<mount>/nova-agents`;
 * - in any other cgroup we own (a `Delegate=yes` unit, a container's cgroup namespace): the
 *   orchestrator's processes move into a `supervisor` leaf protected by memory.min, and the
 *   agents' root is created beside it, so "no internal processes" holds;
 * - never inside a systemd unit that was not delegated.
 * The one copy of these rules: `AgentHost.start()` places with {@link placeAgents}, `preflight()`
 * and `applySetup()` ask {@link findRoot} where that would be.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroup, hostHierarchy } from '../cgroup/cgroup.js';
import type { CgroupHierarchy, HierarchyKey, Location } from '../cgroup/detect.js';
import { exists, isDirectory, makeDir } from '../cgroup/files.js';
import { AgentHostError, ErrorCode, isAgentHostError } from '../errors.js';
import { findBudget, type BudgetOptions } from '../monitor/budget.js';
import { memTotal } from '../setup/read.js';
import { agentsRootLimits, reserveOf, type AgentsRootLimits, type ReserveOptions } from '../setup/reserve.js';
import { parseSize, type Size } from '../util/size.js';

/** Name of the leaf the orchestrator moves into where v2's "no internal processes" rule requires it. */
export const SUPERVISOR = 'supervisor';

/** Default name of the agents' root below the orchestrator's cgroup. */
export const DEFAULT_ROOT_NAME = 'nova-agents';

/**
 * The kernel backstop under the monitor (part of `AgentHostOptions`): limits on the agents' root so
 * that, whatever the agents do together and however fast, the kernel stops them inside the root
 * before the system or the orchestrator suffers — the kubelet's "allocatable" on the cgroup of all pods.
 */
export interface BackstopOptions {
  /**
   * What is kept out of the agents' root: the system reserve and the headroom (the orchestrator's
   * own memory is in it). Default: the capacity plan's, scaled to the budget — 32 GB + 200 GB of
   * 1,536 GB, a 1,304 GB root (see {@link ReserveOptions}).
   */
  reserve?: ReserveOptions;
  /**
   * memory.max of the agents' root (memory.high 1/32 below it; v1: memory.limit_in_bytes and memsw,
   * soft_limit_in_bytes). Default: the budget above the root minus {@link reserve}, the figure
   * `planCapacity()` prints as "Available for agents", derived again every 10 s so that it follows
   * a resize of the budget (a size given here is never re-written). `false`: no limit is written.
   */
  agentsMemoryMax?: Size | false;
}

/** Where the host puts its agents' root cgroup and what it limits it to (part of `AgentHostOptions`). */
export interface PlacementOptions extends BudgetOptions, BackstopOptions {
  /** The agents' root: a Cgroup, or a path (absolute, or relative to the cgroup mount). Overrides all else. */
  cgroupRoot?: string | Cgroup;
  /** Name of the agents' root below the orchestrator's cgroup. Default `nova-agents`. */
  rootName?: string;
  /** memory.min of the supervisor leaf (v2). Default `128M`. */
  supervisorMemoryMin?: Size;
}

export interface Placement {
  root: Cgroup;
  /** The leaf the orchestrator moved into, when it had to. */
  supervisor: Cgroup | undefined;
  /**
   * The limits written on the root, or why they could not be (a parent that was not delegated: the
   * host then works without the backstop); `undefined` with `agentsMemoryMax: false`.
   */
  backstop: AgentsRootLimits | { error: AgentHostError } | undefined;
}

/** Where the agents' root is (or would be), found without creating or moving anything. */
export interface RootSite {
  /** The agents' root (it may not exist yet). */
  root: Cgroup;
  /** The cgroup it is made in. */
  parent: Cgroup;
  /** `cgroupRoot` named it: the host makes it if missing, and moves nothing. */
  given: boolean;
  /**
   * v2 only: the parent is not the true root cgroup (a delegated unit, a container's namespace),
   * so the "no internal processes" rule applies to it.
   */
  delegated: boolean;
}

/** Where the agents' root goes by the rules above, for `hierarchy` (default: this process's). */
export function findRoot(options: Omit<PlacementOptions, 'supervisorMemoryMin'> = {}, hierarchy: CgroupHierarchy = hostHierarchy()): RootSite {
  if (options.cgroupRoot !== undefined) {
    const root = typeof options.cgroupRoot === 'string' ? locate(options.cgroupRoot, hierarchy) : options.cgroupRoot;
    const parent = parentOf(root);
    return { root, parent, given: true, delegated: root.version === 2 && !isTrueRoot(parent) };
  }
  let base = Cgroup.self({ hierarchy });
  // A restarted orchestrator started from inside the supervisor leaf works from the same base.
  if (base.name === SUPERVISOR && base.version === 2) base = parentOf(base);
  const root = new Cgroup(rootLocation(base, options.rootName ?? DEFAULT_ROOT_NAME), { hierarchy });
  return { root, parent: base, given: false, delegated: base.version === 2 && !isTrueRoot(base) };
}

/**
 * The root's directory in each hierarchy. On v1 a process often sits in a cgroup shared with
 * every other process in some hierarchies (pids and freezer at `/` while memory is a container's
 * or a session's): a fixed name there would make every host on the machine share one root, list
 * and delete each other's agents. Where a hierarchy's own cgroup is not the memory one, the name
 * gets a suffix derived from the memory path, the same for a restarted host, unique to each.
 */
export function rootLocation(base: Cgroup, rootName: string): Location {
  const location: Location = {};
  const { mounts, own } = base.hierarchy;
  const below = (key: HierarchyKey): string | undefined => own[key]?.slice(mounts[key]!.length);
  const memoryDir = base.location.memory;
  const suffix = memoryDir === undefined ? '' : createHash('sha256').update(join(memoryDir, rootName)).digest('hex').slice(0, 8);
  for (const [key, dir] of Object.entries(base.location) as Array<[HierarchyKey, string]>) {
    const shared = base.version === 1 && key !== 'memory' && below(key) !== below('memory');
    location[key] = join(dir, shared ? `${rootName}-${suffix}` : rootName);
  }
  return location;
}

export function placeAgents(options: PlacementOptions = {}): Placement {
  try {
    return place(options);
  } catch (error) {
    if (error instanceof AgentHostError && error.code === ErrorCode.CGROUP_PERMISSION) {
      error.message +=
        '. Run the orchestrator as root, or inside a delegated subtree (systemd-run --user -p Delegate=yes …, ' +
        'a service with Delegate=yes, a container with its own cgroup namespace), or pass `cgroupRoot` pointing at a writable cgroup';
    }
    throw error;
  }
}

function place(options: PlacementOptions): Placement {
  const site = findRoot(options);
  const placed = (root: Cgroup, supervisor: Cgroup | undefined): Placement => ({ root, supervisor, backstop: writeBackstop(site, options) });
  if (site.given && site.root.exists()) return placed(site.root, undefined);
  if (site.given || !site.delegated) return placed(makeRoot(site), undefined);

  const base = site.parent;
  assertDelegated(base);
  // Not Cgroup.create(): it enables controllers in `base` first, which the kernel refuses (EBUSY)
  // while `base` still holds our processes ("no internal processes"). Leaf first, move, then enable.
  const supervisor = base.child(SUPERVISOR);
  if (!supervisor.exists()) makeDir(supervisor.path);
  for (const pid of base.procs()) {
    try {
      supervisor.addProcess(pid);
    } catch (error) {
      // A process that exited meanwhile is fine; anything else is not.
      if (!(error instanceof AgentHostError) || !/ESRCH|No such process/.test(String(error.cause))) throw error;
    }
  }
  base.enableControllers();
  supervisor.setLimits({ memoryMin: options.supervisorMemoryMin ?? '128M' });
  return placed(makeRoot(site), supervisor);
}

/**
 * The limits of the agents' root: {@link BackstopOptions.agentsMemoryMax}, or what the capacity plan
 * leaves for agents of the budget above the root (the root's own limit is what this decides, so it
 * does not count). `undefined` with `agentsMemoryMax: false`.
 */
export function backstopLimits(site: Pick<RootSite, 'parent'>, options: PlacementOptions = {}, procRoot = '/proc'): AgentsRootLimits | undefined {
  const given = options.agentsMemoryMax;
  if (given === false) return undefined;
  if (given !== undefined) {
    const max = parseSize(given, 'agentsMemoryMax');
    if (max === 0) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'agentsMemoryMax must be greater than 0 (or false for none)');
    return agentsRootLimits(max);
  }
  const total = memTotal(procRoot);
  if (total === undefined) throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, `cannot read MemTotal from ${procRoot}/meminfo`, { file: `${procRoot}/meminfo` });
  const { availableForAgents } = reserveOf(findBudget({ memTotal: total, from: site.parent, option: options.budget }).total, options.reserve);
  if (availableForAgents === 0) {
    throw new AgentHostError(
      ErrorCode.HOST_MEMORY_UNAVAILABLE,
      'the memory budget leaves nothing for agents after the system reserve and the headroom: lower `reserve`, or give `agentsMemoryMax`',
    );
  }
  return agentsRootLimits(availableForAgents);
}

/**
 * Writes the backstop on the root: memory.max and memory.high (v1: limit_in_bytes with memsw, no
 * swap for the group; soft_limit_in_bytes), memory.oom.group off — the kernel kills one agent at
 * the root's limit, never all. A failure leaves the host working as without it, and is returned.
 */
function writeBackstop(site: RootSite, options: PlacementOptions): Placement['backstop'] {
  try {
    const limits = backstopLimits(site, options);
    if (limits !== undefined) writeRootLimits(site.root, limits);
    return limits;
  } catch (error) {
    // Bad options are the caller's to fix; anything the kernel or /proc refused is reported.
    if (!isAgentHostError(error) || error.code === ErrorCode.INVALID_OPTION || error.code === ErrorCode.INVALID_SIZE) throw error;
    return { error };
  }
}

/** The one writer of the backstop: the root's limits, no swap for the group on v1, memory.oom.group off on v2. */
export function writeRootLimits(root: Cgroup, limits: AgentsRootLimits): void {
  root.setLimits(root.version === 1 ? { ...limits, swapMax: 0 } : { ...limits, oomGroup: false });
}

/**
 * Creates the site's root where missing (controllers enabled in its parent first). Not through
 * `Cgroup.create()`: on v1 the root's name may differ between hierarchies (see {@link rootLocation}).
 */
export function makeRoot(site: Pick<RootSite, 'root' | 'parent'>): Cgroup {
  site.parent.enableControllers();
  for (const dir of site.root.dirs) {
    if (!exists(dir)) makeDir(dir);
    // A valid name can still be a kernel file's ("cgroup.procs"): never a cgroup.
    else if (!isDirectory(dir)) throw new AgentHostError(ErrorCode.INVALID_NAME, `${dir} is a kernel file, not a cgroup`, { cgroup: dir });
  }
  return site.root;
}

/** The real root cgroup has no cgroup.type; a namespace's root (a container's) does. */
function isTrueRoot(cgroup: Cgroup): boolean {
  return !exists(cgroup.path, 'cgroup.type');
}

/**
 * The cgroup a `cgroupRoot` path names. An absolute path below one hierarchy's mount names the
 * same cgroup in every hierarchy (v1): the part below the mount is kept, never the whole path
 * joined onto another mount.
 */
export function locate(path: string, hierarchy: CgroupHierarchy = hostHierarchy()): Cgroup {
  const self = Cgroup.self({ hierarchy });
  const mounts = Object.entries(hierarchy.mounts);
  const mount = mounts.find(([, dir]) => path === dir || path.startsWith(`${dir}/`))?.[1];
  const below = mount === undefined ? path : path.slice(mount.length);
  // ".." would lead out of cgroupfs (mkdir and limit files anywhere on the disk).
  if (below.split('/').includes('..')) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `cgroupRoot ${JSON.stringify(path)} must not contain "..": it has to name a cgroup inside the cgroup mount`);
  }
  const location: Location = {};
  for (const [key, dir] of mounts) {
    if (self.location[key as HierarchyKey] === undefined) continue;
    location[key as HierarchyKey] = join(dir, below);
  }
  return new Cgroup(location, { hierarchy });
}

/** The cgroup above, in every hierarchy. */
export function parentOf(cgroup: Cgroup): Cgroup {
  const location: Location = {};
  for (const [key, dir] of Object.entries(cgroup.location)) location[key as HierarchyKey] = join(dir, '..');
  return new Cgroup(location, { hierarchy: cgroup.hierarchy });
}

/**
 * systemd owns the cgroups of its units unless a unit has Delegate=yes: writing below a
 * non-delegated unit would fight systemd. Checked only where systemd is PID 1 and we are root
 * (without root, the kernel's permissions already keep us out of what was not delegated).
 */
function assertDelegated(cgroup: Cgroup): void {
  if (process.getuid?.() !== 0) return;
  let init = '';
  try {
    init = readFileSync('/proc/1/comm', 'utf8').trim();
  } catch {
    return;
  }
  const unit = /([^/]+\.(?:service|scope))$/.exec(cgroup.path)?.[1];
  if (init !== 'systemd' || unit === undefined || cgroup.path.includes('/user@')) return;
  let delegate: string;
  try {
    delegate = execFileSync('systemctl', ['show', '--property=Delegate', '--value', unit], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return; // systemctl unavailable: nothing tells us otherwise.
  }
  if (delegate === 'no') {
    throw new AgentHostError(
      ErrorCode.CGROUP_PERMISSION,
      `cgroup ${cgroup.path} belongs to systemd unit ${unit}, which is not delegated (Delegate=no): ` +
        'writing below it would conflict with systemd. Set Delegate=yes on the unit (or run under `systemd-run -p Delegate=yes`), or pass `cgroupRoot`',
      { cgroup: cgroup.path },
    );
  }
}
