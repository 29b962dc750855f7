import { describe, expect, it } from 'vitest';
import { defaultVictimPolicy } from '../../../src/monitor/victims.js';
import type { MonitoredAgent, VictimCandidate } from '../../../src/monitor/types.js';

const M = 1024 * 1024;
function candidate(id: string, priority: number, workingSet: number, extra: Partial<VictimCandidate> = {}): VictimCandidate {
  return { id, agent: { id } as MonitoredAgent, priority, workingSet, current: workingSet, protected: false, preferred: false, ...extra };
}

describe('defaultVictimPolicy', () => {
  it('orders preferred first, then lowest priority, then largest working set; never protected', () => {
    const ordered = defaultVictimPolicy([
      candidate('big-important', 10, 900 * M),
      candidate('small-low', 0, 10 * M),
      candidate('big-low', 0, 500 * M),
      candidate('guarded', -5, 2000 * M, { protected: true }),
      candidate('preferred-important', 10, 1 * M, { preferred: true }),
      candidate('mid', 5, 100 * M),
      candidate('negative', -1, 1 * M),
    ]);
    expect(ordered.map((c) => c.id)).toEqual(['preferred-important', 'negative', 'big-low', 'small-low', 'mid', 'big-important']);
  });

  it('breaks complete ties by id, so the order is stable', () => {
    const ordered = defaultVictimPolicy([candidate('b', 0, M), candidate('a', 0, M), candidate('c', 0, M)]);
    expect(ordered.map((c) => c.id)).toEqual(['a', 'b', 'c']);
  });
});
