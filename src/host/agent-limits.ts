/**
 * The limits an agent runs with: the host's over the defaults, a spawn's over the host's. When a
 * layer sets `memoryMax` but not `memoryHigh`, memory.high follows it at ¾ (4G max, 3G high:
 * throttling and reclaim start a quarter below the hard limit, so an agent slows down before it
 * is OOM-killed), rather than keeping a memory.high from a lower layer that may exceed the new max.
 */
import { DEFAULT_AGENT_LIMITS, resolveLimits, type Limits } from '../cgroup/limits.js';
import { parseSize } from '../util/size.js';

/** `over` applied to `base`, memory.high following a new memory.max; validated (typed errors). */
export function layerLimits(base: Limits, over: Limits | undefined): Limits {
  const merged: Limits = { ...base, ...over };
  if (over?.memoryMax !== undefined && over.memoryHigh === undefined) {
    const max = parseSize(over.memoryMax, 'memoryMax');
    merged.memoryHigh = max === Infinity ? 'max' : Math.floor((max * 3) / 4);
  }
  resolveLimits(merged);
  return merged;
}

/** The host's per-agent limits: `limits` over the defaults (4G max, 3G high, no swap, 512 processes). */
export function hostLimits(limits: Limits | undefined): Limits {
  return layerLimits(DEFAULT_AGENT_LIMITS, limits);
}
