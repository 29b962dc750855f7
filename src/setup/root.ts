/**
 * Which cgroup the agents' root would be, by the same rules as AgentHost's placement
 * (src/host/placement.ts), but without creating or moving anything.
 */
import { join } from 'node:path';
import { Cgroup, hostHierarchy } from '../cgroup/cgroup.js';
import { detectHierarchy, type CgroupHierarchy, type HierarchyKey, type Location } from '../cgroup/detect.js';
import { exists } from '../cgroup/files.js';
import type { ResolvedSetupOptions } from './options.js';

/** The leaf AgentHost moves the orchestrator into, inside a delegated subtree. */
const SUPERVISOR = 'supervisor';

export interface AgentsRoot {
  hierarchy: CgroupHierarchy;
  /** The cgroup the root is made in; `undefined` without a usable hierarchy. */
  parent: Cgroup | undefined;
  /** The agents' root (it may not exist yet). */
  root: Cgroup | undefined;
  /**
   * v2 only: the parent is not the true root cgroup (a delegated unit, a container's namespace),
   * so the "no internal processes" rule applies to it.
   */
  delegated: boolean;
}

export function hierarchyOf(options: ResolvedSetupOptions): CgroupHierarchy {
  if (options.hierarchy) return options.hierarchy;
  return options.procRoot === '/proc' ? hostHierarchy() : detectHierarchy({ procRoot: options.procRoot });
}

export function agentsRoot(options: ResolvedSetupOptions): AgentsRoot {
  const hierarchy = hierarchyOf(options);
  if (hierarchy.version === undefined) return { hierarchy, parent: undefined, root: undefined, delegated: false };
  let root: Cgroup;
  if (options.cgroupRoot instanceof Cgroup) root = options.cgroupRoot;
  else if (typeof options.cgroupRoot === 'string') root = locate(options.cgroupRoot, hierarchy);
  else {
    let base = Cgroup.self({ hierarchy });
    // Run from inside a restarted orchestrator's supervisor leaf: the same base as AgentHost uses.
    if (base.name === SUPERVISOR && base.version === 2) base = parentOf(base);
    root = base.child(options.rootName);
  }
  const parent = parentOf(root);
  const delegated = root.version === 2 && exists(parent.path, 'cgroup.type');
  return { hierarchy, parent, root, delegated };
}

function locate(path: string, hierarchy: CgroupHierarchy): Cgroup {
  const self = Cgroup.self({ hierarchy });
  const location: Location = {};
  for (const key of Object.keys(self.location) as HierarchyKey[]) {
    const mount = hierarchy.mounts[key]!;
    location[key] = path.startsWith(`${mount}/`) ? path : join(mount, path);
  }
  return new Cgroup(location, { hierarchy });
}

function parentOf(cgroup: Cgroup): Cgroup {
  const location: Location = {};
  for (const [key, dir] of Object.entries(cgroup.location)) location[key as HierarchyKey] = join(dir, '..');
  return new Cgroup(location, { hierarchy: cgroup.hierarchy });
}
