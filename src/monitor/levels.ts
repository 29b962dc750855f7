/** Host memory levels with hysteresis. */
import type { MemoryLevel } from './types.js';

export interface LevelThresholds {
  high: number;
  critical: number;
  hysteresis: number;
}

/**
 * The level after reading `usedRatio` at `current`. A level is entered as soon as its threshold
 * is reached, but left only once usage falls `hysteresis` below it, so usage hovering at a
 * threshold does not pause and resume admission (or start and stop auto-kill) every tick.
 */
export function nextLevel(current: MemoryLevel, usedRatio: number, t: LevelThresholds): MemoryLevel {
  if (usedRatio >= t.critical) return 'critical';
  if (current === 'critical' && usedRatio >= t.critical - t.hysteresis) return 'critical';
  if (usedRatio >= t.high) return 'high';
  if (current !== 'normal' && usedRatio >= t.high - t.hysteresis) return 'high';
  return 'normal';
}
