/** Choosing whom relief kills. */
import type { VictimCandidate } from './types.js';

/**
 * The default victim order: protected agents never; preferred ones first; then the lowest
 * priority; among equals frozen agents before running ones (the pause policy already chose them
 * to stop, and a running agent is the one still making progress); then the largest working set
 * (the most memory back per kill); the id last, so the order is stable.
 */
export function defaultVictimPolicy(candidates: VictimCandidate[]): VictimCandidate[] {
  const frozen = (c: VictimCandidate): number => Number(c.agent.pausedAt !== undefined);
  return candidates
    .filter((c) => !c.protected)
    .sort(
      (a, b) =>
        Number(b.preferred) - Number(a.preferred) ||
        a.priority - b.priority ||
        frozen(b) - frozen(a) ||
        b.workingSet - a.workingSet ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}

/**
 * The fewest victims, taken in policy order, whose working sets cover `deficit` bytes: the
 * shortest prefix of `ordered` that covers it, less any member the others cover without
 * (smallest first). Killing more than the deficit throws away work for nothing — the complaint
 * users of systemd-oomd and earlyoom make most. Empty when `deficit` ≤ 0; all of `ordered`
 * when even all of them do not cover it.
 */
export function fewestVictims<T extends { readonly workingSet: number }>(ordered: readonly T[], deficit: number): T[] {
  if (!(deficit > 0)) return [];
  const plan: T[] = [];
  let covered = 0;
  for (const candidate of ordered) {
    if (covered >= deficit) break;
    plan.push(candidate);
    covered += Math.max(0, candidate.workingSet);
  }
  for (const candidate of plan.slice().sort((a, b) => a.workingSet - b.workingSet)) {
    if (covered - Math.max(0, candidate.workingSet) < deficit) continue;
    covered -= Math.max(0, candidate.workingSet);
    plan.splice(plan.indexOf(candidate), 1);
  }
  return plan;
}
