/**
 * Which cgroup the agents' root would be: AgentHost's own placement rules (src/host/placement.ts),
 * asked without creating or moving anything.
 */
import { Cgroup, hostHierarchy } from '../cgroup/cgroup.js';
import { detectHierarchy, type CgroupHierarchy } from '../cgroup/detect.js';
import { findRoot } from '../host/placement.js';
import type { ResolvedSetupOptions } from './options.js';

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
  const { root, parent, delegated } = findRoot({ cgroupRoot: options.cgroupRoot, rootName: options.rootName }, hierarchy);
  return { hierarchy, parent, root, delegated };
}
