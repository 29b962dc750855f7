/**
 * Limits are data. A {@link Limits} object becomes a list of (hierarchy, file, value) writes:
 * v1 and v2 differ only in that translation, and one writer applies any list.
 */
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseSize, type Size } from '../util/size.js';
import type { HierarchyKey } from './detect.js';

/**
 * Per-cgroup limits in one vocabulary for both kernels; each key maps to a v2 file and, where one
 * exists, a v1 file (see docs/cgroup.md). Keys left out are not written.
 */
export interface Limits {
  /** Hard limit; the kernel OOM-kills beyond it (v2 `memory.max`, v1 `memory.limit_in_bytes`). */
  memoryMax?: Size;
  /** Throttle and reclaim above it (v2 `memory.high`; v1 approximates it with `memory.soft_limit_in_bytes`). */
  memoryHigh?: Size;
  /** Swap the cgroup may use; `0` means none (v2 `memory.swap.max`; v1 `memory.memsw.limit_in_bytes` = max + swap). */
  swapMax?: Size;
  /** Processes and threads (`pids.max`): a fork bomb stops here. */
  pidsMax?: number | 'max';
  /** Memory protected from reclaim (v2 only): keeps the supervisor alive in a storm. */
  memoryMin?: Size;
  /** Best-effort protection (v2 only). */
  memoryLow?: Size;
  /** Kill the whole cgroup on OOM instead of one process (v2 only, `memory.oom.group`). */
  oomGroup?: boolean;
}

/** Limits with sizes in bytes; `Infinity` is "max". */
export interface ResolvedLimits {
  memoryMax?: number;
  memoryHigh?: number;
  swapMax?: number;
  pidsMax?: number;
  memoryMin?: number;
  memoryLow?: number;
  oomGroup?: boolean;
}

/**
 * Per-agent limits: 4G hard (a Rust build needs 1–2G, tests with coverage 1–2G, 1G headroom), 3G high
 * (reclaim starts before the 4G kill), no swap (a swapping agent slows the whole host), 512 processes.
 */
export const DEFAULT_AGENT_LIMITS: Readonly<Limits> = Object.freeze({
  memoryMax: '4G',
  memoryHigh: '3G',
  swapMax: 0,
  pidsMax: 512,
});

/** One kernel file write of a limit: limits become a list of these, and one writer applies any list. */
export interface LimitWrite {
  /** The hierarchy whose directory holds `file` (v1 limits span memory and pids). */
  hierarchy: HierarchyKey;
  /** File name inside the cgroup's directory, e.g. `memory.max`. */
  file: string;
  /** The text written, in the kernel's format (`max`, `-1`, bytes). */
  value: string;
  /** Skip silently when the file is missing (e.g. `memory.swap.max` without swap accounting). */
  optional?: boolean;
}

const LIMIT_KEYS: ReadonlySet<string> = new Set(['memoryMax', 'memoryHigh', 'swapMax', 'pidsMax', 'memoryMin', 'memoryLow', 'oomGroup'] satisfies Array<keyof Limits>);

/** Validates and normalises limits. A zero memory limit or pid count is refused: it would kill on sight. */
export function resolveLimits(limits: Limits): ResolvedLimits {
  if (limits === null || typeof limits !== 'object') {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'limits must be an object');
  }
  // A misspelt limit ("memroyMax") silently ignored would leave the agent unlimited.
  const unknown = Object.keys(limits).filter((key) => !LIMIT_KEYS.has(key));
  if (unknown.length > 0) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `unknown limits ${unknown.map((k) => JSON.stringify(k)).join(', ')}; known: ${[...LIMIT_KEYS].join(', ')}`);
  }
  const resolved: ResolvedLimits = {};
  const positive = (value: Size, name: string): number => {
    const bytes = parseSize(value, name);
    if (bytes === 0) throw new AgentHostError(ErrorCode.INVALID_SIZE, `${name} must be greater than 0`);
    return bytes;
  };
  if (limits.memoryMax !== undefined) resolved.memoryMax = positive(limits.memoryMax, 'memoryMax');
  if (limits.memoryHigh !== undefined) resolved.memoryHigh = positive(limits.memoryHigh, 'memoryHigh');
  if (limits.swapMax !== undefined) resolved.swapMax = parseSize(limits.swapMax, 'swapMax');
  if (limits.memoryMin !== undefined) resolved.memoryMin = parseSize(limits.memoryMin, 'memoryMin');
  if (limits.memoryLow !== undefined) resolved.memoryLow = parseSize(limits.memoryLow, 'memoryLow');
  if (limits.pidsMax !== undefined) {
    const pids = limits.pidsMax;
    if (pids === 'max') resolved.pidsMax = Infinity;
    else if (Number.isSafeInteger(pids) && pids > 0) resolved.pidsMax = pids;
    else throw new AgentHostError(ErrorCode.INVALID_OPTION, `invalid pidsMax ${String(pids)}: expected a positive integer or "max"`);
  }
  if (limits.oomGroup !== undefined) {
    if (typeof limits.oomGroup !== 'boolean') throw new AgentHostError(ErrorCode.INVALID_OPTION, 'oomGroup must be a boolean');
    resolved.oomGroup = limits.oomGroup;
  }
  return resolved;
}

const v2Value = (bytes: number): string => (bytes === Infinity ? 'max' : String(bytes));
const v1Value = (bytes: number): string => (bytes === Infinity ? '-1' : String(bytes));

export function v2LimitWrites(limits: ResolvedLimits): LimitWrite[] {
  const writes: LimitWrite[] = [];
  const add = (file: string, value: string, optional = false): void => {
    writes.push({ hierarchy: 'unified', file, value, optional });
  };
  if (limits.memoryMin !== undefined) add('memory.min', v2Value(limits.memoryMin));
  if (limits.memoryLow !== undefined) add('memory.low', v2Value(limits.memoryLow));
  if (limits.memoryHigh !== undefined) add('memory.high', v2Value(limits.memoryHigh));
  if (limits.memoryMax !== undefined) add('memory.max', v2Value(limits.memoryMax));
  // Without swap accounting there is no memory.swap.max, and no swap to limit either.
  if (limits.swapMax !== undefined) add('memory.swap.max', v2Value(limits.swapMax), true);
  if (limits.pidsMax !== undefined) add('pids.max', v2Value(limits.pidsMax));
  if (limits.oomGroup !== undefined) add('memory.oom.group', limits.oomGroup ? '1' : '0');
  return writes;
}

export function v1LimitWrites(limits: ResolvedLimits): LimitWrite[] {
  const writes: LimitWrite[] = [];
  const memory = (file: string, value: string, optional = false): void => {
    writes.push({ hierarchy: 'memory', file, value, optional });
  };
  if (limits.memoryHigh !== undefined) memory('memory.soft_limit_in_bytes', v1Value(limits.memoryHigh));
  const memsw =
    limits.swapMax === undefined ? undefined : limits.memoryMax === undefined ? undefined : limits.memoryMax + limits.swapMax;
  // memsw must never be below the memory limit: lift it first, set the limit, then lower it
  // to limit + swap. Every step is valid whatever the current values are.
  if (memsw !== undefined) memory('memory.memsw.limit_in_bytes', '-1', true);
  if (limits.memoryMax !== undefined) memory('memory.limit_in_bytes', v1Value(limits.memoryMax));
  if (memsw !== undefined) memory('memory.memsw.limit_in_bytes', v1Value(memsw), true);
  if (limits.pidsMax !== undefined) writes.push({ hierarchy: 'pids', file: 'pids.max', value: v2Value(limits.pidsMax) });
  // memory.min, memory.low and memory.oom.group have no v1 counterpart.
  return writes;
}
