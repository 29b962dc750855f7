/** An agent's limits: the host's over the defaults, a spawn's over the host's; memory.high follows a new memory.max at ¾. */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { hostLimits, layerLimits } from '../../../src/host/agent-limits.js';

describe('agent limits', () => {
  it('defaults: 4G max, 3G high, no swap, 512 processes', () => {
    expect(hostLimits(undefined)).toEqual({ memoryMax: '4G', memoryHigh: '3G', swapMax: 0, pidsMax: 512 });
  });

  it('a memoryMax without memoryHigh brings memory.high to ¾ of it, on the host and per spawn', () => {
    const host = hostLimits({ memoryMax: '8G' });
    expect(host.memoryHigh).toBe(6 * 1024 ** 3);
    expect(layerLimits(host, { memoryMax: '256M' })).toMatchObject({ memoryMax: '256M', memoryHigh: 192 * 1024 ** 2, pidsMax: 512 });
    expect(layerLimits(host, { memoryMax: 'max' }).memoryHigh).toBe('max');
  });

  it('a memoryHigh given is kept; other keys inherit', () => {
    expect(layerLimits(hostLimits(undefined), { memoryMax: '1G', memoryHigh: '900M' })).toMatchObject({ memoryMax: '1G', memoryHigh: '900M' });
    expect(layerLimits(hostLimits(undefined), { pidsMax: 64 })).toMatchObject({ memoryMax: '4G', memoryHigh: '3G', pidsMax: 64 });
  });

  it('bad sizes are typed errors', () => {
    expect(() => layerLimits(hostLimits(undefined), { memoryMax: '4XB' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_SIZE }));
  });
});
