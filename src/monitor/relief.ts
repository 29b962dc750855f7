/**
 * One relief round. By default release-aware: it kills the fewest agents whose working sets
 * cover the deficit, waits until their memory is really released (their cgroups empty) and only
 * then measures again, because memory freed by a kill shows up late and a round that measures
 * too early kills again for nothing. An explicit `relieve()` works down to its target; an
 * automatic round stops once the alarm has cleared and memory no longer rises. The previous
 * release's round — one kill, a fixed cooldown, down to the target — stays as `releaseAware: false`.
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import type { ResolvedRelieveOptions } from './options.js';
import type { HostMemory, ReliefKill, ReliefOutcome, ReliefReport, VictimCandidate } from './types.js';
import { fewestVictims } from './victims.js';

/** What a round needs from the monitor. */
export interface ReliefSteps {
  readMemory(): HostMemory;
  /** Victims in policy order (protected agents and `skip` left out). */
  candidates(skip: ReadonlySet<string>): VictimCandidate[];
  /** Kills through the host (after a notice when `info.eviction` is set); rejects when the host could not. */
  kill(info: ReliefKill): Promise<void>;
  /** Resolves once the victim's memory is released (its cgroup empty or gone), or the monitor's bound on that wait passed. */
  released(info: ReliefKill): Promise<void>;
  /** How fast host memory used grows now, bytes per second. */
  rate(): number;
  /** The notice a kill at `memory` gets: `undefined` to kill at once (an emergency, or notices off). */
  eviction(memory: HostMemory): ReliefKill['eviction'];
}

/** Below the clear mark but still rising: how many cooldowns a round watches before it ends. */
const WATCH_LIMIT = 8;

export async function runRelief(
  steps: ReliefSteps,
  trigger: ReliefReport['trigger'],
  options: ResolvedRelieveOptions,
  signal: AbortSignal,
): Promise<ReliefReport> {
  const started = performance.now();
  const before = steps.readMemory();
  const kills: ReliefKill[] = [];
  const failures: ReliefReport['failures'] = [];
  const report = (outcome: ReliefOutcome, after: HostMemory): ReliefReport => ({
    trigger,
    dryRun: options.dryRun,
    target: options.target,
    before,
    after,
    kills,
    failures,
    outcome,
    durationMs: performance.now() - started,
  });
  const killOf = (victim: VictimCandidate, memory: HostMemory): ReliefKill => {
    const eviction = options.dryRun ? undefined : steps.eviction(memory);
    return {
      id: victim.id,
      reason: 'relief',
      trigger,
      priority: victim.priority,
      preferred: victim.preferred,
      workingSet: victim.workingSet,
      current: victim.current,
      memory,
      target: options.target,
      ...(eviction && { eviction }),
    };
  };
  const skip = new Set<string>();
  /** Kills `victim`; false (recorded, skipped from now on) when the host could not. */
  const kill = async (victim: VictimCandidate, memory: HostMemory): Promise<ReliefKill | undefined> => {
    const info = killOf(victim, memory);
    try {
      await steps.kill(info);
    } catch (error) {
      failures.push({ id: victim.id, error: error as Error });
      skip.add(victim.id);
      return undefined;
    }
    kills.push(info);
    return info;
  };

  if (options.dryRun) {
    // Nothing changes, so one plan serves: assume each kill frees its working set.
    let used = before.used;
    const plan = fewestVictims(steps.candidates(skip), before.used - options.target * before.total);
    for (const victim of plan) {
      if (kills.length >= options.maxKills) return report('max-kills', before);
      used = Math.max(0, used - victim.workingSet);
      kills.push({ ...killOf(victim, before), estimatedRatio: used / before.total });
    }
    return report(used / before.total < options.target ? 'target-reached' : 'no-candidates', before);
  }

  let memory = before;
  let watched = 0;
  for (let first = true; ; first = false) {
    if (signal.aborted) return report('stopped', memory);
    // Re-check before every kill: other agents exit, the page cache shrinks, an earlier kill lands.
    if (!first) memory = steps.readMemory();
    if (kills.length >= options.maxKills && !(memory.usedRatio < options.target)) return report('max-kills', memory);

    if (!options.releaseAware) {
      if (memory.usedRatio < options.target) return report('target-reached', memory);
      const victim = steps.candidates(skip)[0];
      if (victim === undefined) return report('no-candidates', memory);
      if ((await kill(victim, memory)) === undefined) continue;
      if (!(await pause(options.cooldown, signal))) return report('stopped', memory);
      continue;
    }

    let deficit: number;
    if (options.until === 'clear') {
      const rate = steps.rate();
      const rising = rate > options.minRate;
      if (memory.usedRatio < options.clearBelow && !rising) return report('alarm-cleared', memory);
      if (memory.usedRatio < options.clearBelow) {
        // Cleared but still rising: watch rather than kill below the alarm, the overshoot to avoid.
        if (++watched > WATCH_LIMIT) return report('alarm-cleared', memory);
        if (!(await pause(options.cooldown, signal))) return report('stopped', memory);
        continue;
      }
      // What must go to be under the clear mark once the victims' memory is back, growth meanwhile included.
      deficit = memory.used + Math.max(0, rate) * (options.cooldown / 1000) - options.clearBelow * memory.total;
    } else {
      if (memory.usedRatio < options.target) return report('target-reached', memory);
      deficit = memory.used - options.target * memory.total;
    }
    const plan = fewestVictims(steps.candidates(skip), deficit).slice(0, options.maxKills - kills.length);
    if (plan.length === 0) return report('no-candidates', memory);
    // All of a plan at once: notices run their graces side by side, not one after the other.
    const done = await Promise.all(plan.map((victim) => kill(victim, memory)));
    const killed = done.filter((info): info is ReliefKill => info !== undefined);
    await Promise.all(killed.map((info) => steps.released(info)));
    if (killed.length > 0 && !(await pause(options.settle, signal))) return report('stopped', memory);
  }
}

/** How often a round looks whether a victim's cgroup is empty yet, ms. */
const RELEASE_POLL = 25;

/**
 * Resolves once `cgroup` is empty or gone — a victim's memory is back once its last process
 * has exited — or after `bound` ms, or when `signal` aborts.
 */
export async function untilEmpty(cgroup: Cgroup, bound: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + bound;
  const empty = (): boolean => {
    try {
      return !cgroup.exists() || !cgroup.populated();
    } catch {
      return true; // unreadable: removed in the meantime
    }
  };
  while (!empty() && Date.now() < deadline && !signal.aborted) {
    await new Promise<void>((resolve) => setTimeout(resolve, RELEASE_POLL).unref());
  }
}

/** Resolves when `done` settles, after `bound` ms, or when `signal` aborts, whichever comes first. */
export function within(done: Promise<unknown>, bound: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, bound);
    timer.unref();
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([done.then(noop, noop), limit]).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort!);
  });
}

const noop = (): void => undefined;

/** Waits `ms` (unref'd: a pause never keeps the process alive); false when aborted. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
