/**
 * Timeout options: what a caller writes, and their validation into plain milliseconds. Kept
 * apart from the timer so both the policy and its merging share one set of rules.
 */
import { constants } from 'node:os';
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseDuration, type Duration } from '../util/duration.js';

/** Where the soft signal goes: the agent's main process only, or every process in its cgroup. */
export type SoftTarget = 'main' | 'all';

/**
 * How long an agent may run. Time counts from the start of its run, not from its queueing.
 *
 * The default: a warning (`SIGUSR1`) after 15 minutes — long enough for most tasks — `SIGTERM` to every
 * process after 30, and 10 seconds later the whole cgroup is killed.
 */
export interface TimeoutOptions {
  /** Soft timeout: send {@link softSignal} as a warning to wrap up. `false`: no soft timeout. Default `'15m'`. */
  soft?: Duration | false;
  /** Hard timeout: send {@link hardSignal} to every process, then kill after {@link grace}. `false`: none. Default `'30m'`. */
  hard?: Duration | false;
  /** Time between the hard signal and the cgroup kill; `0` kills at once. Default `'10s'`. */
  grace?: Duration;
  /** Signal of the soft timeout; must be one a process can catch (not `SIGKILL`/`SIGSTOP`). Default `'SIGUSR1'`. */
  softSignal?: NodeJS.Signals;
  /** Signal of the hard timeout, sent to every process in the cgroup. Default `'SIGTERM'`. */
  hardSignal?: NodeJS.Signals;
  /** Who gets the soft signal. Default `'main'`: shells and build tools below the agent are not woken by it. */
  softTarget?: SoftTarget;
}

/** {@link TimeoutOptions} after validation: milliseconds, `undefined` for "none". */
export interface ResolvedTimeoutOptions {
  soft: number | undefined;
  hard: number | undefined;
  grace: number;
  softSignal: NodeJS.Signals;
  hardSignal: NodeJS.Signals;
  softTarget: SoftTarget;
}

/** The default timeouts: SIGUSR1 at 15 minutes, SIGTERM at 30, the cgroup killed 10 s later. */
export const DEFAULT_TIMEOUTS = Object.freeze({
  soft: '15m',
  hard: '30m',
  grace: '10s',
  softSignal: 'SIGUSR1',
  hardSignal: 'SIGTERM',
  softTarget: 'main',
} as const satisfies Required<TimeoutOptions>);

const KEYS = new Set<string>(Object.keys(DEFAULT_TIMEOUTS));
// A warning the agent cannot catch would end it instead of warning it.
const UNCATCHABLE = new Set<string>(['SIGKILL', 'SIGSTOP']);

/**
 * Validates `options` over the defaults. Throws `ERR_INVALID_DURATION` for a duration that is
 * not a finite number > 0 (grace: >= 0), and `ERR_INVALID_OPTION` for anything else: unknown
 * keys, soft not shorter than hard, unknown signal names, a bad `softTarget`.
 */
export function resolveTimeoutOptions(options: TimeoutOptions = {}): ResolvedTimeoutOptions {
  checkOptionsObject(options);
  const soft = deadline(options.soft ?? DEFAULT_TIMEOUTS.soft, 'soft timeout');
  const hard = deadline(options.hard ?? DEFAULT_TIMEOUTS.hard, 'hard timeout');
  if (soft !== undefined && hard !== undefined && soft >= hard) {
    throw new AgentHostError(
      ErrorCode.INVALID_OPTION,
      `soft timeout (${soft} ms) must be shorter than the hard timeout (${hard} ms): set soft below hard, or soft: false ` +
        `(the defaults are soft ${DEFAULT_TIMEOUTS.soft}, hard ${DEFAULT_TIMEOUTS.hard})`,
    );
  }
  const softTarget = options.softTarget ?? DEFAULT_TIMEOUTS.softTarget;
  if (softTarget !== 'main' && softTarget !== 'all') {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `invalid softTarget ${JSON.stringify(softTarget)}: expected "main" or "all"`);
  }
  const softSignal = signal(options.softSignal ?? DEFAULT_TIMEOUTS.softSignal, 'softSignal');
  if (UNCATCHABLE.has(softSignal)) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `softSignal ${softSignal} cannot be caught, so it cannot warn the agent; use SIGUSR1 or another catchable signal`);
  }
  return {
    soft,
    hard,
    grace: parseDuration(options.grace ?? DEFAULT_TIMEOUTS.grace, 'grace period'),
    softSignal,
    hardSignal: signal(options.hardSignal ?? DEFAULT_TIMEOUTS.hardSignal, 'hardSignal'),
    softTarget,
  };
}

/** Throws unless `options` is a plain options object with known keys only (a typo must not disable a timeout). */
export function checkOptionsObject(options: unknown): asserts options is TimeoutOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'timeout options must be an object such as { soft: "15m", hard: "30m" }');
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `unknown timeout option ${JSON.stringify(key)}: expected one of ${[...KEYS].join(', ')}`);
    }
  }
}

function deadline(value: Duration | false, what: string): number | undefined {
  if (value === false) return undefined;
  const ms = parseDuration(value, what);
  if (ms <= 0) {
    throw new AgentHostError(ErrorCode.INVALID_DURATION, `invalid ${what} ${JSON.stringify(value)}: must be greater than 0 (use false for none)`);
  }
  return ms;
}

function signal(value: unknown, what: string): NodeJS.Signals {
  if (typeof value === 'string' && Object.hasOwn(constants.signals, value)) return value as NodeJS.Signals;
  throw new AgentHostError(ErrorCode.INVALID_OPTION, `invalid ${what} ${JSON.stringify(value)}: expected a signal name such as "SIGUSR1" or "SIGTERM"`);
}
