import { describe, expect, it } from 'vitest';
import { ErrorCode, isAgentHostError } from '../../../src/errors.js';
import { TimeoutPolicy, type TimeoutOptions } from '../../../src/timeout/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (isAgentHostError(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe('TimeoutPolicy options', () => {
  it('defaults to the seed: soft 15m SIGUSR1 to the main process, hard 30m SIGTERM, grace 10s', () => {
    const policy = new TimeoutPolicy();
    expect(policy.toJSON()).toEqual({
      soft: 15 * 60_000,
      hard: 30 * 60_000,
      grace: 10_000,
      softSignal: 'SIGUSR1',
      hardSignal: 'SIGTERM',
      softTarget: 'main',
    });
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it('takes numbers and strings, and false for none', () => {
    const policy = new TimeoutPolicy({ soft: 300, hard: '1m30s', grace: 0, softSignal: 'SIGINT', hardSignal: 'SIGKILL', softTarget: 'all' });
    expect([policy.soft, policy.hard, policy.grace, policy.softSignal, policy.hardSignal, policy.softTarget]).toEqual([
      300, 90_000, 0, 'SIGINT', 'SIGKILL', 'all',
    ]);
    expect(new TimeoutPolicy({ soft: false }).soft).toBeUndefined();
    expect(new TimeoutPolicy({ hard: false }).hard).toBeUndefined();
    expect(new TimeoutPolicy({ soft: '1h', hard: false }).soft).toBe(3_600_000);
  });

  const invalid: Array<[string, unknown, string]> = [
    ['soft 0', { soft: 0 }, ErrorCode.INVALID_DURATION],
    ['hard "0s"', { hard: '0s' }, ErrorCode.INVALID_DURATION],
    ['negative soft', { soft: -1 }, ErrorCode.INVALID_DURATION],
    ['NaN hard', { hard: Number.NaN }, ErrorCode.INVALID_DURATION],
    ['Infinity hard', { hard: Infinity }, ErrorCode.INVALID_DURATION],
    ['word', { soft: 'soon' }, ErrorCode.INVALID_DURATION],
    ['true as a duration', { soft: true }, ErrorCode.INVALID_DURATION],
    ['negative grace', { grace: -5 }, ErrorCode.INVALID_DURATION],
    ['grace false', { grace: false }, ErrorCode.INVALID_DURATION],
    ['soft equal to hard', { soft: '10m', hard: '10m' }, ErrorCode.INVALID_OPTION],
    ['soft after hard', { soft: '20m', hard: '10m' }, ErrorCode.INVALID_OPTION],
    ['hard below the default soft', { hard: '5m' }, ErrorCode.INVALID_OPTION],
    ['unknown signal', { softSignal: 'SIGFOO' }, ErrorCode.INVALID_OPTION],
    ['lower-case signal', { hardSignal: 'sigterm' }, ErrorCode.INVALID_OPTION],
    ['signal number', { hardSignal: 15 }, ErrorCode.INVALID_OPTION],
    ['uncatchable soft signal', { softSignal: 'SIGKILL' }, ErrorCode.INVALID_OPTION],
    ['bad softTarget', { softTarget: 'group' }, ErrorCode.INVALID_OPTION],
    ['typo in a key', { hrad: '10m' }, ErrorCode.INVALID_OPTION],
    ['not an object', 'soft', ErrorCode.INVALID_OPTION],
    ['null', null, ErrorCode.INVALID_OPTION],
  ];
  it.each(invalid)('rejects %s', (_name, options, code) => {
    expect(codeOf(() => new TimeoutPolicy(options as TimeoutOptions))).toBe(code);
  });

  it('names the problem in the message', () => {
    expect(() => new TimeoutPolicy({ hard: '5m' })).toThrow(/soft timeout \(900000 ms\) must be shorter than the hard timeout \(300000 ms\)/);
    expect(() => new TimeoutPolicy({ hrad: 1 } as TimeoutOptions)).toThrow(/unknown timeout option "hrad"/);
  });
});

describe('TimeoutPolicy.from and with', () => {
  const host = new TimeoutPolicy({ soft: '1m', hard: '2m', grace: '5s' });

  it('undefined keeps the fallback, false turns timeouts off, a policy replaces it', () => {
    expect(TimeoutPolicy.from(undefined, host)).toBe(host);
    expect(TimeoutPolicy.from(undefined)).toBeUndefined();
    expect(TimeoutPolicy.from(false, host)).toBeUndefined();
    const own = new TimeoutPolicy({ soft: false, hard: '1h' });
    expect(TimeoutPolicy.from(own, host)).toBe(own);
  });

  it('options merge over the fallback, or over the defaults without one', () => {
    const merged = TimeoutPolicy.from({ hard: '3m', softTarget: 'all' }, host)!;
    expect(merged.toJSON()).toEqual({ ...host.toJSON(), hard: 180_000, softTarget: 'all' });
    expect(TimeoutPolicy.from({ grace: '1s' })!.toJSON()).toEqual({ ...new TimeoutPolicy().toJSON(), grace: 1000 });
  });

  it('with() keeps absent and undefined keys, honours false, and validates the result', () => {
    expect(host.with({ soft: undefined }).soft).toBe(60_000);
    expect(host.with({ soft: false }).soft).toBeUndefined();
    expect(host.with({ soft: false }).with({}).soft).toBeUndefined();
    expect(codeOf(() => host.with({ hard: '30s' }))).toBe(ErrorCode.INVALID_OPTION);
    expect(codeOf(() => host.with({ hrad: '30s' } as TimeoutOptions))).toBe(ErrorCode.INVALID_OPTION);
    expect(host.soft).toBe(60_000); // unchanged
  });

  it('rejects other values', () => {
    expect(codeOf(() => TimeoutPolicy.from(true as never, host))).toBe(ErrorCode.INVALID_OPTION);
    expect(codeOf(() => TimeoutPolicy.from(null as never, host))).toBe(ErrorCode.INVALID_OPTION);
    expect(codeOf(() => TimeoutPolicy.from('30m' as never, host))).toBe(ErrorCode.INVALID_OPTION);
  });
});
