/**
 * The pause policy's tick: the monitor's view of its agents turned into the policy's
 * candidates, and the decision carried out through the host. The decision itself is pure
 * (pause.ts); who is frozen is the host's to say (`MonitoredAgent.pausedAt`).
 */
import { decidePause, usedAhead, type PauseCandidate, type PauseDecision, type PauseSettings } from './pause.js';
import type { AgentTracker } from './tracker.js';
import type { HostMemory } from './types.js';

/**
 * The policy's candidates: every tracked agent not `busy` (being killed — the evicted among them —
 * or a freeze or thaw still on its way). The memory of those `leaving` (evicted, not yet released;
 * the host may have stopped listing them already) counts as released. Growth rates are read only where freezing is possible at all (at or near `high`):
 * below it no decision needs them, and each costs a few small objects per agent.
 */
export function decideForTrackers(
  trackers: Iterable<AgentTracker>,
  away: { readonly busy: ReadonlySet<string>; readonly leaving: ReadonlyMap<string, number> },
  memory: HostMemory,
  rate: number,
  settings: PauseSettings,
): PauseDecision {
  const withGrowth = usedAhead(memory.usedRatio, rate, memory.total, settings.horizon) >= settings.high;
  const agents: PauseCandidate[] = [];
  let releasing = 0;
  for (const bytes of away.leaving.values()) releasing += bytes;
  for (const tracker of trackers) {
    const agent = tracker.agent;
    if (away.busy.has(agent.id)) continue;
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
  return decidePause({ now: Date.now(), used: memory.used, total: memory.total, usedRatio: memory.usedRatio, rate, agents, releasing }, settings);
}

/** Whether any tracked agent is frozen. */
export function anyPaused(trackers: Iterable<AgentTracker>): boolean {
  for (const tracker of trackers) if (tracker.agent.pausedAt !== undefined) return true;
  return false;
}
