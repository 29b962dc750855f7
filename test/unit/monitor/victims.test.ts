import { describe, expect, it } from 'vitest';
import { defaultVictimPolicy, fewestVictims } from '../../../src/monitor/victims.js';
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

  it('takes frozen agents before running ones of the same preference and priority, whatever their size', () => {
    const frozen = (id: string, priority: number, workingSet: number): VictimCandidate =>
      candidate(id, priority, workingSet, { agent: { id, pausedAt: 1 } as MonitoredAgent });
    const ordered = defaultVictimPolicy([candidate('running-big', 0, 900 * M), frozen('frozen-small', 0, 100 * M), frozen('frozen-important', 5, 800 * M)]);
    expect(ordered.map((c) => c.id)).toEqual(['frozen-small', 'running-big', 'frozen-important']);
  });

  it('breaks complete ties by id, so the order is stable', () => {
    const ordered = defaultVictimPolicy([candidate('b', 0, M), candidate('a', 0, M), candidate('c', 0, M)]);
    expect(ordered.map((c) => c.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('fewestVictims', () => {
  const c = (id: string, workingSet: number) => ({ id, workingSet });
  it('takes the shortest prefix covering the deficit, then drops members the others cover without', () => {
    const ordered = [c('pref', 10), c('a', 900), c('b', 100), c('c', 2000)];
    expect(fewestVictims(ordered, 0).map((v) => v.id)).toEqual([]);
    expect(fewestVictims(ordered, -5).map((v) => v.id)).toEqual([]);
    expect(fewestVictims(ordered, 5).map((v) => v.id)).toEqual(['pref']);
    expect(fewestVictims(ordered, 800).map((v) => v.id)).toEqual(['a']);
    expect(fewestVictims(ordered, 905).map((v) => v.id)).toEqual(['pref', 'a']);
    expect(fewestVictims(ordered, 1500).map((v) => v.id)).toEqual(['c']);
    expect(fewestVictims(ordered, 10_000).map((v) => v.id)).toEqual(['pref', 'a', 'b', 'c']);
  });
});
