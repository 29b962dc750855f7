import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { HostMemoryReader, toHostMemory } from '../../../src/monitor/host-memory.js';
import { fakeTree } from '../../helpers/fake-tree.js';

const meminfo = (totalKb: number, availableKb: number): string =>
  `MemTotal:       ${totalKb} kB\nMemFree:         ${availableKb - 100} kB\nMemAvailable:   ${availableKb} kB\nBuffers:          100 kB\nHugePages_Total:       0\n`;
const psi = (full: number): string =>
  `some avg10=${full + 1}.00 avg60=0.00 avg300=0.00 total=10\nfull avg10=${full}.00 avg60=0.00 avg300=0.00 total=5\n`;

describe('HostMemoryReader', () => {
  it('reads /proc/meminfo and /proc/pressure/memory, and sees changes on every read', () => {
    const proc = fakeTree({ meminfo: meminfo(1000, 250), 'pressure/memory': psi(3) });
    const reader = new HostMemoryReader(proc.root);
    expect(reader.read()).toEqual({
      total: 1000 * 1024,
      available: 250 * 1024,
      used: 750 * 1024,
      usedRatio: 0.75,
      swapTotal: 0,
      swapFree: 0,
      pressure: { some: { avg10: 4, avg60: 0, avg300: 0, total: 10 }, full: { avg10: 3, avg60: 0, avg300: 0, total: 5 } },
      source: 'meminfo',
    });
    proc.write('meminfo', meminfo(1000, 100));
    proc.write('pressure/memory', psi(50));
    const again = reader.read();
    expect(again.usedRatio).toBeCloseTo(0.9);
    expect(again.pressure?.full?.avg10).toBe(50);
    reader.close();
  });

  it('leaves pressure out where the kernel has no PSI', () => {
    const proc = fakeTree({ meminfo: meminfo(1000, 500) });
    const reader = new HostMemoryReader(proc.root);
    const memory = reader.read();
    expect(memory.usedRatio).toBe(0.5);
    expect(memory).not.toHaveProperty('pressure');
    reader.close();
  });

  it('fails with ERR_HOST_MEMORY_UNAVAILABLE without meminfo or MemTotal', () => {
    const empty = fakeTree({ 'pressure/': '' });
    expect(() => new HostMemoryReader(empty.root).read()).toThrow(expect.objectContaining({ code: ErrorCode.HOST_MEMORY_UNAVAILABLE }));
    const broken = fakeTree({ meminfo: 'MemFree: 10 kB\n' });
    expect(() => new HostMemoryReader(broken.root).read()).toThrow(expect.objectContaining({ code: ErrorCode.HOST_MEMORY_UNAVAILABLE }));
  });
});

describe('toHostMemory', () => {
  it('estimates available memory on kernels before MemAvailable (3.14)', () => {
    expect(toHostMemory({ MemTotal: 1000, MemFree: 100, Buffers: 50, Cached: 250, SwapTotal: 20, SwapFree: 5 })).toEqual({
      total: 1000,
      available: 400,
      used: 600,
      usedRatio: 0.6,
      swapTotal: 20,
      swapFree: 5,
      source: 'meminfo',
    });
  });
});
