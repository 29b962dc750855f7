/**
 * The pause policy's tick: the monitor's view of its agents turned into the policy's
 * candidates, and the decision carried out through the host. The decision itself is pure
 * (pause.ts); who is frozen is the host's to say (`MonitoredAgent.pausedAt`).
 */
import { decidePause, type PauseCandidate, type PauseDecision, type PauseSettings } from './pause.js';
import type { AgentTracker } from './tracker.js';
import type { HostMemory } from './types.js';

/**
 * The policy's candidates: every tracked agent not in `skip` (being killed, or a freeze or thaw
 * still on its way). Growth rates are read only where freezing is possible at all (at or above
 * `high`): below it no decision needs them, and each costs a few small objects per agent.
 */
export function decideForTrackers(
  trackers: Iterable<AgentTracker>,
  skip: ReadonlySet<string>,
  memory: HostMemory,
  rate: number,
  settings: PauseSettings,
): PauseDecision {
  const withGrowth = memory.usedRatio >= settings.high;
  const agents: PauseCandidate[] = [];
  for (const tracker of trackers) {
    const agent = tracker.agent;
    if (skip.has(agent.id)) continue;
    agents.push({
      id: agent.id,
      protected: agent.protected ?? false,
      preferred: agent.preferred ?? false,
      priority: agent.priority,
      startedAt: agent.startedAt ?? tracker.firstSeen,
      growth: withGrowth ? tracker.growth() : 0,
      workingSet: tracker.ring.last()?.current ?? 0,
      pausedAt: agent.pausedAt,
    });
  }
  return decidePause({ now: Date.now(), used: memory.used, total: memory.total, usedRatio: memory.usedRatio, rate, agents }, settings);
}
