/** Choosing whom relief kills. */
import type { VictimCandidate } from './types.js';

/**
 * The default victim order: protected agents never; preferred ones first; then the lowest
 * priority; among equals the largest working set (the most memory back per kill); the id
 * last, so the order is stable.
 */
export function defaultVictimPolicy(candidates: VictimCandidate[]): VictimCandidate[] {
  return candidates
    .filter((c) => !c.protected)
    .sort(
      (a, b) =>
        Number(b.preferred) - Number(a.preferred) ||
        a.priority - b.priority ||
        b.workingSet - a.workingSet ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}
