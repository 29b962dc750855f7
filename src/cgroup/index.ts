export { Cgroup, hostHierarchy, type CgroupContext, type CreateOptions, type KillOptions } from './cgroup.js';
export { detectHierarchy, type CgroupHierarchy, type CgroupMode, type DetectOptions, type HierarchyKey, type Location, type V1Controller } from './detect.js';
export type { CgroupDriver } from './driver.js';
export { DEFAULT_AGENT_LIMITS, resolveLimits, type LimitWrite, type Limits, type ResolvedLimits } from './limits.js';
export { JOIN_FAILED_EXIT_CODE } from './join.js';
export { whenSpawned, type SpawnOptions, type StdioOption, type Subprocess, type SubprocessResult } from './spawn.js';
export type { CgroupStats, EventsReader, MemoryEvents, MemorySample, MemorySampler, MemoryStats, PidsStats } from './stats.js';
export type { Psi, PsiLine } from './parse.js';
export { CgroupWatcher, NO_MEMORY_EVENTS, type CgroupWatchEvents, type WatchOptions } from './watch.js';
