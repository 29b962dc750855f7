/** The options of an AgentHost, of one spawn and of one kill: every default documented here and in docs/host.md. */
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Limits } from '../cgroup/limits.js';
import { resolveLimits } from '../cgroup/limits.js';
import { prepareSpawn, type SpawnOptions } from '../cgroup/spawn.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { layerLimits } from './agent-limits.js';
import type { RunSpec } from './run-contract.js';
import type { MemoryMonitorOptions } from '../monitor/index.js';
import type { PreflightOptions } from '../setup/index.js';
import { TimeoutPolicy, type TimeoutOptions } from '../timeout/index.js';
import type { AgentUser, AgentUsers, AgentUsersOptions } from '../users/index.js';
import { parseDuration, type Duration } from '../util/duration.js';
import { parseSize, type Size } from '../util/size.js';
import type { KillReason } from './events.js';
import type { PreflightMode } from './host-preflight.js';
import type { Logger } from './logger.js';
import { validateProfile, type PeakBookOptions } from './peaks.js';
import type { PlacementOptions } from './placement.js';
import type { WorkspacePoolOptions } from './workspaces.js';

/** Options of an {@link AgentHost}: every one has a default; docs/host.md has the table. */
export interface AgentHostOptions extends PlacementOptions {
  /** The agents' root cgroup; default: chosen by the delegation rules (see docs/host.md). */
  cgroupRoot?: string | Cgroup;
  /** Name of the agents' root when the host chooses it. Default `nova-agents`. */
  rootName?: string;
  /**
   * Per-agent limits. Default memoryMax 4G, memoryHigh 3G, swapMax 0, pidsMax 512: a Rust build
   * needs 1–2G, tests with coverage 1–2G, plus 1G headroom. A `memoryMax` without `memoryHigh`
   * brings memory.high to ¾ of it.
   */
  limits?: Limits;
  /** Agents running at once; more wait in the queue. Default `Infinity` (memory admission still applies). */
  maxConcurrent?: number;
  /** A pool of workspace directories leased one agent at a time (`{ root, slots: 500 }`); off by default. */
  workspaces?: WorkspacePoolOptions;
  /** Where agent records for reattaching live. Default: `$XDG_RUNTIME_DIR` or `/run` (root) or the temp dir, `/nova-agent-host/<root hash>`. */
  stateDir?: string;
  /** SIGTERM-to-SIGKILL grace period of a graceful kill. Default `10s`: time to save state and exit. */
  killGrace?: Duration;
  /** memory.min of the orchestrator's supervisor leaf (v2 delegated subtrees). Default `128M`. */
  supervisorMemoryMin?: Size;
  /** How often to look for OOM kills and exits where the kernel sends no file events (v1). Default `1s`. */
  pollInterval?: Duration;
  /**
   * Soft and hard timeouts of every agent. Default: SIGUSR1 at 15 min, SIGTERM to every process
   * at 30 min, the cgroup killed 10 s later. `false`: none.
   */
  timeouts?: TimeoutPolicy | TimeoutOptions | false;
  /**
   * The memory monitor: host levels (85 % stops admission, 95 % is critical), per-agent throttling and
   * livelock detection, opt-in `autoKill`. Default: on, with its defaults. `false`: off (no admission control).
   */
  monitor?: MemoryMonitorOptions | false;
  /**
   * Admission by expected peak (with the monitor on): an agent starts only if its expected peak
   * fits under the monitor's `high` × the budget beside what the admitted agents reserve (each the
   * larger of its working set and its expected peak). Peaks are learned from agents that ran to
   * their end, per spawn `profile` and of all agents, and kept in the state directory (a restarted
   * orchestrator still knows them). Default on: `{ keep: 20, keepAll: 100, percentile: 0.9 }`.
   * `false`: admit by the monitor's level alone (the previous release).
   */
  peaks?: PeakBookOptions | false;
  /**
   * Host preflight on `start()` (swap, cgroup mode, controllers, kernel parameters): `refuse` (default)
   * throws `ERR_PREFLIGHT_FAILED` when a failing check would make isolation a lie — e.g. swap on while
   * `swapMax: 0` cannot be enforced — `warn` logs and emits it as `preflight`, `off` skips it.
   */
  preflight?: PreflightMode | (PreflightOptions & { mode?: Exclude<PreflightMode, 'off'> });
  /**
   * Fork each agent from inside its new cgroup (see {@link SpawnOptions.forkInside}); a spawn's own
   * `forkInside` wins. Default `true`. Set `false` if worker threads of the orchestrator start processes.
   */
  forkInside?: boolean;
  /**
   * The user every agent runs as (a spawn's own `user` wins): `'dynamic'` (a uid of its own, leased
   * for its life), `{ uid, gid }`, a user name, or `'root'` (the orchestrator's own user, unchanged).
   * Default: `'dynamic'` when the orchestrator runs as root — an agent running as root could raise
   * its own limits and leave its cgroup — otherwise the orchestrator's own user (it cannot change users).
   */
  user?: AgentUser;
  /** The dynamic users' range (`{ first: 200000, count: 500 }`), their lease directory, where HOMEs go. */
  users?: AgentUsersOptions;
  /** pino-compatible; silent by default. */
  logger?: Logger;
}

/** What to run as an agent and how: the command, its limits, priority and workspace, plus {@link SpawnOptions}. */
export interface SpawnAgentOptions extends SpawnOptions {
  /** The executable, looked up on the agent's PATH (`ERR_SPAWN_NOT_FOUND` before anything is created). */
  command: string;
  /** Its arguments, passed as they are (no shell). */
  args?: readonly string[];
  /** Lease a workspace slot and use it as `cwd` (unless `cwd` is given). Needs `workspaces` on the host. */
  workspace?: boolean;
  /** Overrides of the host's limits for this agent; a `memoryMax` without `memoryHigh` brings memory.high to ¾ of it. */
  limits?: Limits;
  /** Higher runs first from the queue and is killed last by memory relief. Default 0. */
  priority?: number;
  /** Never chosen by memory relief, never frozen by the pause policy. */
  protected?: boolean;
  /** Chosen first by memory relief. */
  preferred?: boolean;
  /**
   * The memory this agent is expected to need at its worst (`'2G'`): admission reserves it before
   * the agent has grown. Default: what the host learned from agents of the same `profile`, else of
   * all agents, else the agent's `memoryHigh`. At most its `memoryMax`.
   */
  expectedMemory?: Size;
  /**
   * Agents alike in memory (a repository plus a task kind: `'repo-x:test'`): the host learns their
   * peaks together and expects the next one's from them. Up to 200 characters.
   */
  profile?: string;
  /** Keep the cgroup after exit for post-mortem (delete it yourself). Default `false`. */
  keepCgroup?: boolean;
  /** Cancels the spawn while it waits in the queue; kills the agent once it runs. */
  signal?: AbortSignal;
  /** When admission is paused (memory high): wait (default) or fail at once with `ERR_ADMISSION_REFUSED`. */
  admission?: 'wait' | 'fail';
  /** Give up waiting in the queue after this long (`ERR_ADMISSION_TIMEOUT`). Default: wait forever. */
  queueTimeout?: Duration;
  /** This agent's timeouts over the host's (`{ hard: '1h' }`), a policy, or `false` for none. Time counts from the start of the run. */
  timeouts?: TimeoutPolicy | TimeoutOptions | false;
  /**
   * The user this agent runs as, over the host's `user`. Its HOME is its workspace, or a directory
   * of its own removed when it ends. (`uid`/`gid` are set from it: give `user`, not those.)
   */
  user?: AgentUser;
}

/** Options of {@link AgentHost.kill}. */
export interface AgentKillOptions {
  /** SIGKILL at once (no grace). */
  force?: boolean;
  /** SIGTERM-to-SIGKILL grace of this kill. Default: the host's `killGrace`. */
  grace?: Duration;
  /** Becomes the agent's `result.reason`. Default `killed`. */
  reason?: KillReason;
  /** Carried in the `kill` event. */
  details?: Record<string, unknown>;
}

/** The host's defaults a spawn's options are resolved over. */
export interface SpawnDefaults {
  readonly limits: Limits;
  readonly timeouts: TimeoutPolicy | undefined;
  readonly killGrace: number;
  readonly forkInside: boolean | undefined;
  /** Whether the host has a workspace pool. */
  readonly pool: boolean;
  /** Validates a spawn's `user` (typed errors, nothing leased). Default: no check. */
  readonly users?: Pick<AgentUsers, 'resolve'>;
}

/**
 * Validates one spawn's options over the host's defaults (typed errors) and looks the command and
 * cwd up, so a bad spawn fails before anything is created or queued (a slot to be leased has no cwd yet).
 */
export function resolveSpawn(id: string, options: SpawnAgentOptions, defaults: SpawnDefaults): { spec: RunSpec; queueTimeout: number | undefined } {
  if (options === null || typeof options !== 'object' || typeof options.command !== 'string') {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'spawn options need a `command` string');
  }
  // A string would be spread into one argument per character.
  if (options.args !== undefined && !Array.isArray(options.args)) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'args must be an array of strings (no shell parses them)');
  }
  const limits = layerLimits(defaults.limits, options.limits);
  if (options.workspace && !defaults.pool) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'workspace: true needs the host option `workspaces`');
  defaults.users?.resolve(options.user);
  const priority = options.priority ?? 0;
  if (!Number.isFinite(priority)) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'priority must be a finite number');
  const timeouts = TimeoutPolicy.from(options.timeouts, defaults.timeouts);
  const queueTimeout = options.queueTimeout === undefined ? undefined : parseDuration(options.queueTimeout, 'queueTimeout');
  const args = [...(options.args ?? [])];
  const profile = validateProfile(options.profile);
  const expectedMemory = options.expectedMemory === undefined ? undefined : parseSize(options.expectedMemory, 'expectedMemory');
  if (expectedMemory === Infinity) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'expectedMemory must be a size, not "max"');
  const { memoryHigh, memoryMax } = resolveLimits(limits);
  prepareSpawn(options.command, args, options);
  return {
    spec: {
      info: { id, command: options.command, args, priority, protected: options.protected ?? false, preferred: options.preferred ?? false, ...(profile !== undefined && { profile }), ...(expectedMemory !== undefined && { expectedMemory }) },
      limits,
      peak: { expectedMemory, profile, memoryHigh, memoryMax },
      spawn: { forkInside: defaults.forkInside, ...options },
      workspace: options.workspace ?? false,
      user: options.user,
      keepCgroup: options.keepCgroup ?? false,
      timeouts,
      killGrace: defaults.killGrace,
    },
    queueTimeout,
  };
}
