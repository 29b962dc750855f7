/** What differs between cgroup v1 and v2: the rest of the library speaks only this interface. */
import type { CgroupHierarchy, HierarchyKey, Location } from './detect.js';
import type { LimitWrite, ResolvedLimits } from './limits.js';
import type { CgroupStats, EventsReader, MemoryEvents, MemorySampler } from './stats.js';

/**
 * One kernel version's knowledge of cgroup files (`v1.ts`, `v2.ts`). Exposed as {@link Cgroup.driver}
 * for diagnostics and tests; callers use the `Cgroup` methods, which wrap every operation.
 */
export interface CgroupDriver {
  /** The cgroup version this driver speaks. */
  readonly version: 1 | 2;
  /** The hierarchies an agent's cgroup spans (v2: `unified`; v1: memory, pids, freezer where mounted). */
  keys(hierarchy: CgroupHierarchy): HierarchyKey[];
  /** The writes (in order) that apply `limits` on this version. */
  limitWrites(limits: ResolvedLimits): LimitWrite[];
  /** Makes `location` able to hold limited children (v2: enables controllers up to the mount root). */
  enableControllers(location: Location, hierarchy: CgroupHierarchy): void;
  /** Files a process writes its pid to in order to join. */
  procsFiles(location: Location): string[];
  /** Pids in the cgroup (v1: from the memory hierarchy). */
  procs(location: Location): number[];
  /**
   * v1: the `tasks` files, which move a single thread (the forking one). v2: `undefined`; a domain
   * cgroup takes whole processes only.
   */
  threadFiles(location: Location): string[] | undefined;
  /** Empty and not frozen: the orchestrator may step in to fork a process there (see join.ts). */
  vacant(location: Location): boolean;
  /** Whether any process is left (v2: in the cgroup or below it). */
  populated(location: Location): boolean;
  /** Every figure but a derived peak: {@link Cgroup.stats} fills `peak` where the kernel has no peak file. */
  stats(location: Location): Omit<CgroupStats, 'memory'> & { memory: Omit<CgroupStats['memory'], 'peak'> & { peak: number | undefined } };
  /** Only the memory event counters: the cheap read behind OOM detection. */
  memoryEvents(location: Location): MemoryEvents | undefined;
  /** The kernel's memory high-water mark (v2 needs Linux 5.19+ for memory.peak), else current usage; `undefined` once the cgroup is gone. */
  peak(location: Location): { peak: number | undefined; current: number } | undefined;
  /**
   * The cgroup's own memory limit (v2 memory.max, v1 memory.limit_in_bytes; Infinity when
   * unlimited) and, on v1, the tightest limit of it and every ancestor as the kernel computes it
   * (memory.stat `hierarchical_memory_limit`, which sees ancestors a namespace hides).
   * `undefined` where there is no limit file (the v2 root cgroup, a missing directory).
   */
  memoryLimit(location: Location): { max: number; hierarchical: number | undefined } | undefined;
  /** The memory event counters and emptiness, over files kept open: what a cgroup watcher checks. */
  eventsReader(location: Location): EventsReader;
  /** Cheap repeated reads of current usage, event counters and PSI, over files kept open (monitoring). */
  sampler(location: Location): MemorySampler;
  /**
   * One pass of killing every process; callers repeat until {@link populated} is false.
   * `fallback` skips v2's cgroup.kill for the freeze-signal-thaw path (older kernels; tests).
   */
  killAll(location: Location, options?: { fallback?: boolean }): Promise<void>;
  /** Freezes or thaws, resolving once the kernel reports the new state. */
  setFrozen(location: Location, frozen: boolean): Promise<void>;
  /** Files whose inotify modify events announce changes (v2); empty where only polling works. */
  eventFiles(location: Location): string[];
}
