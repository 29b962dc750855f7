/** Validation and defaults of the monitor's options, in one place. */
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { Cgroup } from '../cgroup/cgroup.js';
import { validateBudget, type BudgetOption } from './budget.js';
import type { HostMemory, MemoryMonitorOptions, RelieveOptions, VictimPolicy } from './types.js';
import { defaultVictimPolicy } from './victims.js';

export interface ResolvedMonitorOptions {
  interval: number;
  high: number;
  critical: number;
  hysteresis: number;
  autoKill: boolean;
  reliefTarget: number;
  cooldown: number;
  victimPolicy: VictimPolicy;
  livelock: { highPressure: number; duration: number; action: 'event' | 'kill' };
  samples: number;
  procRoot: string;
  readMemory: (() => HostMemory) | undefined;
  budget: BudgetOption | undefined;
  cgroup: Cgroup | false | undefined;
}

/** The defaults of {@link MemoryMonitorOptions} (durations in ms, thresholds as fractions of host memory). */
export const MONITOR_DEFAULTS = {
  interval: 1000,
  high: 0.85,
  critical: 0.95,
  hysteresis: 0.02,
  reliefTarget: 0.75,
  cooldown: 2000,
  highPressure: 40,
  livelockDuration: 10_000,
  samples: 60,
} as const;

function invalid(message: string): AgentHostError {
  return new AgentHostError(ErrorCode.INVALID_OPTION, message);
}

function fraction(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw invalid(`${what} must be a fraction in (0, 1], got ${String(value)}`);
  return value;
}

export function resolveMonitorOptions(options: MemoryMonitorOptions = {}): ResolvedMonitorOptions {
  const interval = parseDuration(options.interval ?? MONITOR_DEFAULTS.interval, 'interval');
  // A zero interval would spin the event loop: a monitor tick is never worth that.
  if (interval < 10) throw invalid(`interval must be at least 10 ms, got ${interval}`);
  const high = fraction(options.thresholds?.high, 'thresholds.high', MONITOR_DEFAULTS.high);
  const critical = fraction(options.thresholds?.critical, 'thresholds.critical', MONITOR_DEFAULTS.critical);
  if (critical < high) throw invalid(`thresholds.critical (${critical}) must not be below thresholds.high (${high})`);
  const hysteresis = options.hysteresis ?? MONITOR_DEFAULTS.hysteresis;
  if (typeof hysteresis !== 'number' || !(hysteresis >= 0 && hysteresis < high)) {
    throw invalid(`hysteresis must be a fraction in [0, thresholds.high), got ${String(hysteresis)}`);
  }
  const livelock = options.livelock ?? {};
  const highPressure = livelock.highPressure ?? MONITOR_DEFAULTS.highPressure;
  if (typeof highPressure !== 'number' || !(highPressure >= 0 && highPressure <= 100)) {
    throw invalid(`livelock.highPressure must be a percentage in [0, 100], got ${String(highPressure)}`);
  }
  const action = livelock.action ?? 'event';
  if (action !== 'event' && action !== 'kill') throw invalid(`livelock.action must be 'event' or 'kill', got ${String(action)}`);
  const samples = options.samples ?? MONITOR_DEFAULTS.samples;
  if (!Number.isSafeInteger(samples) || samples < 1) throw invalid(`samples must be a positive integer, got ${String(samples)}`);
  if (options.victimPolicy !== undefined && typeof options.victimPolicy !== 'function') throw invalid('victimPolicy must be a function');
  if (options.readMemory !== undefined && typeof options.readMemory !== 'function') throw invalid('readMemory must be a function');
  validateBudget(options.budget);
  if (options.cgroup !== undefined && options.cgroup !== false && !(options.cgroup instanceof Cgroup)) throw invalid('cgroup must be a Cgroup or false');
  return {
    interval,
    high,
    critical,
    hysteresis,
    autoKill: options.autoKill ?? false,
    reliefTarget: fraction(options.reliefTarget, 'reliefTarget', MONITOR_DEFAULTS.reliefTarget),
    cooldown: parseDuration(options.cooldown ?? MONITOR_DEFAULTS.cooldown, 'cooldown'),
    victimPolicy: options.victimPolicy ?? defaultVictimPolicy,
    livelock: { highPressure, duration: parseDuration(livelock.duration ?? MONITOR_DEFAULTS.livelockDuration, 'livelock.duration'), action },
    samples,
    procRoot: options.procRoot ?? '/proc',
    readMemory: options.readMemory,
    budget: options.budget,
    cgroup: options.cgroup,
  };
}

export interface ResolvedRelieveOptions {
  target: number;
  dryRun: boolean;
  maxKills: number;
  cooldown: number;
}

export function resolveRelieveOptions(options: RelieveOptions, defaults: ResolvedMonitorOptions): ResolvedRelieveOptions {
  let target = defaults.reliefTarget;
  if (options.targetPercent !== undefined) {
    const percent = options.targetPercent;
    // A fraction passed as a percentage (0.75 for 75) would kill every agent: refuse it.
    if (typeof percent !== 'number' || !(percent >= 1 && percent <= 100)) {
      throw invalid(`targetPercent must be a percentage in [1, 100] (75 for 75 %), got ${String(percent)}`);
    }
    target = percent / 100;
  }
  const maxKills = options.maxKills ?? Infinity;
  if (typeof maxKills !== 'number' || !(maxKills >= 0) || (maxKills !== Infinity && !Number.isSafeInteger(maxKills))) {
    throw invalid(`maxKills must be a non-negative integer or Infinity, got ${String(maxKills)}`);
  }
  return {
    target,
    dryRun: options.dryRun ?? false,
    maxKills,
    cooldown: options.cooldown === undefined ? defaults.cooldown : parseDuration(options.cooldown, 'cooldown'),
  };
}
