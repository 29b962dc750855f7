import { describe, expect, it } from 'vitest';
import { Ring } from '../../../src/monitor/ring.js';

describe('Ring', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const ring = new Ring<number>(3);
    expect(ring.toArray()).toEqual([]);
    expect(ring.last()).toBeUndefined();
    ring.push(1);
    ring.push(2);
    expect(ring.toArray()).toEqual([1, 2]);
    for (let i = 3; i <= 10; i++) ring.push(i);
    expect(ring.toArray()).toEqual([8, 9, 10]);
    expect(ring.size).toBe(3);
    expect(ring.last()).toBe(10);
  });

  it('works with capacity 1', () => {
    const ring = new Ring<string>(1);
    ring.push('a');
    ring.push('b');
    expect(ring.toArray()).toEqual(['b']);
  });
});
