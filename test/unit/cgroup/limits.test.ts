import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { DEFAULT_AGENT_LIMITS, resolveLimits, v1LimitWrites, v2LimitWrites, type Limits } from '../../../src/cgroup/limits.js';

const M = 2 ** 20;
const G = 2 ** 30;
/** The v1 kernel's way of saying "no limit" on write. */
const V1_UNLIMITED = '-1';

describe('resolveLimits', () => {
  it('turns sizes into bytes, "max" into Infinity, and keeps the rest', () => {
    expect(
      resolveLimits({ memoryMax: '4G', memoryHigh: '3GiB', swapMax: 0, pidsMax: 512, memoryMin: '128M', memoryLow: 'max', oomGroup: true }),
    ).toEqual({ memoryMax: 4 * G, memoryHigh: 3 * G, swapMax: 0, pidsMax: 512, memoryMin: 128 * M, memoryLow: Infinity, oomGroup: true });
    expect(resolveLimits({ pidsMax: 'max', memoryMax: 'max' })).toEqual({ pidsMax: Infinity, memoryMax: Infinity });
    expect(resolveLimits({})).toEqual({});
  });

  it('resolves the seed defaults: 4G max, 3G high, no swap, 512 processes', () => {
    expect(resolveLimits(DEFAULT_AGENT_LIMITS)).toEqual({ memoryMax: 4 * G, memoryHigh: 3 * G, swapMax: 0, pidsMax: 512 });
  });

  it.each<[string, Limits, string]>([
    ['a zero memory limit (kills on sight)', { memoryMax: 0 }, ErrorCode.INVALID_SIZE],
    ['a zero memory.high', { memoryHigh: '0' }, ErrorCode.INVALID_SIZE],
    ['a bad size', { memoryMax: '4XB' }, ErrorCode.INVALID_SIZE],
    ['a negative swap', { swapMax: -1 }, ErrorCode.INVALID_SIZE],
    ['NaN memory.min', { memoryMin: NaN }, ErrorCode.INVALID_SIZE],
    ['zero processes', { pidsMax: 0 }, ErrorCode.INVALID_OPTION],
    ['a fractional pid count', { pidsMax: 1.5 }, ErrorCode.INVALID_OPTION],
    ['a pid count as a string', { pidsMax: '512' as unknown as number }, ErrorCode.INVALID_OPTION],
    ['Infinity processes', { pidsMax: Infinity }, ErrorCode.INVALID_OPTION],
    ['a non-boolean oomGroup', { oomGroup: 1 as unknown as boolean }, ErrorCode.INVALID_OPTION],
    ['null', null as unknown as Limits, ErrorCode.INVALID_OPTION],
  ])('rejects %s', (_what, limits, code) => {
    expect(() => resolveLimits(limits)).toThrow(expect.objectContaining({ code }));
  });

  it('names the limit in the error', () => {
    expect(() => resolveLimits({ memoryHigh: 'lots' })).toThrow(/memoryHigh/);
  });
});

describe('v2LimitWrites', () => {
  it('writes every limit to its v2 file, protection first, high before max', () => {
    const writes = v2LimitWrites(
      resolveLimits({ memoryMax: '4G', memoryHigh: '3G', swapMax: 0, pidsMax: 512, memoryMin: '128M', memoryLow: '256M', oomGroup: true }),
    );
    expect(writes).toEqual([
      { hierarchy: 'unified', file: 'memory.min', value: String(128 * M), optional: false },
      { hierarchy: 'unified', file: 'memory.low', value: String(256 * M), optional: false },
      { hierarchy: 'unified', file: 'memory.high', value: String(3 * G), optional: false },
      { hierarchy: 'unified', file: 'memory.max', value: String(4 * G), optional: false },
      // No swap accounting, no memory.swap.max, and no swap to limit: skipping it is right.
      { hierarchy: 'unified', file: 'memory.swap.max', value: '0', optional: true },
      { hierarchy: 'unified', file: 'pids.max', value: '512', optional: false },
      { hierarchy: 'unified', file: 'memory.oom.group', value: '1', optional: false },
    ]);
  });

  it('writes "max" for unlimited values and 0 for oomGroup false', () => {
    expect(v2LimitWrites(resolveLimits({ memoryMax: 'max', pidsMax: 'max', oomGroup: false }))).toEqual([
      { hierarchy: 'unified', file: 'memory.max', value: 'max', optional: false },
      { hierarchy: 'unified', file: 'pids.max', value: 'max', optional: false },
      { hierarchy: 'unified', file: 'memory.oom.group', value: '0', optional: false },
    ]);
  });

  it('writes nothing for no limits', () => {
    expect(v2LimitWrites({})).toEqual([]);
  });
});

describe('v1LimitWrites', () => {
  it('translates to memory.limit_in_bytes, soft limit, memsw = max + swap and the pids hierarchy', () => {
    expect(v1LimitWrites(resolveLimits({ memoryMax: '4G', memoryHigh: '3G', swapMax: '1G', pidsMax: 512 }))).toEqual([
      { hierarchy: 'memory', file: 'memory.soft_limit_in_bytes', value: String(3 * G), optional: false },
      // memsw may never be below limit_in_bytes: lift it, set the limit, then lower it.
      { hierarchy: 'memory', file: 'memory.memsw.limit_in_bytes', value: V1_UNLIMITED, optional: true },
      { hierarchy: 'memory', file: 'memory.limit_in_bytes', value: String(4 * G), optional: false },
      { hierarchy: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(5 * G), optional: true },
      { hierarchy: 'pids', file: 'pids.max', value: '512' },
    ]);
  });

  it('sets memsw to the memory limit for swap 0 (no swap at all)', () => {
    const writes = v1LimitWrites(resolveLimits({ memoryMax: '64M', swapMax: 0 }));
    expect(writes.map((w) => [w.file, w.value])).toEqual([
      ['memory.memsw.limit_in_bytes', V1_UNLIMITED],
      ['memory.limit_in_bytes', String(64 * M)],
      ['memory.memsw.limit_in_bytes', String(64 * M)],
    ]);
  });

  it('keeps every step valid whatever the current values: memsw is never below the limit', () => {
    // Simulate the kernel's rule (memsw >= limit) from both a lower and a higher starting point.
    for (const start of [
      { limit: 32 * M, memsw: 32 * M },
      { limit: 8 * G, memsw: 8 * G },
    ]) {
      const state = { ...start };
      for (const write of v1LimitWrites(resolveLimits({ memoryMax: '1G', swapMax: 0 }))) {
        const value = write.value === V1_UNLIMITED ? Infinity : Number(write.value);
        if (write.file === 'memory.limit_in_bytes') state.limit = value;
        if (write.file === 'memory.memsw.limit_in_bytes') state.memsw = value;
        expect(state.memsw, `after writing ${write.file}=${write.value}`).toBeGreaterThanOrEqual(state.limit);
      }
      expect(state).toEqual({ limit: G, memsw: G });
    }
  });

  it('writes -1 for unlimited memory, "max" for unlimited pids', () => {
    expect(v1LimitWrites(resolveLimits({ memoryMax: 'max', memoryHigh: 'max', swapMax: 0, pidsMax: 'max' }))).toEqual([
      { hierarchy: 'memory', file: 'memory.soft_limit_in_bytes', value: V1_UNLIMITED, optional: false },
      { hierarchy: 'memory', file: 'memory.memsw.limit_in_bytes', value: V1_UNLIMITED, optional: true },
      { hierarchy: 'memory', file: 'memory.limit_in_bytes', value: V1_UNLIMITED, optional: false },
      { hierarchy: 'memory', file: 'memory.memsw.limit_in_bytes', value: V1_UNLIMITED, optional: true },
      { hierarchy: 'pids', file: 'pids.max', value: 'max' },
    ]);
  });

  it('drops what v1 cannot express: memory.min, memory.low, oomGroup', () => {
    expect(v1LimitWrites(resolveLimits({ memoryMin: '128M', memoryLow: '1G', oomGroup: true }))).toEqual([]);
  });

  it('leaves memsw alone when only the memory limit changes', () => {
    expect(v1LimitWrites(resolveLimits({ memoryMax: '2G' }))).toEqual([
      { hierarchy: 'memory', file: 'memory.limit_in_bytes', value: String(2 * G), optional: false },
    ]);
  });
});
