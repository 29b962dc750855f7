/**
 * Which limit an OOM kill in an agent's cgroup came from. The kernel counts the kill in the
 * victim's cgroup whichever limit was reached, but raises `oom` (v2) and the limit-hit counter
 * (v2 `max`, v1 failcnt) only in the cgroup whose own limit was reached: when neither moved in the
 * agent's cgroup, the limit was one above it — the agents' root's backstop, or a container's.
 */
import type { MemoryEvents } from '../cgroup/stats.js';

/** `agent`: its own memory.max; `agents-root`: a limit above the agent (the root's backstop, a container's). */
export type OomScope = 'agent' | 'agents-root';

/**
 * The scope of the OOM kills between two readings of an agent's memory event counters. v1 has no
 * `oom` counter of its own, and its failcnt does not move on current kernels when the memcg OOM
 * killer runs: there the agent's high-water mark at its own limit (`peakAtLimit`) decides.
 */
export function oomScope(before: MemoryEvents, after: MemoryEvents, version: 1 | 2, peakAtLimit = false): OomScope {
  const ownLimit = version === 2 ? after.oom > before.oom : after.max > before.max || peakAtLimit;
  return ownLimit ? 'agent' : 'agents-root';
}

/** Whether a high-water mark reached a memory limit: within 3 % of it (charges come in pages and batches). */
export function reachedLimit(peak: number | undefined, limit: number): boolean {
  return peak !== undefined && Number.isFinite(limit) && peak >= limit * 0.97;
}
