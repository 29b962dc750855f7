import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { resolveMonitorOptions, resolveRelieveOptions } from '../../../src/monitor/options.js';
import type { MemoryMonitorOptions, RelieveOptions } from '../../../src/monitor/types.js';
import { defaultVictimPolicy } from '../../../src/monitor/victims.js';

describe('resolveMonitorOptions', () => {
  it('has the documented defaults', () => {
    const o = resolveMonitorOptions();
    expect(o).toMatchObject({
      interval: 1000,
      high: 0.85,
      critical: 0.95,
      hysteresis: 0.02,
      autoKill: false,
      reliefTarget: 0.75,
      cooldown: 2000,
      autoKillMode: 'until-clear',
      releaseTimeout: 10_000,
      pause: { resumeBelow: 0.8, holdLimit: 60_000, order: 'newest' },
      eviction: { signal: 'SIGUSR2', minGrace: 2000, maxGrace: 30_000 },
      livelock: { highPressure: 40, duration: 10_000, action: 'event' },
      samples: 60,
      procRoot: '/proc',
      readMemory: undefined,
    });
    expect(o.victimPolicy).toBe(defaultVictimPolicy);
  });

  it('turns pause and eviction off with false (or eviction.signal false), and takes their options', () => {
    expect(resolveMonitorOptions({ pause: false, eviction: false })).toMatchObject({ pause: false, eviction: false });
    expect(resolveMonitorOptions({ eviction: { signal: false } }).eviction).toBe(false);
    expect(resolveMonitorOptions({ thresholds: { high: 0.7 }, pause: { holdLimit: '2m', order: 'fastest-growing' } }).pause).toMatchObject({
      resumeBelow: 0.65,
      holdLimit: 120_000,
      order: 'fastest-growing',
    });
    expect(resolveMonitorOptions({ eviction: { signal: 'SIGHUP', minGrace: '1s', maxGrace: '5s' } }).eviction).toEqual({ signal: 'SIGHUP', minGrace: 1000, maxGrace: 5000 });
  });

  it('accepts durations as strings', () => {
    const o = resolveMonitorOptions({ interval: '250ms', cooldown: '5s', livelock: { duration: '1m', action: 'kill', highPressure: 0 } });
    expect(o).toMatchObject({ interval: 250, cooldown: 5000, livelock: { duration: 60_000, action: 'kill', highPressure: 0 } });
  });

  it.each<[string, MemoryMonitorOptions, string]>([
    ['zero interval', { interval: 0 }, ErrorCode.INVALID_OPTION],
    ['bad interval', { interval: 'often' }, ErrorCode.INVALID_DURATION],
    ['high above 1', { thresholds: { high: 1.5 } }, ErrorCode.INVALID_OPTION],
    ['high as a percentage', { thresholds: { high: 85 } }, ErrorCode.INVALID_OPTION],
    ['critical below high', { thresholds: { high: 0.9, critical: 0.8 } }, ErrorCode.INVALID_OPTION],
    ['negative hysteresis', { hysteresis: -0.01 }, ErrorCode.INVALID_OPTION],
    ['hysteresis as large as high', { hysteresis: 0.85 }, ErrorCode.INVALID_OPTION],
    ['reliefTarget 0', { reliefTarget: 0 }, ErrorCode.INVALID_OPTION],
    ['highPressure above 100', { livelock: { highPressure: 101 } }, ErrorCode.INVALID_OPTION],
    ['unknown action', { livelock: { action: 'explode' as 'kill' } }, ErrorCode.INVALID_OPTION],
    ['fractional samples', { samples: 1.5 }, ErrorCode.INVALID_OPTION],
    ['zero samples', { samples: 0 }, ErrorCode.INVALID_OPTION],
    ['negative cooldown', { cooldown: -1 }, ErrorCode.INVALID_DURATION],
    ['unknown autoKillMode', { autoKillMode: 'all' as 'to-target' }, ErrorCode.INVALID_OPTION],
    ['resumeBelow at high', { pause: { resumeBelow: 0.85 } }, ErrorCode.INVALID_OPTION],
    ['unknown pause order', { pause: { order: 'random' as 'newest' } }, ErrorCode.INVALID_OPTION],
    ['an uncatchable notice signal', { eviction: { signal: 'SIGKILL' } }, ErrorCode.INVALID_OPTION],
    ['maxGrace below minGrace', { eviction: { minGrace: '10s', maxGrace: '5s' } }, ErrorCode.INVALID_OPTION],
  ])('refuses %s', (_, options, code) => {
    expect(() => resolveMonitorOptions(options)).toThrow(expect.objectContaining({ code }));
  });
});

describe('resolveRelieveOptions', () => {
  const defaults = resolveMonitorOptions({ reliefTarget: 0.7, cooldown: 500 });

  it('takes the monitor defaults and a percentage target', () => {
    const common = { cooldown: 500, until: 'target', clearBelow: 0.93, releaseAware: true, minRate: 1024 * 1024 };
    expect(resolveRelieveOptions({}, defaults)).toEqual({ ...common, target: 0.7, dryRun: false, maxKills: Infinity, settle: 0 });
    expect(resolveRelieveOptions({ targetPercent: 75, dryRun: true, maxKills: 2, cooldown: '1s' }, defaults)).toEqual({
      ...common,
      target: 0.75,
      dryRun: true,
      maxKills: 2,
      settle: 1000,
    });
  });

  it.each<[string, RelieveOptions]>([
    ['a fraction passed as a percentage', { targetPercent: 0.75 }],
    ['above 100', { targetPercent: 120 }],
    ['negative maxKills', { maxKills: -1 }],
    ['fractional maxKills', { maxKills: 1.5 }],
  ])('refuses %s', (_, options) => {
    expect(() => resolveRelieveOptions(options, defaults)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});
