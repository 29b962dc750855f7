/**
 * Which limit an OOM kill in an agent's cgroup came from. The kernel counts the kill in the
 * victim's cgroup whichever limit was reached, but raises `oom` (v2) and the limit-hit counter
 * (v2 `max`, v1 failcnt) only in the cgroup whose own limit was reached: when neither moved in the
 * agent's cgroup, the limit was one above it — the agents' root's backstop, or a container's.
 */
import type { MemoryEvents } from '../cgroup/stats.js';
import { NO_MEMORY_EVENTS } from '../cgroup/watch.js';
import { parseSize, type Size } from '../util/size.js';

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

/**
 * One agent's OOM kills, each told once with its scope: the counters at the last report (a new
 * cgroup starts at zero; an adopted one at what it had counted) against each new reading.
 */
export class OomCounter {
  #seen: Readonly<MemoryEvents>;

  constructor(seen: Readonly<MemoryEvents> = NO_MEMORY_EVENTS) {
    this.#seen = { ...seen };
  }

  /** OOM kills counted so far. */
  get kills(): number {
    return this.#seen.oomKill;
  }

  /**
   * The kills since the last report and whose limit they came from, or `undefined` when there are
   * none. `memoryMax` is the agent's own limit (v1 decides by the high-water mark at it).
   */
  next(counters: MemoryEvents, cgroup: { readonly version: 1 | 2; peakMemory(): number | undefined }, memoryMax: Size | undefined): { count: number; total: number; counters: MemoryEvents; scope: OomScope } | undefined {
    const before = this.#seen;
    const count = counters.oomKill - before.oomKill;
    if (count <= 0) return undefined;
    this.#seen = { ...counters };
    const atLimit = cgroup.version === 1 && reachedLimit(cgroup.peakMemory(), parseSize(memoryMax ?? 'max'));
    return { count, total: counters.oomKill, counters, scope: oomScope(before, counters, cgroup.version, atLimit) };
  }
}
