/** One shape of statistics for both kernels; each driver fills it from its own files. */
import type { Psi } from './parse.js';

/** Cumulative counters of limit hits and OOM kills: a rise in `oomKill` is how an OOM kill is detected. */
export interface MemoryEvents {
  /** Times usage went below memory.low protection (v2). */
  low: number;
  /** Times the cgroup was throttled at memory.high (v2). */
  high: number;
  /** Times usage hit memory.max (v2 `max`, v1 `memory.failcnt`). */
  max: number;
  /** Times the OOM killer was invoked for the cgroup. */
  oom: number;
  /** Processes the OOM killer killed in the cgroup (v2 `oom_kill`, v1 `memory.oom_control`). */
  oomKill: number;
}

/** Memory figures of one cgroup, with the same meaning on v1 and v2. */
export interface MemoryStats {
  /** Bytes charged now (v2 memory.current, v1 memory.usage_in_bytes). */
  current: number;
  /** Highest `current` so far (memory.peak / max_usage_in_bytes, else the highest value this process saw). */
  peak: number;
  /** current − inactive file cache: what the kernel cannot drop cheaply; the figure kill policies use. */
  workingSet: number;
  anon: number;
  file: number;
  inactiveFile: number;
  /** The hard limit in bytes (`Infinity` if none). */
  max: number;
  /** The throttling limit (v1: the soft limit). */
  high: number;
  /** Swap in use (v2 `memory.swap.current`), 0 when unknown. */
  swap: number;
  events: MemoryEvents;
}

/** Process counts against `pids.max`: a rising `events.max` means forks are failing. */
export interface PidsStats {
  /** Processes and threads now. */
  current: number;
  /** The limit (`Infinity` if none). */
  max: number;
  /** Times a fork failed at pids.max. */
  events: { max: number };
}

/** What {@link Cgroup.stats} returns: every figure of one cgroup, read at one moment. */
export interface CgroupStats {
  memory: MemoryStats;
  pids: PidsStats;
  /** Memory pressure stall information (v2; undefined on v1). */
  pressure: Psi | undefined;
}

/** The cheap figures of one monitoring tick: three small files, no memory.stat. */
export interface MemorySample {
  /** Bytes charged now (v2 memory.current, v1 memory.usage_in_bytes). */
  current: number;
  events: MemoryEvents;
  /** Memory pressure stall information (v2 with PSI; undefined on v1). */
  pressure: Psi | undefined;
}

/**
 * Repeated reads of one cgroup's memory figures through files kept open (no open/close per
 * tick): what lets a monitor sample hundreds of cgroups every second. Close it when done.
 */
export interface MemorySampler {
  /** The cheap figures, or `undefined` once the cgroup is gone. */
  sample(): MemorySample | undefined;
  /**
   * Like {@link sample}, into `into`, for a caller sampling every tick: `current` is written, and
   * `events` and `pressure` are replaced by new objects only when their values changed (an object
   * handed out is never changed afterwards), so an idle cgroup costs no allocation. `false` once
   * the cgroup is gone (`into` is left as it was).
   */
  read(into: MemorySample): boolean;
  /**
   * Usage and working set (current − inactive file cache). Reads memory.stat, the costly file:
   * call it only when choosing a victim. `undefined` once the cgroup is gone.
   */
  usage(): { current: number; workingSet: number } | undefined;
  /** Releases the file descriptors; a later read reopens them. */
  close(): void;
}

export const NO_MEMORY_EVENTS: Readonly<MemoryEvents> = Object.freeze({ low: 0, high: 0, max: 0, oom: 0, oomKill: 0 });

/**
 * The counters a watcher polls (v1) or re-reads on a file event (v2), over files kept open and
 * parsed in place: nothing is allocated while the values stay the same. Close it when done.
 */
export interface EventsReader {
  /** Writes the current counters into `into`; `false` once the cgroup is gone. */
  read(into: MemoryEvents): boolean;
  /** Whether any process is left (as the driver's `populated`). */
  populated(): boolean;
  /** Releases the file descriptors; a later read reopens them. */
  close(): void;
}

/** Whether two sets of counters are equal. */
export function sameEvents(a: MemoryEvents, b: MemoryEvents): boolean {
  return a.low === b.low && a.high === b.high && a.max === b.max && a.oom === b.oom && a.oomKill === b.oomKill;
}

/** `into`'s events replaced by a copy of `counters` when they differ (objects handed out stay as they were). */
export function updateEvents(into: MemorySample, counters: MemoryEvents): void {
  if (!sameEvents(into.events, counters)) into.events = { ...counters };
}

/** A sample to fill with {@link MemorySampler.read}. */
export const emptySample = (): MemorySample => ({ current: 0, events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 }, pressure: undefined });
