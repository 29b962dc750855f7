/**
 * What an overcommitted host feels like from the orchestrator: the event loop's worst stall
 * (a 50 ms timer's lateness) while host memory is at or above a mark, and the peak of host
 * memory used, both read from /proc/meminfo at every probe.
 */
import { readFileSync } from 'node:fs';

const PROBE_MS = 50;

export interface PressureFigures {
  /** The longest gap beyond the probe interval while memory used was ≥ the mark, ms. */
  worstStall: number;
  /** The longest gap overall, ms. */
  worstStallAny: number;
  /** The highest used fraction of MemTotal seen (MemTotal − MemAvailable). */
  peakRatio: number;
}

export function usedRatio(): number {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const total = field('MemTotal');
  return (total - field('MemAvailable')) / total;
}

/** Starts probing; `stop()` ends it and returns the figures. */
export function watchPressure(mark = 0.8): { stop(): PressureFigures } {
  const figures: PressureFigures = { worstStall: 0, worstStallAny: 0, peakRatio: 0 };
  let last = performance.now();
  let lastRatio = usedRatio();
  const timer = setInterval(() => {
    const now = performance.now();
    const ratio = usedRatio();
    const stall = Math.max(0, now - last - PROBE_MS);
    figures.worstStallAny = Math.max(figures.worstStallAny, stall);
    if (ratio >= mark || lastRatio >= mark) figures.worstStall = Math.max(figures.worstStall, stall);
    figures.peakRatio = Math.max(figures.peakRatio, ratio);
    last = now;
    lastRatio = ratio;
  }, PROBE_MS);
  return {
    stop() {
      clearInterval(timer);
      return figures;
    },
  };
}
