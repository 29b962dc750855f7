/** The host's admission gate over a fake monitor: reservations as of the last tick, memory freed by an exit counted at once. */
import { describe, expect, it } from 'vitest';
import type { AgentResult } from '../../../src/host/events.js';
import { MemoryGate, type GateMonitor, type GatedRun } from '../../../src/host/memory-gate.js';
import type { HostMemory } from '../../../src/monitor/index.js';

const MB = 2 ** 20;

/** A monitor whose last tick read `used` of a 1000 MB budget and the agents' usage in `usage`. */
function fakeMonitor(used: number, usage: Record<string, number>): GateMonitor & { tick(used: number): void } {
  let last: HostMemory = memoryOf(used);
  return {
    thresholds: { high: 0.85 } as GateMonitor['thresholds'],
    hostMemory: () => last,
    lastMemory: () => last,
    lastUsage: (id: string) => usage[id],
    tick(next: number) {
      last = memoryOf(next);
    },
  };
}

function memoryOf(used: number): HostMemory {
  const total = 1000 * MB;
  return { total, used, available: total - used, usedRatio: used / total };
}

const run = (id: string, state: GatedRun['state'] = 'running'): GatedRun => ({ id, state, peak: { expectedMemory: '300M' } });
const exited = (id: string): AgentResult => ({ id, reason: 'exit', exitCode: 0, signal: null, peakMemory: 300 * MB }) as AgentResult;

describe('MemoryGate', () => {
  it('holds a candidate whose expected peak does not fit beside the reservations, with the figures', () => {
    const runs = new Map([['a', run('a')], ['b', run('b')], ['c', run('c', 'queued')]]);
    const gate = new MemoryGate(runs, fakeMonitor(300 * MB, { a: 100 * MB, b: 100 * MB }));
    // 100 MB outside the agents + 2 × 300 MB reserved + 300 MB > 850 MB.
    const hold = gate.canAdmit({ id: 'c' } as Parameters<MemoryGate['canAdmit']>[0]);
    expect(hold).not.toBe(true);
    expect(hold).toMatchObject({ memory: { expected: 300 * MB, source: 'option', reserved: 600 * MB, baseline: 100 * MB } });
  });

  it('counts an ended agent\'s memory as free at once, not a tick later, and only until the next tick', () => {
    const runs = new Map([['a', run('a')], ['b', run('b')], ['c', run('c', 'queued')]]);
    const monitor = fakeMonitor(500 * MB, { a: 200 * MB, b: 200 * MB });
    const gate = new MemoryGate(runs, monitor);
    const candidate = { id: 'c' } as Parameters<MemoryGate['canAdmit']>[0];
    expect(gate.canAdmit(candidate)).not.toBe(true);
    // b ends: the last tick's 500 MB still holds its 200 MB, but no run reserves it any more.
    runs.delete('b');
    gate.ended(undefined, exited('b'));
    expect(gate.canAdmit(candidate)).toBe(true);
    // A new tick's figure is taken as it is: b's credit belonged to the old one. Here the kernel still
    // holds 300 MB outside a's 200 MB (b's memory not released yet), so c must wait.
    monitor.tick(500 * MB);
    expect(gate.canAdmit(candidate)).not.toBe(true);
    expect(gate.book.learned()).toBe(300 * MB);
  });
});
