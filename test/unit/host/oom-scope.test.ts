import { describe, expect, it } from 'vitest';
import type { MemoryEvents } from '../../../src/cgroup/stats.js';
import { OomCounter, oomScope, reachedLimit } from '../../../src/host/oom-scope.js';

const events = (e: Partial<MemoryEvents>): MemoryEvents => ({ low: 0, high: 0, max: 0, oom: 0, oomKill: 0, ...e });

describe('oomScope', () => {
  it("v2: the agent's own oom counter rose → its own limit; only oom_kill rose → a limit above it", () => {
    expect(oomScope(events({}), events({ max: 3, oom: 1, oomKill: 1 }), 2)).toBe('agent');
    expect(oomScope(events({ max: 3, oom: 1, oomKill: 1 }), events({ max: 3, oom: 1, oomKill: 2 }), 2)).toBe('agents-root');
  });

  it('v1: a hit of its own limit (failcnt) → its own limit; none → a limit above it', () => {
    expect(oomScope(events({ max: 10, oom: 1, oomKill: 1 }), events({ max: 12, oom: 2, oomKill: 2 }), 1)).toBe('agent');
    expect(oomScope(events({ max: 10, oom: 1, oomKill: 1 }), events({ max: 10, oom: 2, oomKill: 2 }), 1)).toBe('agents-root');
  });

  it('v1 without a failcnt rise: the high-water mark at its own limit → its own limit', () => {
    const M = 2 ** 20;
    expect(oomScope(events({ oom: 1, oomKill: 1 }), events({ oom: 2, oomKill: 2 }), 1, reachedLimit(64 * M, 64 * M))).toBe('agent');
    expect(oomScope(events({ oom: 1, oomKill: 1 }), events({ oom: 2, oomKill: 2 }), 1, reachedLimit(300 * M, 4096 * M))).toBe('agents-root');
    expect(reachedLimit(undefined, 64 * M)).toBe(false);
    expect(reachedLimit(64 * M, Infinity)).toBe(false);
  });
});

describe('OomCounter', () => {
  it('tells each kill once, with its scope; an adopted cgroup starts from what it had counted', () => {
    const M = 2 ** 20;
    const v2 = { version: 2 as const, peakMemory: () => undefined };
    const counter = new OomCounter();
    expect(counter.next(events({}), v2, '64M')).toBeUndefined();
    expect(counter.next(events({ max: 3, oom: 1, oomKill: 1 }), v2, '64M')).toMatchObject({ count: 1, total: 1, scope: 'agent' });
    expect(counter.next(events({ max: 3, oom: 1, oomKill: 1 }), v2, '64M')).toBeUndefined();
    expect(counter.next(events({ max: 3, oom: 1, oomKill: 3 }), v2, '64M')).toMatchObject({ count: 2, total: 3, scope: 'agents-root' });
    expect(counter.kills).toBe(3);
    const adopted = new OomCounter(events({ oomKill: 5 }));
    expect([adopted.kills, adopted.next(events({ oomKill: 5 }), v2, undefined)]).toEqual([5, undefined]);
    const v1 = { version: 1 as const, peakMemory: () => 64 * M };
    expect(new OomCounter().next(events({ oom: 1, oomKill: 1 }), v1, '64M')?.scope).toBe('agent');
    expect(new OomCounter().next(events({ oom: 1, oomKill: 1 }), v1, '4G')?.scope).toBe('agents-root');
  });
});
