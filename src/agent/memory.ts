/**
 * How close the agent is to its memory limit, read from its own cgroup — so it can shed caches before
 * the kernel OOM-kills it — for both cgroup versions, nested cgroups and hosts without any.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { invalidOption } from './errors.js';
import { findAgentCgroup, type AgentCgroup, type AgentOptions } from './locate.js';
import { readBytes, readFlat, readPsiSome10, readVmRss } from './read.js';

/** The agent's memory against its limit. */
export interface MemoryUsage {
  /**
   * Bytes in use by the cgroup named in {@link cgroup} (v2 `memory.current`, v1
   * `memory.usage_in_bytes`, page cache included, as the kernel counts it against the limit).
   * Without a cgroup that accounts memory: this process's resident set (`VmRSS`), or 0.
   */
  current: number;
  /** The hard limit in bytes (`memory.max`, v1 `memory.limit_in_bytes`); `Infinity` when none applies. */
  max: number;
  /** Where the kernel starts throttling and reclaiming (`memory.high`; v1 `memory.soft_limit_in_bytes`); `Infinity` when unset. */
  high: number;
  /** `current / max`, 0 when unlimited. Above 1 is possible for a moment on v2 (the kernel reclaims after charging). */
  ratio: number;
  /** `current` minus inactive file cache (what cannot be reclaimed easily), when memory.stat is readable. */
  workingSet?: number;
  /** PSI of the agent's own cgroup: `some avg10` of memory.pressure in percent (v2 with PSI only). */
  pressure?: number;
  /**
   * The cgroup directory the figures come from: the agent's own, or the ancestor whose limit is
   * closest to being reached (see {@link memoryUsage}). `undefined` without a cgroup.
   */
  cgroup?: string;
  /** cgroup version of {@link cgroup}. */
  version?: 1 | 2;
}

/** Options of {@link memoryUsage}: where to look, plus an already found cgroup (saves the lookup when polling). */
export interface MemoryUsageOptions extends AgentOptions {
  /** The agent's cgroup from {@link findAgentCgroup}, or `null` to report without one. Default: looked up now. */
  agentCgroup?: AgentCgroup | null;
}

const FILES = {
  1: { current: 'memory.usage_in_bytes', max: 'memory.limit_in_bytes', high: 'memory.soft_limit_in_bytes', inactive: ['total_inactive_file', 'inactive_file'] },
  2: { current: 'memory.current', max: 'memory.max', high: 'memory.high', inactive: ['inactive_file'] },
} as const;

/** Deeper than any real hierarchy; guards the walk against a looping symlink. */
const MAX_DEPTH = 64;

/**
 * The agent's memory usage against its limit. Never throws: without cgroups it reports the
 * process's own resident set with `max: Infinity`.
 *
 * A limit may sit above the agent's own cgroup (the agent in a cgroup nested inside a limited
 * one, or one whose own `max` is unset): the walk goes up through every readable ancestor and
 * reports the level that is closest to its limit (highest `current / max`), since that is where
 * the kernel will reclaim and OOM-kill first. With no limit anywhere it reports the agent's own
 * cgroup with `max: Infinity` and `ratio: 0`.
 */
export function memoryUsage(options: MemoryUsageOptions = {}): MemoryUsage {
  const found = options.agentCgroup === undefined ? findAgentCgroup(options) : options.agentCgroup;
  const fallback = (): MemoryUsage => ({ current: readVmRss(options.procRoot ?? '/proc') ?? 0, max: Infinity, high: Infinity, ratio: 0 });
  if (!found) return fallback();
  const files = FILES[found.version];

  let own: { dir: string; current: number } | undefined;
  let tightest: { dir: string; current: number; max: number; ratio: number } | undefined;
  let dir = found.dir;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    // The own cgroup (or the nearest ancestor that accounts memory: the v2 root has no
    // memory.current, nor a cgroup whose parent does not enable the memory controller).
    if (!own) {
      const current = readBytes(join(dir, files.current));
      if (current !== undefined) own = { dir, current };
    }
    const max = readBytes(join(dir, files.max));
    if (max !== undefined && max !== Infinity) {
      const current = own?.dir === dir ? own.current : readBytes(join(dir, files.current));
      if (current !== undefined) {
        const ratio = max > 0 ? current / max : Infinity;
        if (!tightest || ratio > tightest.ratio) tightest = { dir, current, max, ratio };
      }
    }
    // The walk ends at the hierarchy's root: above it, no directory holds cgroup.procs.
    const parent = dirname(dir);
    if (parent === dir || !existsSync(join(parent, 'cgroup.procs'))) break;
    dir = parent;
  }

  const level = tightest ?? (own && { ...own, max: Infinity, ratio: 0 });
  if (!level) return fallback();
  const usage: MemoryUsage = {
    current: level.current,
    max: level.max,
    high: readBytes(join(level.dir, files.high)) ?? Infinity,
    ratio: level.ratio,
    cgroup: level.dir,
    version: found.version,
  };
  const stat = readFlat(join(level.dir, 'memory.stat'));
  if (stat) {
    const inactive = files.inactive.map((key) => stat[key]).find((value) => value !== undefined) ?? 0;
    usage.workingSet = Math.max(0, level.current - inactive);
  }
  if (found.version === 2) {
    const pressure = readPsiSome10(join(found.dir, 'memory.pressure'));
    if (pressure !== undefined) usage.pressure = pressure;
  }
  return usage;
}

/**
 * Whether the agent uses more than `threshold` of its memory limit (default 0.8: over 80 % of a 4G
 * limit leaves ~800M to shed caches before memory.max). Always `false` without a limit.
 *
 * @throws RangeError (`code: 'ERR_INVALID_OPTION'`) when `threshold` is not in (0, 1].
 */
export function shouldReduceMemoryUsage(threshold = 0.8, options: MemoryUsageOptions = {}): boolean {
  validateThreshold(threshold);
  return memoryUsage(options).ratio > threshold;
}

/** @internal */
export function validateThreshold(threshold: number): void {
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 1)) {
    throw invalidOption(`threshold must be a number in (0, 1], got ${String(threshold)}`);
  }
}
