import { describe, expect, it } from 'vitest';
import { nextLevel } from '../../../src/monitor/levels.js';
import type { MemoryLevel } from '../../../src/monitor/types.js';

const t = { high: 0.85, critical: 0.95, hysteresis: 0.02 };

describe('nextLevel', () => {
  it.each<[MemoryLevel, number, MemoryLevel]>([
    ['normal', 0.5, 'normal'],
    ['normal', 0.849, 'normal'],
    ['normal', 0.85, 'high'],
    ['normal', 0.95, 'critical'],
    ['normal', 1, 'critical'],
    ['high', 0.84, 'high'],
    ['high', 0.83, 'high'],
    ['high', 0.8299, 'normal'],
    ['high', 0.96, 'critical'],
    ['critical', 0.94, 'critical'],
    ['critical', 0.93, 'critical'],
    ['critical', 0.9299, 'high'],
    ['critical', 0.84, 'high'],
    ['critical', 0.5, 'normal'],
  ])('%s at %f → %s', (current, used, expected) => {
    expect(nextLevel(current, used, t)).toBe(expected);
  });

  it('does not flap while usage hovers around a threshold', () => {
    const readings = [0.84, 0.851, 0.849, 0.852, 0.846, 0.849, 0.851, 0.84, 0.835, 0.829, 0.831, 0.84];
    let level: MemoryLevel = 'normal';
    const changes: string[] = [];
    for (const used of readings) {
      const next = nextLevel(level, used, t);
      if (next !== level) changes.push(`${level}→${next}@${used}`);
      level = next;
    }
    expect(changes).toEqual(['normal→high@0.851', 'high→normal@0.829']);
  });

  it('without hysteresis, leaves a level as soon as usage is below it', () => {
    expect(nextLevel('high', 0.8499, { ...t, hysteresis: 0 })).toBe('normal');
  });
});
