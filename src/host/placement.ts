/**
 * Where agents live, following the kernel's and systemd's delegation rules:
 * - in the true root cgroup (a host without systemd, the seed's layout): `<mount>/nova-agents`;
 * - in any other cgroup we own (a `Delegate=yes` unit, a container's cgroup namespace): the
 *   orchestrator's processes move into a `supervisor` leaf protected by memory.min, and the
 *   agents' root is created beside it, so "no internal processes" holds;
 * - never inside a systemd unit that was not delegated.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroup } from '../cgroup/cgroup.js';
import { exists, makeDir } from '../cgroup/files.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { Size } from '../util/size.js';

/** Name of the leaf the orchestrator moves into where v2's "no internal processes" rule requires it. */
export const SUPERVISOR = 'supervisor';

/** Where the host puts its agents' root cgroup (part of `AgentHostOptions`). */
export interface PlacementOptions {
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
  const rootName = options.rootName ?? 'nova-agents';
  if (options.cgroupRoot !== undefined) {
    const given = typeof options.cgroupRoot === 'string' ? locate(options.cgroupRoot) : options.cgroupRoot;
    if (!given.exists()) {
      const parent = parentOf(given);
      return { root: Cgroup.create(parent, given.name, { existOk: true }), supervisor: undefined };
    }
    return { root: given, supervisor: undefined };
  }

  let base = Cgroup.self();
  // A restarted orchestrator started from inside the supervisor leaf works from the same base.
  if (base.name === SUPERVISOR && base.version === 2) base = parentOf(base);
  if (base.version === 1 || isTrueRoot(base)) {
    return { root: Cgroup.create(base, rootName, { existOk: true }), supervisor: undefined };
  }

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
  return { root: Cgroup.create(base, rootName, { existOk: true }), supervisor };
}

/** The real root cgroup has no cgroup.type; a namespace's root (a container's) does. */
function isTrueRoot(cgroup: Cgroup): boolean {
  return !exists(cgroup.path, 'cgroup.type');
}

function locate(path: string): Cgroup {
  const self = Cgroup.self();
  const mounts = Object.entries(self.hierarchy.mounts);
  // An absolute path below one hierarchy's mount names the same cgroup in every hierarchy (v1):
  // keep the part below the mount, never the whole path joined onto another mount.
  const mount = mounts.find(([, dir]) => path === dir || path.startsWith(`${dir}/`))?.[1];
  const below = mount === undefined ? path : path.slice(mount.length);
  // ".." would lead out of cgroupfs (mkdir and limit files anywhere on the disk).
  if (below.split('/').includes('..')) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `cgroupRoot ${JSON.stringify(path)} must not contain "..": it has to name a cgroup inside the cgroup mount`);
  }
  const location: Record<string, string> = {};
  for (const [key, dir] of mounts) {
    if (self.location[key as keyof typeof self.location] === undefined) continue;
    location[key] = join(dir, below);
  }
  return new Cgroup(location, { hierarchy: self.hierarchy });
}

function parentOf(cgroup: Cgroup): Cgroup {
  const location: Record<string, string> = {};
  for (const [key, dir] of Object.entries(cgroup.location)) location[key] = join(dir, '..');
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
