/**
 * AgentHost: the seed's spawn / kill / run-in-cgroup / check / status scripts as one API.
 * Each agent runs in its own cgroup with the seed's limits; spawns beyond `maxConcurrent`
 * (or while memory admission is paused) wait in a priority queue.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { Cgroup } from '../cgroup/cgroup.js';
import type { SpawnOptions, Subprocess } from '../cgroup/spawn.js';
import { DEFAULT_AGENT_LIMITS, resolveLimits, type Limits } from '../cgroup/limits.js';
import { NO_MEMORY_EVENTS, type CgroupWatcher } from '../cgroup/watch.js';
import { AgentHostError, ErrorCode, isAgentHostError } from '../errors.js';
import { parseDuration, type Duration } from '../util/duration.js';
import { Emitter } from '../util/emitter.js';
import { validateName } from '../util/name.js';
import type { Size } from '../util/size.js';
import { Agent, type AgentResult, type KillReason } from './agent.js';
import type { AgentHostEvents, KillEvent, QueueEvent } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { placeAgents, type Placement } from './placement.js';
import { buildMemoryReport, buildStatus, type MemoryReport, type HostStatus } from './report.js';
import { StateStore, type AgentRecord } from './state.js';
import { isAlive, WorkspacePool, type WorkspacePoolOptions } from './workspaces.js';
import { AgentUsers, userSpawnOptions, type AgentUser, type AgentUserRecord, type AgentUsersOptions } from '../users/index.js';
import { TimeoutPolicy, type TimeoutOptions, type TimeoutTimer } from '../timeout/index.js';
import { signalQuietly } from '../cgroup/v2.js';
import { AGENT_CGROUP_ENV } from '../agent/locate.js';
import { assertIsolation, preflight, type PreflightOptions, type PreflightReport } from '../setup/index.js';

/** What `start()` does with failing preflight checks. */
export type PreflightMode = 'refuse' | 'warn' | 'off';
import { toHostMemory } from '../monitor/host-memory.js';
import { parseMeminfo } from '../cgroup/parse.js';
import { MemoryMonitor, type HostMemory, type MemoryMonitorOptions, type ReliefReport, type RelieveOptions } from '../monitor/index.js';

/** The environment variables every agent gets, so its harness can find its own cgroup (`nova-agent-host/agent` reads them). */
export const AGENT_ID_ENV = 'NOVA_AGENT_ID';
export { AGENT_CGROUP_ENV };

/** Options of an {@link AgentHost}: every one has a default (the seed's values); docs/host.md has the table. */
export interface AgentHostOptions {
  /** The agents' root cgroup; default: chosen by the delegation rules (see docs/host.md). */
  cgroupRoot?: string | Cgroup;
  /** Name of the agents' root when the host chooses it. Default `nova-agents`. */
  rootName?: string;
  /** Per-agent limits. Default: the seed's — memoryMax 4G, memoryHigh 3G, swapMax 0, pidsMax 512. */
  limits?: Limits;
  /** Agents running at once; more wait in the queue. Default `Infinity` (memory admission still applies). */
  maxConcurrent?: number;
  /** The seed's workspace pool (`{ root, slots: 500 }`); off by default. */
  workspaces?: WorkspacePoolOptions;
  /** Where agent records for reattaching live. Default: `$XDG_RUNTIME_DIR` or `/run` (root) or the temp dir, `/nova-agent-host/<root hash>`. */
  stateDir?: string;
  /** SIGTERM-to-SIGKILL grace period of a graceful kill. Default `10s`, as in the seed. */
  killGrace?: Duration;
  /** memory.min of the orchestrator's supervisor leaf (v2 delegated subtrees). Default `128M`. */
  supervisorMemoryMin?: Size;
  /** How often to look for OOM kills and exits where the kernel sends no file events (v1). Default `1s`. */
  pollInterval?: Duration;
  /**
   * Soft and hard timeouts of every agent. Default: the seed's — SIGUSR1 at 15 min, SIGTERM to every
   * process at 30 min, the cgroup killed 10 s later. `false`: none.
   */
  timeouts?: TimeoutPolicy | TimeoutOptions | false;
  /**
   * The memory monitor: host levels (85 % stops admission, 95 % is critical), per-agent throttling and
   * livelock detection, opt-in `autoKill`. Default: on, with its defaults. `false`: off (no admission control).
   */
  monitor?: MemoryMonitorOptions | false;
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
  /** Overrides of the host's limits for this agent. */
  limits?: Limits;
  /** Higher runs first from the queue and is killed last by memory relief. Default 0. */
  priority?: number;
  /** Never chosen by memory relief. */
  protected?: boolean;
  /** Chosen first by memory relief. */
  preferred?: boolean;
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

interface Running {
  agent: Agent;
  cgroup: Cgroup;
  watcher: CgroupWatcher;
  subprocess?: Subprocess;
  workspace?: string;
  /** Who it runs as, when not the orchestrator's user: released (uid lease, HOME) when it ends. */
  user?: AgentUserRecord;
  keepCgroup: boolean;
  killReason?: KillReason;
  killing?: Promise<void>;
  oomReported: number;
  timer?: TimeoutTimer;
}

interface Queued {
  agent: Agent;
  cancel: (error: AgentHostError) => void;
}

const activeRoots = new Set<string>();

/**
 * The orchestrator's one object: runs each agent in its own memory-limited cgroup, queues them
 * (admission paused while host memory is high), enforces timeouts, kills and relieves, reports,
 * and cleans up after every agent and itself. `start()` before spawning; `dispose()` when done.
 */
export class AgentHost extends Emitter<AgentHostEvents> {
  readonly #options: AgentHostOptions;
  readonly #limits: Limits;
  readonly #grace: number;
  readonly #pollInterval: number;
  readonly #log: Logger;
  readonly #timeouts: TimeoutPolicy | undefined;
  /** Extensions asked for while an agent was still queued: applied when its timer is armed. */
  readonly #pendingExtensions = new Map<string, number>();
  readonly #queue: PQueue;
  readonly #agents = new Map<string, Agent>();
  readonly #running = new Map<string, Running>();
  readonly #queued = new Map<string, Queued>();
  readonly #killRequested = new Set<string>();
  readonly #pool: WorkspacePool | undefined;
  readonly #users: AgentUsers;
  #placement: Placement | undefined;
  #monitor: MemoryMonitor | undefined;
  #state: StateStore | undefined;
  #poll: NodeJS.Timeout | undefined;
  #phase: 'new' | 'started' | 'disposing' | 'disposed' = 'new';
  /**
   * Why admission is paused, by source: a caller's pauseAdmission() and the memory monitor hold
   * their own pauses, so the monitor's return to normal never lifts a pause made by hand.
   */
  readonly #pauses = new Map<'manual' | 'memory', string>();
  /** OOM kills seen since start(), in agents that have ended too. */
  #oomKills = 0;

  /** Validates the options (typed errors for bad limits or durations); touches no cgroup until {@link start}. */
  constructor(options: AgentHostOptions = {}) {
    super();
    this.#options = options;
    this.#limits = { ...DEFAULT_AGENT_LIMITS, ...options.limits };
    resolveLimits(this.#limits);
    this.#grace = parseDuration(options.killGrace ?? '10s', 'killGrace');
    this.#pollInterval = parseDuration(options.pollInterval ?? '1s', 'pollInterval');
    this.#log = options.logger ?? silentLogger;
    this.#timeouts = TimeoutPolicy.from(options.timeouts, new TimeoutPolicy());
    const concurrency = options.maxConcurrent ?? Infinity;
    if (!(concurrency === Infinity || (Number.isSafeInteger(concurrency) && concurrency > 0))) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `maxConcurrent must be a positive integer or Infinity, got ${concurrency}`);
    }
    this.#queue = new PQueue({ concurrency });
    this.#pool = options.workspaces ? new WorkspacePool(options.workspaces) : undefined;
    this.#users = new AgentUsers(options.user, options.users);
    if (options.monitor !== false) this.#monitor = this.#createMonitor(options.monitor ?? {});
  }

  /** The agents' root cgroup (after {@link start}). */
  get root(): Cgroup {
    return this.#placed().root;
  }

  /** The supervisor leaf the orchestrator moved into, if it had to (v2 delegated subtrees). */
  get supervisor(): Cgroup | undefined {
    return this.#placement?.supervisor;
  }

  /** The workspace pool, when `workspaces` was configured. */
  get workspaces(): WorkspacePool | undefined {
    return this.#pool;
  }

  /** The memory monitor (unless `monitor: false`): `level`, `hostMemory()`, `agentSamples(id)`. */
  get monitor(): MemoryMonitor | undefined {
    return this.#monitor;
  }

  /** Why admission is paused (memory high, or paused by hand), or `undefined` when it is not. */
  get admissionPaused(): string | undefined {
    return this.#pausedWhy;
  }

  get #pausedWhy(): string | undefined {
    return this.#pauses.size === 0 ? undefined : [...this.#pauses.values()].join('; ');
  }

  /**
   * Creates (or loads) the agents' root, moves the orchestrator into a protected supervisor leaf
   * where the delegation rules ask for it, and adopts agents a previous orchestrator left running.
   */
  async start(): Promise<this> {
    if (this.#phase !== 'new') throw new AgentHostError(ErrorCode.HOST_DISPOSED, 'start() may be called once');
    this.#preflight();
    const placement = placeAgents({
      cgroupRoot: this.#options.cgroupRoot,
      rootName: this.#options.rootName,
      supervisorMemoryMin: this.#options.supervisorMemoryMin,
    });
    this.#lock(placement.root);
    this.#placement = placement;
    this.#state = new StateStore(this.#options.stateDir ?? defaultStateDir(placement.root));
    this.#state.prepare();
    this.#pool?.prepare();
    this.#phase = 'started';
    await this.#reattach();
    // Before the first spawn: a host already at 85 % must not admit anything.
    this.#monitor?.start();
    if (placement.root.version === 1 || this.#pollInterval > 0) {
      // One shared timer for every agent: v1 sends no file events, and on v2 it is a safety net.
      this.#poll = setInterval(() => this.#checkAll(), this.#pollInterval);
      this.#poll.unref();
    }
    this.#log.info({ root: placement.root.path, supervisor: placement.supervisor?.path }, 'agent host started');
    return this;
  }

  /** A live (queued or running) agent, or `undefined`. */
  get(id: string): Agent | undefined {
    return this.#agents.get(id);
  }

  /** Every live agent. */
  agents(): Agent[] {
    return [...this.#agents.values()];
  }

  /**
   * Starts an agent in its own cgroup. Resolves with the running agent once its process exists
   * (after waiting in the queue if needed); rejects with a typed error if it cannot start, having
   * removed its cgroup and released its workspace.
   */
  async spawn(id: string, options: SpawnAgentOptions): Promise<Agent> {
    this.#assertStarted();
    validateName(id, 'agent id');
    if (this.#agents.has(id)) throw new AgentHostError(ErrorCode.AGENT_EXISTS, `agent ${id} is already live`);
    if (options === null || typeof options !== 'object' || typeof options.command !== 'string') {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'spawn options need a `command` string');
    }
    // A string would be spread into one argument per character.
    if (options.args !== undefined && !Array.isArray(options.args)) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'args must be an array of strings (no shell parses them)');
    }
    const limits = { ...this.#limits, ...options.limits };
    resolveLimits(limits);
    if (options.workspace && !this.#pool) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'workspace: true needs the host option `workspaces`');
    }
    this.#users.resolve(options.user);
    const priority = options.priority ?? 0;
    if (!Number.isFinite(priority)) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'priority must be a finite number');
    const timeouts = TimeoutPolicy.from(options.timeouts, this.#timeouts);
    const queueTimeout = options.queueTimeout === undefined ? undefined : parseDuration(options.queueTimeout, 'queueTimeout');
    if (options.signal?.aborted) throw abortError(id);
    if (this.#pausedWhy !== undefined && options.admission === 'fail') {
      throw new AgentHostError(ErrorCode.ADMISSION_REFUSED, `agent ${id} not admitted: ${this.#pausedWhy}`);
    }

    const agent = new Agent(
      { id, command: options.command, args: [...(options.args ?? [])], priority, protected: options.protected ?? false, preferred: options.preferred ?? false },
      this.#control,
    );
    this.#agents.set(id, agent);

    return new Promise<Agent>((resolve, reject) => {
      let settled = false;
      /** Whether it really waited (a 'queued' event went out): only then does 'dequeued' follow. */
      let waited = false;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => cancel(abortError(id));
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const cancel = (error: AgentHostError): void => {
        if (settled) return;
        settled = true;
        cleanup();
        this.#queued.delete(id);
        this.#finishUnstarted(agent, 'killed', error);
        if (waited) this.#emitQueue('dequeued', id);
        reject(error);
      };
      this.#queued.set(id, { agent, cancel });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (queueTimeout !== undefined) {
        timer = setTimeout(() => cancel(new AgentHostError(ErrorCode.ADMISSION_TIMEOUT, `agent ${id} waited ${queueTimeout} ms in the queue`)), queueTimeout);
        timer.unref();
      }
      const task = async (): Promise<void> => {
        if (settled) return;
        settled = true;
        cleanup();
        this.#queued.delete(id);
        if (waited) this.#emitQueue('dequeued', id);
        let started: Running;
        try {
          started = await this.#start(agent, options, limits);
          if (timeouts) this.#arm(started, timeouts);
        } catch (error) {
          reject(error);
          return;
        }
        if (options.signal) {
          const kill = (): void => void this.kill(id, { force: true }).catch(() => undefined);
          options.signal.addEventListener('abort', kill, { once: true });
          void agent.result.then(() => options.signal?.removeEventListener('abort', kill));
        }
        resolve(agent);
        if (this.#killRequested.delete(id)) void this.kill(id, { force: true }).catch(() => undefined);
        // The queue slot is held for the agent's whole life: that is what maxConcurrent counts.
        await this.#lifetime(started);
      };
      void this.#queue.add(task, { priority }).catch((error: unknown) => this.emit('error', error as Error, agent));
      if (!settled) {
        waited = true;
        this.#emitQueue('queued', id);
      }
    });
  }

  /**
   * Stops an agent. Graceful by default, as the seed's kill-agent.sh: SIGTERM to every process,
   * wait `grace` (10 s), then kill the cgroup. `force` kills the cgroup at once. Resolves with
   * the result once the agent has ended.
   */
  async kill(id: string, options: { force?: boolean; grace?: Duration; reason?: KillReason; details?: Record<string, unknown> } = {}): Promise<AgentResult> {
    const agent = this.#agents.get(id);
    if (!agent) throw new AgentHostError(ErrorCode.AGENT_NOT_FOUND, `no live agent ${id}`);
    // Validated before anything happens: a bad grace must not leave the agent 'stopping', unkilled.
    const grace = options.force ? 0 : parseDuration(options.grace ?? this.#grace, 'grace');
    const queued = this.#queued.get(id);
    if (queued) {
      queued.cancel(new AgentHostError(ErrorCode.ABORTED, `agent ${id} was killed while queued`));
      return agent.result;
    }
    const running = this.#running.get(id);
    if (!running) {
      // Starting: the spawn task kills it as soon as its process exists.
      this.#killRequested.add(id);
      return agent.result;
    }
    const reason = options.reason ?? 'killed';
    running.killReason ??= reason;
    const event: KillEvent = { reason, force: options.force ?? false, ...(options.details ? { details: options.details } : {}) };
    if (running.killing === undefined) {
      agent._stopping();
      agent.emit('kill', event);
      this.emit('kill', agent, event);
    }
    // A forced kill during a graceful one's grace period cuts it short.
    if (options.force && running.killing) await running.cgroup.kill().catch((error: unknown) => this.emit('error', error as Error, agent));
    running.killing ??= this.#terminate(running, grace);
    await running.killing;
    return agent.result;
  }

  /** Runs another command inside a live agent's cgroup (the seed's run-in-cgroup.sh). */
  run(id: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Subprocess {
    const running = this.#running.get(id);
    if (!running) throw new AgentHostError(ErrorCode.AGENT_NOT_RUNNING, `agent ${id} is not running`);
    // As the agent's own user: a root process in its cgroup would be one it could not be kept from.
    const user = running.user && userSpawnOptions(running.user, running.workspace);
    return running.cgroup.spawn(command, args, { ...options, ...user, env: { ...user?.env, ...agentEnv(running.agent.id, running.cgroup), ...options.env } });
  }

  /** The seed's check-agent-memory.sh: per-agent current, peak, working set, limit and % of it, pids. */
  memoryReport(): MemoryReport {
    return buildMemoryReport([...this.#running.values()].map((r) => r.agent));
  }

  /** The seed's agent-status.sh: host memory, counts by state, each agent's row, OOM counts, the queue. */
  status(): HostStatus {
    return buildStatus({
      agents: [...this.#agents.values()],
      queue: { size: this.#queued.size, pending: this.#running.size, paused: this.#pausedWhy !== undefined, why: this.#pausedWhy },
      root: this.#placement?.root.path,
      oomKills: this.#oomKills,
      memory: this.#hostMemory(),
      level: this.#monitor?.level,
    });
  }

  /**
   * The seed's emergency-memory-relief.sh: kills agents by the victim policy (lowest priority, then
   * largest working set; protected never, preferred first) until host memory is below `targetPercent`
   * (default 75), re-reading memory before every kill and cooling down after each. `dryRun` only reports.
   */
  relieve(options?: RelieveOptions): Promise<ReliefReport> {
    if (!this.#monitor) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'relieve() needs the memory monitor (monitor: false was given)');
    return this.#monitor.relieve(options);
  }

  /**
   * Stops starting agents: the queue holds them until {@link resumeAdmission}. Independent of the
   * memory monitor's own pause (both must be lifted for agents to start).
   */
  pauseAdmission(why = 'paused by hand'): void {
    this.#pause('manual', why);
  }

  /** Lifts a pause made by {@link pauseAdmission} (not the memory monitor's). */
  resumeAdmission(why = 'resumed by hand'): void {
    this.#resume('manual', why);
  }

  #pause(source: 'manual' | 'memory', why: string): void {
    if (this.#pauses.has(source)) return;
    const wasPaused = this.#pauses.size > 0;
    this.#pauses.set(source, why);
    if (!wasPaused) this.#queue.pause();
    this.#emitQueue('paused', undefined, why);
  }

  #resume(source: 'manual' | 'memory', why: string): void {
    if (!this.#pauses.delete(source)) return;
    // Announce before starting the queue: start() runs waiting tasks at once, and their
    // 'dequeued' events must follow 'resumed', not precede it.
    this.#emitQueue('resumed', undefined, why);
    if (this.#pauses.size === 0) this.#queue.start();
  }

  /**
   * Kills every agent it owns (at once), removes their cgroups and its root if it made it,
   * and stops every timer and watcher. Idempotent.
   */
  async dispose(): Promise<void> {
    if (this.#phase === 'disposed' || this.#phase === 'disposing') return;
    const wasStarted = this.#phase === 'started';
    this.#phase = 'disposing';
    for (const queued of [...this.#queued.values()]) {
      queued.cancel(new AgentHostError(ErrorCode.HOST_DISPOSED, `agent ${queued.agent.id} dropped: the host was disposed`));
    }
    this.#queue.clear();
    await Promise.all([...this.#running.keys()].map((id) => this.kill(id, { force: true }).catch(() => undefined)));
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
    this.#monitor?.stop();
    this.#monitor?.removeAllListeners();
    if (wasStarted && this.#placement) {
      const { root } = this.#placement;
      if (this.#options.cgroupRoot === undefined && root.children().length === 0) {
        await root.delete().catch((error: unknown) => this.#log.warn({ err: error }, 'could not remove the agents root'));
      }
      this.#unlock(root);
    }
    this.#phase = 'disposed';
    this.removeAllListeners();
  }

  /** Same as {@link dispose}, for `await using host = …`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  // --- lifecycle ---------------------------------------------------------------------------

  async #start(agent: Agent, options: SpawnAgentOptions, limits: Limits): Promise<Running> {
    const root = this.#placed().root;
    let workspace: string | undefined;
    let user: AgentUserRecord | undefined;
    let cgroup: Cgroup | undefined;
    try {
      if (this.#phase !== 'started') throw new AgentHostError(ErrorCode.HOST_DISPOSED, 'the host was disposed');
      user = this.#users.acquire(agent.id, options.user, !options.workspace);
      if (options.workspace) workspace = this.#pool!.lease(agent.id, user);
      cgroup = Cgroup.create(root, agent.id, { limits });
      agent._placed(cgroup, workspace);
      const asUser = user && userSpawnOptions(user, workspace);
      const subprocess = cgroup.spawn(options.command, agent.args, {
        forkInside: this.#options.forkInside,
        ...options,
        ...asUser,
        // An agent of its own user starts at home: the orchestrator's directory is not its to write.
        cwd: options.cwd ?? workspace ?? user?.home,
        env: { ...asUser?.env, ...options.env, ...agentEnv(agent.id, cgroup) },
      });
      const pid = await cgroup.joined(subprocess);
      const startedAt = Date.now();
      const running: Running = {
        agent,
        cgroup,
        // Counted from zero: the cgroup is new, so an OOM kill before this line is still reported.
        watcher: cgroup.watch({ pollInterval: 0, baseline: NO_MEMORY_EVENTS }),
        subprocess,
        workspace,
        user,
        keepCgroup: options.keepCgroup ?? false,
        oomReported: 0,
      };
      this.#state!.write(toRecord(agent, pid, startedAt, workspace, user));
      this.#track(running);
      agent._running({ pid, cgroup, workspace, startedAt, subprocess });
      agent.emit('spawn', agent);
      this.emit('spawn', agent);
      this.#log.debug({ id: agent.id, pid, cgroup: cgroup.path }, 'agent started');
      return running;
    } catch (error) {
      // A system error on the way (EMFILE leasing the slot or writing the record) is still typed.
      const failed = isAgentHostError(error) ? error : new AgentHostError(ErrorCode.SPAWN_FAILED, `cannot start agent ${agent.id}: ${String(error)}`, { cause: error });
      // Nothing of a failed spawn stays behind: its cgroup, its workspace lease, its record. Each
      // step on its own: under fd exhaustion one may fail too, and must not stop the others.
      const report = (cleanupError: unknown): void => void this.emit('error', cleanupError as Error, agent);
      if (cgroup?.exists()) await cgroup.delete().catch(report);
      try {
        if (workspace) this.#pool!.release(workspace);
      } catch (cleanupError) {
        report(cleanupError);
      }
      try {
        this.#users.release(agent.id, user);
      } catch (cleanupError) {
        report(cleanupError);
      }
      try {
        this.#state?.remove(agent.id);
      } catch (cleanupError) {
        report(cleanupError);
      }
      this.#finishUnstarted(agent, 'error', failed);
      throw failed;
    }
  }

  readonly #control = {
    // Through the object itself, never by id alone: a stale Agent (ended, its id reused by a new
    // agent) must not kill or extend the new one. Killing an ended agent resolves with its result.
    kill: (agent: Agent, options?: { force?: boolean }) => (this.#agents.get(agent.id) === agent ? this.kill(agent.id, options) : agent.result),
    extendTimeout: (agent: Agent, ms: number) => {
      const running = this.#running.get(agent.id);
      const timer = running?.agent === agent ? running.timer : undefined;
      if (timer) timer.extend(ms);
      else if (this.#agents.get(agent.id) === agent && agent.state === 'queued') {
        this.#pendingExtensions.set(agent.id, (this.#pendingExtensions.get(agent.id) ?? 0) + parseDuration(ms, 'extension'));
      }
    },
  };

  #hostMemory(): HostMemory | undefined {
    try {
      return this.#monitor ? this.#monitor.hostMemory() : toHostMemory(parseMeminfo(readFileSync('/proc/meminfo', 'utf8')));
    } catch {
      return undefined;
    }
  }

  /** The seed's setup, checked before anything is created: refusing here leaves nothing behind. */
  #preflight(): PreflightReport | undefined {
    const given = this.#options.preflight ?? 'refuse';
    const { mode = 'refuse', ...options } = typeof given === 'string' ? { mode: given } : given;
    if (mode === 'off') return undefined;
    const root = this.#options.cgroupRoot;
    const report = preflight({
      layout: false,
      ...(this.#options.user !== undefined && { agentUser: this.#options.user }),
      ...options,
      ...(root !== undefined && { cgroupRoot: root }),
      ...(this.#options.rootName !== undefined && { rootName: this.#options.rootName }),
    });
    const failing = report.checks.filter((check) => check.status === 'fail');
    if (failing.length > 0) {
      if (mode === 'refuse') assertIsolation(report);
      this.#log.warn({ failing: failing.map((c) => c.id) }, 'host preflight found failing checks');
    }
    this.emit('preflight', report);
    return report;
  }

  #createMonitor(options: MemoryMonitorOptions): MemoryMonitor {
    const monitor = new MemoryMonitor(
      {
        // Agents already being killed are neither sampled nor offered as victims again.
        agents: () =>
          [...this.#running.values()]
            .filter((r) => r.killReason === undefined)
            .map(({ agent, cgroup }) => ({ id: agent.id, cgroup, priority: agent.priority, protected: agent.protected, preferred: agent.preferred })),
        kill: async (id, info) => {
          await this.kill(id, { force: true, reason: 'relief', details: { ...info } });
        },
      },
      options,
    );
    monitor.on('pressure', (event) => {
      if (event.scope === 'host') {
        const percent = (event.memory.usedRatio * 100).toFixed(1);
        if (event.level === 'normal') this.#resume('memory', `memory ${percent}% is back below the high threshold`);
        else this.#pause('memory', `memory ${percent}% is at level ${event.level}`);
      } else {
        const running = this.#running.get(event.id);
        running?.agent.emit('pressure', { ...event });
      }
      this.emit('pressure', { ...event });
    });
    monitor.on('relief', (report) => this.emit('relief', report));
    monitor.on('error', (error) => this.emit('error', error));
    return monitor;
  }

  /** Starts an agent's timeouts; they count from now, the start of its run. */
  #arm(running: Running, policy: TimeoutPolicy): void {
    const { agent, cgroup } = running;
    running.timer = policy.arm(
      {
        // Only while the pid is still in the agent's cgroup: it can never be a recycled pid.
        signalMain: (signal) => {
          if (agent.pid !== undefined && cgroup.procs().includes(agent.pid)) signalQuietly(agent.pid, signal);
        },
        signalAll: (signal) => void cgroup.signal(signal),
        killAll: () => cgroup.kill(),
        onSoftTimeout: (info) => {
          agent.emit('soft-timeout', info);
          this.emit('soft-timeout', agent, info);
        },
        onHardTimeout: (info) => {
          running.killReason ??= 'timeout';
          agent._stopping();
          agent.emit('hard-timeout', info);
          this.emit('hard-timeout', agent, info);
          const event: KillEvent = { reason: 'timeout', force: false, details: { ...info } };
          agent.emit('kill', event);
          this.emit('kill', agent, event);
        },
      },
      { onError: (error) => this.emit('error', error as Error, agent) },
    );
    const extension = this.#pendingExtensions.get(agent.id);
    if (extension !== undefined) {
      this.#pendingExtensions.delete(agent.id);
      running.timer.extend(extension);
    }
  }

  #track(running: Running): void {
    this.#running.set(running.agent.id, running);
    running.watcher.on('memory', () => this.#reportOom(running));
  }

  /** Waits for the main process (or, for an adopted agent, the cgroup) to end, then cleans up. */
  async #lifetime(running: Running): Promise<void> {
    let exitCode: number | null = null;
    let signal: NodeJS.Signals | null = null;
    if (running.subprocess) {
      const outcome = await running.subprocess;
      exitCode = outcome.exitCode ?? null;
      signal = (outcome.signal as NodeJS.Signals | undefined) ?? null;
    } else {
      await new Promise<void>((resolve) => {
        if (!running.cgroup.populated()) return resolve();
        running.watcher.once('empty', resolve);
      });
    }
    await this.#finish(running, exitCode, signal);
  }

  async #finish(running: Running, exitCode: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const { agent, cgroup } = running;
    running.timer?.clear();
    this.#pendingExtensions.delete(agent.id);
    // systemd's KillMode=control-group: when the main process ends, so does everything it left.
    if (cgroup.populated()) await cgroup.kill().catch((error: unknown) => this.emit('error', error as Error, agent));
    // The last look at the counters reports any OOM kill not seen yet (and sets oomReported).
    running.watcher.check();
    // One small read rather than stats(): this runs once per agent, on the spawn/exit hot path.
    // `undefined` when the cgroup is already gone (removed by hand): keep what was seen.
    const peakMemory = cgroup.peakMemory() ?? 0;
    const oomKills = running.oomReported;
    running.watcher.close();
    if (!running.keepCgroup) await cgroup.delete().catch((error: unknown) => this.emit('error', error as Error, agent));
    if (running.workspace) {
      try {
        this.#pool!.release(running.workspace);
      } catch (error) {
        this.emit('error', error as Error, agent);
      }
    }
    // After the cgroup is empty: no process of the agent's uid is left to inherit it.
    try {
      this.#users.release(agent.id, running.user);
    } catch (error) {
      this.emit('error', error as Error, agent);
    }
    this.#state?.remove(agent.id);
    this.#running.delete(agent.id);
    this.#agents.delete(agent.id);
    const result: AgentResult = {
      id: agent.id,
      exitCode,
      signal,
      reason: running.killReason ?? (oomKills > 0 ? 'oom' : 'exit'),
      peakMemory,
      oomKills,
      durationMs: Date.now() - (agent.startedAt ?? Date.now()),
    };
    agent._exited(result);
    agent.emit('exit', result);
    this.emit('exit', agent, result);
    agent.removeAllListeners();
    this.#log.debug({ ...result }, 'agent exited');
  }

  #finishUnstarted(agent: Agent, reason: 'killed' | 'error', error: Error): void {
    this.#agents.delete(agent.id);
    this.#pendingExtensions.delete(agent.id);
    const result: AgentResult = { id: agent.id, exitCode: null, signal: null, reason, peakMemory: 0, oomKills: 0, durationMs: 0, error };
    agent._exited(result);
    agent.emit('exit', result);
    this.emit('exit', agent, result);
    agent.removeAllListeners();
  }

  async #terminate(running: Running, grace: number): Promise<void> {
    const ended = running.agent.result.then(() => true);
    if (grace > 0) {
      running.cgroup.signal('SIGTERM');
      // Cancelled when the agent ends first: no timer outlives the kill (or dispose()).
      const cancel = new AbortController();
      const timer = sleep(grace, false, { ref: false, signal: cancel.signal }).catch(() => false);
      const done = await Promise.race([ended, timer]);
      cancel.abort();
      if (done) return;
    }
    await running.cgroup.kill().catch((error: unknown) => this.emit('error', error as Error, running.agent));
    await running.agent.result;
  }

  #reportOom(running: Running): void {
    const counters = running.watcher.counters;
    const count = counters.oomKill - running.oomReported;
    if (count <= 0) return;
    running.oomReported = counters.oomKill;
    this.#oomKills += count;
    const event = { count, total: counters.oomKill, counters };
    running.agent.emit('oom', event);
    this.emit('oom', running.agent, event);
  }

  #checkAll(): void {
    for (const running of this.#running.values()) running.watcher.check();
  }

  // --- reattach ------------------------------------------------------------------------------

  /** Adopts the live agents a previous orchestrator left in the root; removes the dead ones. */
  async #reattach(): Promise<void> {
    const { root } = this.#placed();
    const state = this.#state!;
    const seen = new Set<string>();
    for (const cgroup of root.children()) {
      const id = cgroup.name;
      seen.add(id);
      const record = state.read(id);
      if (!cgroup.populated()) {
        await cgroup.delete().catch((error: unknown) => this.#log.warn({ err: error, id }, 'could not remove a dead agent cgroup'));
        if (record?.workspace) this.#releaseQuietly(record.workspace);
        this.#releaseUserQuietly(id, record?.user);
        state.remove(id);
        continue;
      }
      const agent = new Agent(
        {
          id,
          command: record?.command ?? '',
          args: record?.args ?? [],
          priority: record?.priority ?? 0,
          protected: record?.protected ?? false,
          preferred: record?.preferred ?? false,
        },
        this.#control,
      );
      if (record?.workspace) this.#pool?.adopt(record.workspace, id);
      if (record?.user) this.#users.adopt(id, record.user);
      const running: Running = { agent, cgroup, watcher: cgroup.watch({ pollInterval: 0 }), workspace: record?.workspace, user: record?.user, keepCgroup: false, oomReported: cgroup.memoryEvents()?.oomKill ?? 0 };
      // The recorded main pid only while it is still in the cgroup: once the main process has
      // ended (a child keeps the agent alive), its number may belong to an unrelated process.
      const pid = record?.pid !== undefined && cgroup.procs().includes(record.pid) ? record.pid : undefined;
      agent._running({ pid, cgroup, workspace: record?.workspace, startedAt: record?.startedAt ?? Date.now() });
      this.#agents.set(id, agent);
      this.#track(running);
      state.write(toRecord(agent, pid, agent.startedAt!, record?.workspace, record?.user));
      this.emit('adopt', agent);
      void this.#lifetime(running);
    }
    for (const id of state.ids()) {
      if (seen.has(id)) continue;
      const record = state.read(id);
      if (record?.workspace) this.#releaseQuietly(record.workspace);
      this.#releaseUserQuietly(id, record?.user);
      state.remove(id);
    }
    // A crash between leasing a slot and writing the record (or between removing a record and
    // releasing the slot) leaves a lease nobody accounts for: release those of dead owners.
    for (const [workspace, lease] of this.#pool?.leases() ?? []) {
      if (lease.pid !== process.pid && !isAlive(lease.pid)) this.#releaseQuietly(workspace);
    }
  }

  #releaseQuietly(workspace: string): void {
    try {
      this.#pool?.release(workspace);
    } catch (error) {
      this.#log.warn({ err: error, workspace }, 'could not release a workspace');
    }
  }

  #releaseUserQuietly(id: string, user: AgentUserRecord | undefined): void {
    try {
      this.#users.release(id, user);
    } catch (error) {
      this.#log.warn({ err: error, uid: user?.uid }, 'could not release an agent user');
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  #placed(): Placement {
    if (!this.#placement) throw new AgentHostError(ErrorCode.HOST_NOT_STARTED, 'call start() first');
    return this.#placement;
  }

  #assertStarted(): void {
    if (this.#phase === 'new') throw new AgentHostError(ErrorCode.HOST_NOT_STARTED, 'call start() first');
    if (this.#phase !== 'started') throw new AgentHostError(ErrorCode.HOST_DISPOSED, 'the host was disposed');
  }

  #emitQueue(reason: QueueEvent['reason'], id?: string, why?: string): void {
    const event: QueueEvent = { reason, size: this.#queued.size, pending: this.#running.size, paused: this.#pausedWhy !== undefined };
    if (id !== undefined) event.id = id;
    if (why !== undefined) event.why = why;
    this.emit('queue', event);
  }

  /** One live host per agents' root: a lock file with the owner's pid, taken over when that pid is dead. */
  #lock(root: Cgroup): void {
    const key = root.path;
    if (activeRoots.has(key)) throw new AgentHostError(ErrorCode.HOST_LOCKED, `another AgentHost in this process manages ${key}`);
    const dir = this.#options.stateDir ?? defaultStateDir(root);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = join(dir, 'host.pid');
    let owner: number | undefined;
    try {
      owner = Number(readFileSync(lock, 'utf8'));
    } catch {
      owner = undefined;
    }
    if (owner !== undefined && owner !== process.pid && Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
      throw new AgentHostError(ErrorCode.HOST_LOCKED, `process ${owner} already manages the agents in ${key} (lock ${lock})`);
    }
    writeFileSync(lock, String(process.pid), { mode: 0o600 });
    activeRoots.add(key);
  }

  #unlock(root: Cgroup): void {
    activeRoots.delete(root.path);
    rmSync(join(this.#options.stateDir ?? defaultStateDir(root), 'host.pid'), { force: true });
  }
}

function agentEnv(id: string, cgroup: Cgroup): Record<string, string> {
  return { [AGENT_ID_ENV]: id, [AGENT_CGROUP_ENV]: cgroup.path };
}

function toRecord(agent: Agent, pid: number | undefined, startedAt: number, workspace: string | undefined, user?: AgentUserRecord): AgentRecord {
  return {
    id: agent.id,
    pid,
    command: agent.command,
    args: agent.args,
    priority: agent.priority,
    protected: agent.protected,
    preferred: agent.preferred,
    startedAt,
    workspace,
    ...(user && { user }),
    owner: process.pid,
  };
}

function defaultStateDir(root: Cgroup): string {
  const base = process.env.XDG_RUNTIME_DIR ?? (process.getuid?.() === 0 ? '/run' : tmpdir());
  const hash = createHash('sha256').update(root.path).digest('hex').slice(0, 16);
  return join(base, 'nova-agent-host', `${root.name}-${hash}`);
}

function abortError(id: string): AgentHostError {
  return new AgentHostError(ErrorCode.ABORTED, `spawn of agent ${id} was aborted`);
}
