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
      livelock: { highPressure: 40, duration: 10_000, action: 'event' },
      samples: 60,
      procRoot: '/proc',
      readMemory: undefined,
    });
    expect(o.victimPolicy).toBe(defaultVictimPolicy);
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
  ])('refuses %s', (_, options, code) => {
    expect(() => resolveMonitorOptions(options)).toThrow(expect.objectContaining({ code }));
  });
});

describe('resolveRelieveOptions', () => {
  const defaults = resolveMonitorOptions({ reliefTarget: 0.7, cooldown: 500 });

  it('takes the monitor defaults and a percentage target', () => {
    expect(resolveRelieveOptions({}, defaults)).toEqual({ target: 0.7, dryRun: false, maxKills: Infinity, cooldown: 500 });
    expect(resolveRelieveOptions({ targetPercent: 75, dryRun: true, maxKills: 2, cooldown: '1s' }, defaults)).toEqual({
      target: 0.75,
      dryRun: true,
      maxKills: 2,
      cooldown: 1000,
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
