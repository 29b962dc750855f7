/** `TimeoutPolicy`: validated, immutable timeout settings, shared by every agent that uses them. */
import { AgentHostError, ErrorCode } from '../errors.js';
import { checkOptionsObject, resolveTimeoutOptions, type SoftTarget, type TimeoutOptions } from './options.js';
import { ArmedTimeout, type ArmOptions, type TimeoutTarget, type TimeoutTimer } from './timer.js';

/**
 * Soft and hard timeouts of agents: at `soft`, the soft signal (a warning to wrap up); at `hard`,
 * the hard signal to every process in the agent's cgroup, then after `grace` the cgroup is killed.
 *
 * ```ts
 * const policy = new TimeoutPolicy({ soft: '15m', hard: '30m', grace: '10s' });
 * const quick = policy.with({ soft: '1m', hard: '2m' }); // a per-agent override
 * ```
 *
 * Throws `ERR_INVALID_DURATION` or `ERR_INVALID_OPTION` (see {@link TimeoutOptions}).
 */
export class TimeoutPolicy {
  /** Soft timeout in ms; `undefined`: none. */
  readonly soft: number | undefined;
  /** Hard timeout in ms; `undefined`: none. */
  readonly hard: number | undefined;
  /** Ms between the hard signal and the cgroup kill. */
  readonly grace: number;
  readonly softSignal: NodeJS.Signals;
  readonly hardSignal: NodeJS.Signals;
  readonly softTarget: SoftTarget;

  /** Validates every option now, so a bad duration fails at configuration rather than at an agent's start. */
  constructor(options: TimeoutOptions = {}) {
    const resolved = resolveTimeoutOptions(options);
    this.soft = resolved.soft;
    this.hard = resolved.hard;
    this.grace = resolved.grace;
    this.softSignal = resolved.softSignal;
    this.hardSignal = resolved.hardSignal;
    this.softTarget = resolved.softTarget;
    // One policy is shared by many agents: nobody may change it under them.
    Object.freeze(this);
  }

  /**
   * The policy for `value` over `fallback` (a per-agent setting over the host's default):
   * `undefined` → `fallback`; `false` → `undefined` (no timeouts); a `TimeoutPolicy` → itself;
   * options → `fallback.with(options)`, or `new TimeoutPolicy(options)` without a fallback.
   */
  static from(value: TimeoutPolicy | TimeoutOptions | false | undefined, fallback?: TimeoutPolicy): TimeoutPolicy | undefined {
    if (value === undefined) return fallback;
    if (value === false) return undefined;
    if (value instanceof TimeoutPolicy) return value;
    if (typeof value !== 'object' || value === null) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'timeouts must be a TimeoutPolicy, an options object such as { hard: "30m" }, or false');
    }
    return fallback ? fallback.with(value) : new TimeoutPolicy(value);
  }

  /** A copy with `overrides` applied; keys that are absent or `undefined` keep this policy's value. */
  with(overrides: TimeoutOptions): TimeoutPolicy {
    checkOptionsObject(overrides);
    const merged: TimeoutOptions = this.toJSON();
    for (const [key, value] of Object.entries(overrides)) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
    return new TimeoutPolicy(merged);
  }

  /**
   * Starts the clock for one agent. Call it when the agent starts running, not when it is
   * queued, and `clear()` the timer when the agent exits.
   */
  arm(target: TimeoutTarget, options?: ArmOptions): TimeoutTimer {
    return new ArmedTimeout(this, target, options);
  }

  /** The options that make this policy (durations in ms, `false` for none). */
  toJSON(): Required<TimeoutOptions> {
    return {
      soft: this.soft ?? false,
      hard: this.hard ?? false,
      grace: this.grace,
      softSignal: this.softSignal,
      hardSignal: this.hardSignal,
      softTarget: this.softTarget,
    };
  }
}
