/**
 * Pause before kill: the policy that freezes growing agents while host memory is above `high`
 * and still rising, so the others can finish and free memory, thaws them once memory is back
 * under a resume mark, and gives up on a frozen agent (evicts it) only when it has held its
 * memory past a deadline. A frozen agent loses nothing; a killed one loses its whole context.
 *
 * Pure: it sees figures and returns a decision. Who is frozen is owned by the host (an agent's
 * `pausedAt`); the monitor feeds the figures each tick and the host carries the decision out.
 */
import { fewestVictims } from './victims.js';

/** One agent as the pause policy sees it. */
export interface PauseCandidate {
  readonly id: string;
  /** Never frozen, never evicted. */
  readonly protected: boolean;
  /** Frozen (and evicted) before any unpreferred agent. */
  readonly preferred: boolean;
  /** Higher is more important: frozen later, thawed sooner. */
  readonly priority: number;
  /** When the agent started, ms since the epoch (newest is frozen first). */
  readonly startedAt: number;
  /** How fast its memory grows, bytes per second (its recent samples' slope). */
  readonly growth: number;
  /** Bytes a kill would free. */
  readonly workingSet: number;
  /** When it was frozen, ms since the epoch; `undefined` while it runs. */
  readonly pausedAt: number | undefined;
}

/** Settings of the pause policy (`MemoryMonitorOptions.pause`); fractions are of the host's memory budget. */
export interface PauseSettings {
  /** Freeze at or above this used fraction while memory still rises (the monitor's `high`). */
  high: number;
  /** At or above this fraction the decision is an emergency: relief kills at once (the monitor's `critical`). */
  critical: number;
  /** Thaw below this used fraction, and only while memory is not rising: the hysteresis below `high`. */
  resumeBelow: number;
  /** A frozen agent may hold its memory this long (ms) while memory stays above `resumeBelow`; then it is evicted. */
  holdLimit: number;
  /** Among unpreferred agents, freeze the newest first (least work lost) or the fastest-growing first. */
  order: 'newest' | 'fastest-growing';
  /** Host growth (bytes/s) at or below which memory counts as "not rising". */
  minRate: number;
  /**
   * How far ahead freezing looks, ms (the monitor's interval: until the next decision). Memory that
   * will cross `high` before then at its current rate is frozen now: growth of several percent per
   * tick otherwise lands the first decision well above `high`, and the last running agent's growth
   * then carries memory to `critical`, where the only answer is a kill. Default 0: `high` itself.
   */
  horizon?: number;
}

/** The used fraction expected `horizon` ms ahead at `rate` bytes per second (never below the fraction now). */
export function usedAhead(usedRatio: number, rate: number, total: number, horizon = 0): number {
  return total > 0 && rate > 0 ? usedRatio + (rate * horizon) / 1000 / total : usedRatio;
}

/** The figures of one decision. */
export interface PauseInput {
  /** Now, ms since the epoch. */
  now: number;
  /** Host memory: bytes used, the budget, and their ratio. */
  used: number;
  total: number;
  usedRatio: number;
  /** How fast `used` grows, bytes per second. */
  rate: number;
  agents: readonly PauseCandidate[];
  /** Bytes still held by agents already on their way out (a notice's grace running, a kill sent): as good as free. Default 0. */
  releasing?: number;
}

/** What to do now; every list in the order to act. */
export interface PauseDecision {
  /** Running agents to freeze. */
  freeze: string[];
  /** Frozen agents to thaw. */
  thaw: string[];
  /** Frozen agents past `holdLimit` to evict (notice, grace, kill): the fewest that cover the excess over `resumeBelow`. */
  evict: string[];
  /** At or above `critical`: relief kills at once; freezing still stops growth meanwhile. */
  emergency: boolean;
}

const byId = (a: PauseCandidate, b: PauseCandidate): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Decides which agents to freeze, thaw or evict:
 * - **freeze** at or above `high` (or due to reach it within `horizon`) while memory rises faster than `minRate`: growing, running,
 *   unprotected agents — preferred first, then by lowest priority, then newest (or fastest-growing)
 *   — until the growth frozen covers the host's rate; never the last running agent, so something
 *   can always finish and free memory;
 * - **thaw** below `resumeBelow` while memory is not rising, one agent per decision (its growth
 *   shows before the next): the highest priority first, unpreferred before preferred, the
 *   longest frozen first; also when no agent runs at all and memory is below `high`;
 * - **evict** frozen agents frozen for `holdLimit` or more while memory stays at or above
 *   `resumeBelow`: the fewest (victim order: preferred, lowest priority, largest) whose working
 *   sets cover the excess not already covered by agents on their way out.
 */
export function decidePause(input: PauseInput, settings: PauseSettings): PauseDecision {
  const decision: PauseDecision = { freeze: [], thaw: [], evict: [], emergency: input.usedRatio >= settings.critical };
  const running = input.agents.filter((a) => a.pausedAt === undefined);
  const paused = input.agents.filter((a) => a.pausedAt !== undefined);
  const rising = input.rate > settings.minRate;

  if (rising && usedAhead(input.usedRatio, input.rate, input.total, settings.horizon) >= settings.high) {
    const growing = running
      .filter((a) => !a.protected && a.growth > 0)
      .sort(
        (a, b) =>
          Number(b.preferred) - Number(a.preferred) ||
          a.priority - b.priority ||
          (settings.order === 'newest' ? b.startedAt - a.startedAt : b.growth - a.growth) ||
          byId(a, b),
      );
    let stopped = 0;
    let left = running.length;
    for (const agent of growing) {
      if (stopped >= input.rate || left <= 1) break;
      decision.freeze.push(agent.id);
      stopped += agent.growth;
      left--;
    }
  }

  const thawOrder = (): PauseCandidate[] =>
    paused
      .slice()
      .sort((a, b) => b.priority - a.priority || Number(a.preferred) - Number(b.preferred) || a.pausedAt! - b.pausedAt! || byId(a, b));
  if (paused.length > 0 && ((input.usedRatio < settings.resumeBelow && !rising) || (running.length === 0 && input.usedRatio < settings.high))) {
    decision.thaw.push(thawOrder()[0]!.id);
  }

  if (input.usedRatio >= settings.resumeBelow) {
    const overdue = paused
      .filter((a) => !a.protected && input.now - a.pausedAt! >= settings.holdLimit)
      .sort((a, b) => Number(b.preferred) - Number(a.preferred) || a.priority - b.priority || b.workingSet - a.workingSet || byId(a, b));
    // Agents already leaving cover part of it: counting them again would evict one more each tick of their grace.
    const excess = input.used - (input.releasing ?? 0) - settings.resumeBelow * input.total;
    decision.evict = fewestVictims(overdue, excess).map((a) => a.id);
  }
  return decision;
}
