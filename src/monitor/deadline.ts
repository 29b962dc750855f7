/**
 * How long an evicted agent gets between its notice and the kill: the time host memory needs,
 * at its current growth rate, to reach the critical threshold — the moment waiting stops being
 * safe — bounded so a notice is never too short to act on nor long enough to matter.
 */
import type { HostMemory, ReliefKill } from './types.js';

/** The bounds of an eviction notice's grace, ms. */
export const EVICTION_GRACE = { min: 2_000, max: 30_000 } as const;

/** Inputs of {@link evictionGrace}. */
export interface EvictionGraceInput {
  /** Host memory used now, fraction of the budget. */
  usedRatio: number;
  /** The critical threshold, fraction. */
  critical: number;
  /** How fast `usedRatio` grows, fraction per second (negative when falling). */
  rate: number;
  /** Shortest grace, ms. Default 2 s. */
  min?: number;
  /** Longest grace, ms: also the grace while memory is not rising. Default 30 s. */
  max?: number;
}

/**
 * The grace of an eviction notice, ms: 0 (kill at once) at or above `critical`; otherwise the
 * time left before `critical` at `rate`, clamped to [`min`, `max`] (`max` when not rising).
 */
export function evictionGrace(input: EvictionGraceInput): number {
  const min = input.min ?? EVICTION_GRACE.min;
  const max = input.max ?? EVICTION_GRACE.max;
  if (input.usedRatio >= input.critical) return 0;
  if (!(input.rate > 0)) return max;
  const left = ((input.critical - input.usedRatio) / input.rate) * 1000;
  return Math.round(Math.min(max, Math.max(min, left)));
}

/**
 * The notice of a relief kill at `memory`, host memory growing `rate` bytes per second:
 * `undefined` (kill at once) at critical or with notices off, else the signal and the grace.
 */
export function evictionNotice(
  memory: HostMemory,
  rate: number,
  critical: number,
  notice: { signal: NodeJS.Signals; minGrace: number; maxGrace: number } | false,
): ReliefKill['eviction'] {
  if (notice === false) return undefined;
  const graceMs = evictionGrace({
    usedRatio: memory.usedRatio,
    critical,
    rate: memory.total > 0 ? rate / memory.total : 0,
    min: notice.minGrace,
    max: notice.maxGrace,
  });
  return graceMs > 0 ? { signal: notice.signal, graceMs } : undefined;
}
