/**
 * One relief round, as the seed's emergency-memory-relief.sh: re-check memory before every
 * kill, kill one agent, wait a cooldown (memory takes time to come back), stop at the target.
 */
import type { ResolvedRelieveOptions } from './options.js';
import type { HostMemory, ReliefKill, ReliefOutcome, ReliefReport, VictimCandidate } from './types.js';

/** What a round needs from the monitor. */
export interface ReliefSteps {
  readMemory(): HostMemory;
  /** Victims in policy order (protected agents and `skip` left out). */
  candidates(skip: ReadonlySet<string>): VictimCandidate[];
  /** Kills through the host; rejects when the host could not. */
  kill(info: ReliefKill): Promise<void>;
}

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
  const killOf = (victim: VictimCandidate, memory: HostMemory): ReliefKill => ({
    id: victim.id,
    reason: 'relief',
    trigger,
    priority: victim.priority,
    preferred: victim.preferred,
    workingSet: victim.workingSet,
    current: victim.current,
    memory,
    target: options.target,
  });

  if (options.dryRun) {
    // Nothing changes, so one ordering serves: assume each kill frees its working set.
    let used = before.used;
    for (const victim of steps.candidates(new Set())) {
      if (used / before.total < options.target) return report('target-reached', before);
      if (kills.length >= options.maxKills) return report('max-kills', before);
      used = Math.max(0, used - victim.workingSet);
      kills.push({ ...killOf(victim, before), estimatedRatio: used / before.total });
    }
    return report(used / before.total < options.target ? 'target-reached' : 'no-candidates', before);
  }

  const skip = new Set<string>();
  let memory = before;
  for (let first = true; ; first = false) {
    if (signal.aborted) return report('stopped', memory);
    // Re-check before every kill: other agents exit, the page cache shrinks, an earlier kill lands.
    if (!first) memory = steps.readMemory();
    if (memory.usedRatio < options.target) return report('target-reached', memory);
    if (kills.length >= options.maxKills) return report('max-kills', memory);
    const victim = steps.candidates(skip)[0];
    if (victim === undefined) return report('no-candidates', memory);
    const kill = killOf(victim, memory);
    try {
      await steps.kill(kill);
    } catch (error) {
      failures.push({ id: victim.id, error: error as Error });
      skip.add(victim.id);
      continue;
    }
    kills.push(kill);
    if (!(await cooldown(options.cooldown, signal))) return report('stopped', memory);
  }
}

/** Waits `ms` (unref'd: a cooldown never keeps the process alive); false when aborted. */
function cooldown(ms: number, signal: AbortSignal): Promise<boolean> {
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
