/** Validation and defaults of the monitor's options, in one place. */
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { Cgroup } from '../cgroup/cgroup.js';
import { validateBudget, type BudgetOption } from './budget.js';
import { constants } from 'node:os';
import type { PauseSettings } from './pause.js';
import type { HostMemory, MemoryMonitorOptions, RelieveOptions, VictimPolicy } from './types.js';
import { defaultVictimPolicy } from './victims.js';

export interface ResolvedMonitorOptions {
  interval: number;
  high: number;
  critical: number;
  hysteresis: number;
  autoKill: boolean;
  autoKillMode: 'until-clear' | 'to-target';
  reliefTarget: number;
  cooldown: number;
  releaseTimeout: number;
  /** Without `high`/`critical` (the monitor's own): the rest of the policy's settings. */
  pause: Omit<PauseSettings, 'high' | 'critical' | 'horizon'> | false;
  eviction: { signal: NodeJS.Signals; minGrace: number; maxGrace: number } | false;
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
  releaseTimeout: 10_000,
  /** The pause policy's resume mark sits this far below `high`. */
  resumeGap: 0.05,
  holdLimit: 60_000,
  /** Host growth under 1 MiB/s is "not rising": page cache and the orchestrator's own heap move that much. */
  minRate: 1024 * 1024,
  evictionSignal: 'SIGUSR2',
  minGrace: 2000,
  maxGrace: 30_000,
  highPressure: 40,
  livelockDuration: 10_000,
  samples: 60,
} as const;

/** 0.85 − 0.05 is 0.7999…: marks derived from thresholds are rounded so they read (and compare) as written. */
const mark = (value: number): number => Math.round(value * 1e9) / 1e9;

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
  const autoKillMode = options.autoKillMode ?? 'until-clear';
  if (autoKillMode !== 'until-clear' && autoKillMode !== 'to-target') {
    throw invalid(`autoKillMode must be 'until-clear' or 'to-target', got ${String(autoKillMode)}`);
  }
  return {
    interval,
    high,
    critical,
    hysteresis,
    autoKill: options.autoKill ?? false,
    autoKillMode,
    reliefTarget: fraction(options.reliefTarget, 'reliefTarget', MONITOR_DEFAULTS.reliefTarget),
    cooldown: parseDuration(options.cooldown ?? MONITOR_DEFAULTS.cooldown, 'cooldown'),
    releaseTimeout: parseDuration(options.releaseTimeout ?? MONITOR_DEFAULTS.releaseTimeout, 'releaseTimeout'),
    pause: resolvePause(options.pause, high),
    eviction: resolveEviction(options.eviction),
    victimPolicy: options.victimPolicy ?? defaultVictimPolicy,
    livelock: { highPressure, duration: parseDuration(livelock.duration ?? MONITOR_DEFAULTS.livelockDuration, 'livelock.duration'), action },
    samples,
    procRoot: options.procRoot ?? '/proc',
    readMemory: options.readMemory,
    budget: options.budget,
    cgroup: options.cgroup,
  };
}

function resolvePause(options: MemoryMonitorOptions['pause'], high: number): ResolvedMonitorOptions['pause'] {
  if (options === false) return false;
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('pause must be an options object or false');
  const resumeBelow = options?.resumeBelow ?? Math.max(0.01, mark(high - MONITOR_DEFAULTS.resumeGap));
  if (typeof resumeBelow !== 'number' || !(resumeBelow > 0 && resumeBelow < high)) {
    throw invalid(`pause.resumeBelow must be a fraction below thresholds.high (${high}), got ${String(resumeBelow)}`);
  }
  const order = options?.order ?? 'newest';
  if (order !== 'newest' && order !== 'fastest-growing') throw invalid(`pause.order must be 'newest' or 'fastest-growing', got ${String(order)}`);
  return {
    resumeBelow,
    holdLimit: parseDuration(options?.holdLimit ?? MONITOR_DEFAULTS.holdLimit, 'pause.holdLimit'),
    order,
    minRate: MONITOR_DEFAULTS.minRate,
  };
}

function resolveEviction(options: MemoryMonitorOptions['eviction']): ResolvedMonitorOptions['eviction'] {
  if (options === false || options?.signal === false) return false;
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('eviction must be an options object or false');
  const signal = options?.signal ?? MONITOR_DEFAULTS.evictionSignal;
  if (typeof signal !== 'string' || !Object.hasOwn(constants.signals, signal) || signal === 'SIGKILL' || signal === 'SIGSTOP') {
    throw invalid(`eviction.signal must be the name of a signal a process can handle (like "SIGUSR2") or false, got ${String(signal)}`);
  }
  const minGrace = parseDuration(options?.minGrace ?? MONITOR_DEFAULTS.minGrace, 'eviction.minGrace');
  const maxGrace = parseDuration(options?.maxGrace ?? MONITOR_DEFAULTS.maxGrace, 'eviction.maxGrace');
  if (maxGrace < minGrace) throw invalid(`eviction.maxGrace (${maxGrace} ms) must not be below eviction.minGrace (${minGrace} ms)`);
  return { signal, minGrace, maxGrace };
}

export interface ResolvedRelieveOptions {
  target: number;
  dryRun: boolean;
  maxKills: number;
  /** Growth horizon of a `clear` round's deficit, and the wait between kills without release-awareness, ms. */
  cooldown: number;
  /** `target`: down to `target`; `clear`: until below `clearBelow` and no longer rising. */
  until: 'target' | 'clear';
  clearBelow: number;
  /** Wait for each victim's memory to be released before measuring again (false: the previous release's cooldown). */
  releaseAware: boolean;
  /** An extra wait after release, ms. */
  settle: number;
  /** Host growth (bytes/s) at or below which memory is "not rising". */
  minRate: number;
}

/** The options of an automatic round (auto-kill at `critical`). */
export function autoKillRound(defaults: ResolvedMonitorOptions): ResolvedRelieveOptions {
  const previous = defaults.autoKillMode === 'to-target';
  return {
    target: defaults.reliefTarget,
    dryRun: false,
    maxKills: Infinity,
    cooldown: defaults.cooldown,
    until: previous ? 'target' : 'clear',
    clearBelow: mark(defaults.critical - defaults.hysteresis),
    releaseAware: !previous,
    settle: 0,
    minRate: MONITOR_DEFAULTS.minRate,
  };
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
    cooldown: defaults.cooldown,
    until: 'target',
    clearBelow: mark(defaults.critical - defaults.hysteresis),
    releaseAware: true,
    settle: options.cooldown === undefined ? 0 : parseDuration(options.cooldown, 'cooldown'),
    minRate: MONITOR_DEFAULTS.minRate,
  };
}
