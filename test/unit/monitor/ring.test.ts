import { describe, expect, it } from 'vitest';
import { SampleRing } from '../../../src/monitor/ring.js';
import type { AgentSample } from '../../../src/monitor/types.js';

const sample = (time: number, pressure?: AgentSample['pressure']): AgentSample => ({
  time,
  current: time * 1024,
  highDelta: time % 3,
  events: { low: 1, high: time, max: 2, oom: 3, oomKill: 4 },
  pressure,
});

describe('SampleRing', () => {
  it('keeps the newest `capacity` samples, oldest first', () => {
    const ring = new SampleRing(3);
    expect(ring.toArray()).toEqual([]);
    expect(ring.last()).toBeUndefined();
    ring.push(sample(1));
    ring.push(sample(2));
    expect(ring.toArray()).toEqual([sample(1), sample(2)]);
    for (let i = 3; i <= 10; i++) ring.push(sample(i));
    expect(ring.toArray()).toEqual([sample(8), sample(9), sample(10)]);
    expect(ring.size).toBe(3);
    expect(ring.last()).toEqual(sample(10));
  });

  it('works with capacity 1', () => {
    const ring = new SampleRing(1);
    ring.push(sample(1));
    ring.push(sample(2));
    expect(ring.toArray()).toEqual([sample(2)]);
  });

  it('gives back pressure as it was: none, some only, some and full', () => {
    const some = { avg10: 1.5, avg60: 0.25, avg300: 0, total: 123456 };
    const full = { avg10: 0.5, avg60: 0, avg300: 0, total: 42 };
    const ring = new SampleRing(3);
    for (const s of [sample(1), sample(2, { some }), sample(3, { some, full })]) ring.push(s);
    expect(ring.toArray().map((s) => s.pressure)).toEqual([undefined, { some }, { some, full }]);
  });
});
