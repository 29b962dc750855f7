/**
 * AgentHost: the orchestrator's one object, a thin coordinator. It places the agents' root, holds
 * the registry of runs (each `AgentRun` owns its agent's state), and wires admission, the memory
 * monitor, reattaching and reports around them: spawn, kill, exec-in-cgroup, status, relief.
 */
import { readFileSync } from 'node:fs';
import { Cgroup } from '../cgroup/cgroup.js';
import { parseMeminfo } from '../cgroup/parse.js';
import { prepareSpawn, type SpawnOptions, type Subprocess } from '../cgroup/spawn.js';
import type { Limits } from '../cgroup/limits.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { toHostMemory } from '../monitor/host-memory.js';
import { MemoryMonitor, type HostMemory, type MemoryMonitorOptions, type ReliefReport, type RelieveOptions } from '../monitor/index.js';
import { TimeoutPolicy, type TimeoutOptions } from '../timeout/index.js';
import { parseDuration, type Duration } from '../util/duration.js';
import { Emitter } from '../util/emitter.js';
import { validateName } from '../util/name.js';
import type { Size } from '../util/size.js';
import type { Agent, AgentResult, KillReason } from './agent.js';
import { hostLimits, layerLimits } from './agent-limits.js';
import { AgentRun } from './agent-run.js';
import { AGENT_ID_ENV, agentEnv, type RunContext } from './run-contract.js';
import { Admission } from './admission.js';
import type { HostEventMap } from './events.js';
import { runPreflight, type PreflightMode } from './host-preflight.js';
import { silentLogger, type Logger } from './logger.js';
import { defaultStateDir, HostLock } from './ownership.js';
import { placeAgents, type Placement } from './placement.js';
import { reattach } from './reattach.js';
import { buildMemoryReport, buildStatus, type MemoryReport, type HostStatus } from './report.js';
import { StateStore } from './state.js';
import { WorkspacePool, type WorkspacePoolOptions } from './workspaces.js';
import type { PreflightOptions } from '../setup/index.js';
import { AGENT_CGROUP_ENV } from '../agent/locate.js';

export { AGENT_ID_ENV, AGENT_CGROUP_ENV, type PreflightMode };

/** Events of the host: every agent event with the agent first, plus the host-wide ones. */
export type AgentHostEvents = HostEventMap<Agent>;

/** Options of an {@link AgentHost}: every one has a default; docs/host.md has the table. */
export interface AgentHostOptions {
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
  readonly #admission: Admission;
  /** The registry: one run per live agent, the run owning everything about it. */
  readonly #runs = new Map<string, AgentRun>();
  readonly #pool: WorkspacePool | undefined;
  readonly #monitor: MemoryMonitor | undefined;
  #placement: Placement | undefined;
  #lock: HostLock | undefined;
  #state: StateStore | undefined;
  #poll: NodeJS.Timeout | undefined;
  #phase: 'new' | 'started' | 'disposing' | 'disposed' = 'new';
  /** OOM kills seen since start(), in agents that have ended too. */
  #oomKills = 0;

  /** Validates the options (typed errors for bad limits or durations); touches no cgroup until {@link start}. */
  constructor(options: AgentHostOptions = {}) {
    super();
    this.#options = options;
    this.#limits = hostLimits(options.limits);
    this.#grace = parseDuration(options.killGrace ?? '10s', 'killGrace');
    this.#pollInterval = parseDuration(options.pollInterval ?? '1s', 'pollInterval');
    this.#log = options.logger ?? silentLogger;
    this.#timeouts = TimeoutPolicy.from(options.timeouts, new TimeoutPolicy());
    this.#admission = new Admission({ concurrency: options.maxConcurrent ?? Infinity, onEvent: (event) => this.emit('queue', event) });
    this.#pool = options.workspaces ? new WorkspacePool(options.workspaces) : undefined;
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
    return this.#admission.paused;
  }

  /**
   * Creates (or loads) the agents' root, moves the orchestrator into a protected supervisor leaf
   * where the delegation rules ask for it, and adopts agents a previous orchestrator left running.
   */
  async start(): Promise<this> {
    if (this.#phase !== 'new') throw new AgentHostError(ErrorCode.HOST_DISPOSED, 'start() may be called once');
    const report = runPreflight(this.#options, this.#log);
    if (report) this.emit('preflight', report);
    const { cgroupRoot, rootName, supervisorMemoryMin, stateDir } = this.#options;
    const placement = placeAgents({ cgroupRoot, rootName, supervisorMemoryMin });
    const dir = stateDir ?? defaultStateDir(placement.root);
    this.#lock = HostLock.acquire(placement.root.path, dir);
    this.#placement = placement;
    this.#state = new StateStore(dir);
    this.#state.prepare();
    this.#pool?.prepare();
    this.#phase = 'started';
    await reattach({
      root: placement.root,
      state: this.#state,
      pool: this.#pool,
      log: this.#log,
      adopt: (cgroup, record, pid) => {
        const info = { id: cgroup.name, command: record?.command ?? '', args: record?.args ?? [], priority: record?.priority ?? 0, protected: record?.protected ?? false, preferred: record?.preferred ?? false };
        const spec = { info, limits: {}, spawn: {}, workspace: false, keepCgroup: false, timeouts: undefined, killGrace: this.#grace };
        const run = AgentRun.adopt(spec, this.#context, { cgroup, pid, workspace: record?.workspace, startedAt: record?.startedAt ?? Date.now() });
        this.#runs.set(run.id, run);
        this.emit('adopt', run.agent);
      },
    });
    // Before the first spawn: a host already at 85 % must not admit anything.
    this.#monitor?.start();
    if (placement.root.version === 1 || this.#pollInterval > 0) {
      // One shared timer for every agent: v1 sends no file events, and on v2 it is a safety net.
      this.#poll = setInterval(() => this.#runs.forEach((run) => run.check()), this.#pollInterval);
      this.#poll.unref();
    }
    this.#log.info({ root: placement.root.path, supervisor: placement.supervisor?.path }, 'agent host started');
    return this;
  }

  /** A live (queued, starting, running, paused or stopping) agent, or `undefined`. */
  get(id: string): Agent | undefined {
    return this.#runs.get(id)?.agent;
  }

  /** Every live agent. */
  agents(): Agent[] {
    return [...this.#runs.values()].map((run) => run.agent);
  }

  /**
   * Starts an agent in its own cgroup. Resolves with the running agent once its process exists
   * (after waiting in the queue if needed); rejects with a typed error if it cannot start, having
   * removed its cgroup and released its workspace. A bad command or cwd fails before anything is
   * created or queued; an agent whose spawn rejects emits no `exit`.
   */
  async spawn(id: string, options: SpawnAgentOptions): Promise<Agent> {
    this.#assertStarted();
    validateName(id, 'agent id');
    if (this.#runs.has(id)) throw new AgentHostError(ErrorCode.AGENT_EXISTS, `agent ${id} is already live`);
    if (options === null || typeof options !== 'object' || typeof options.command !== 'string') {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'spawn options need a `command` string');
    }
    // A string would be spread into one argument per character.
    if (options.args !== undefined && !Array.isArray(options.args)) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'args must be an array of strings (no shell parses them)');
    }
    const limits = layerLimits(this.#limits, options.limits);
    if (options.workspace && !this.#pool) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'workspace: true needs the host option `workspaces`');
    const priority = options.priority ?? 0;
    if (!Number.isFinite(priority)) throw new AgentHostError(ErrorCode.INVALID_OPTION, 'priority must be a finite number');
    const timeouts = TimeoutPolicy.from(options.timeouts, this.#timeouts);
    const queueTimeout = options.queueTimeout === undefined ? undefined : parseDuration(options.queueTimeout, 'queueTimeout');
    const args = [...(options.args ?? [])];
    // The command and cwd are looked up now: a missing one creates nothing (a leased slot has no cwd yet).
    prepareSpawn(options.command, args, options);

    const info = { id, command: options.command, args, priority, protected: options.protected ?? false, preferred: options.preferred ?? false };
    const spawn = { forkInside: this.#options.forkInside, ...options };
    const run = new AgentRun({ info, limits, spawn, workspace: options.workspace ?? false, keepCgroup: options.keepCgroup ?? false, timeouts, killGrace: this.#grace }, this.#context);
    return new Promise<Agent>((resolve, reject) => {
      const start = async (): Promise<void> => {
        try {
          await run.start();
        } catch (error) {
          return reject(error);
        }
        const { signal } = options;
        if (signal) {
          const kill = (): void => void run.stop('killed', { grace: 0 });
          signal.addEventListener('abort', kill, { once: true });
          void run.result.then(() => signal.removeEventListener('abort', kill));
        }
        resolve(run.agent);
        // The slot is held for the agent's whole life: that is what maxConcurrent counts.
        await run.result;
      };
      const drop = (error: AgentHostError): void => {
        run.cancel(error);
        reject(error);
      };
      this.#runs.set(id, run);
      run.queued((error) => this.#admission.cancel(id, error));
      try {
        this.#admission.enqueue({ id, priority, limits, run: start, drop }, { signal: options.signal, timeout: queueTimeout, whenPaused: options.admission });
      } catch (error) {
        this.#runs.delete(id);
        reject(error);
      }
    });
  }

  /**
   * Stops an agent through its one stop path. Graceful by default: SIGTERM to every process, wait
   * `grace` (10 s), then kill the cgroup. `force` kills the cgroup at once, also cutting short a
   * graceful stop under way. Resolves with the result once the agent has ended.
   */
  async kill(id: string, options: AgentKillOptions = {}): Promise<AgentResult> {
    const run = this.#runs.get(id);
    if (!run) throw new AgentHostError(ErrorCode.AGENT_NOT_FOUND, `no live agent ${id}`);
    // Validated before anything happens: a bad grace must not leave the agent 'stopping', unkilled.
    const grace = options.force ? 0 : parseDuration(options.grace ?? this.#grace, 'grace');
    return run.stop(options.reason ?? 'killed', { grace, ...(options.details && { details: options.details }) });
  }

  /** Runs another command inside a live agent's cgroup (as `run-in-cgroup` does): a helper, a debugger, a probe. */
  exec(id: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Subprocess {
    const run = this.#runs.get(id);
    const cgroup = run?.cgroup;
    if (!run || !cgroup || !['running', 'paused', 'stopping'].includes(run.state)) {
      throw new AgentHostError(ErrorCode.AGENT_NOT_RUNNING, `agent ${id} is not running`);
    }
    return cgroup.spawn(command, args, { ...options, env: { ...agentEnv(id, cgroup), ...options.env } });
  }

  /** @deprecated Use {@link exec}: it runs a command in an agent's cgroup, not an agent. */
  run(id: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Subprocess {
    return this.exec(id, command, args, options);
  }

  /** Per-agent memory: current, peak, working set, limit and % of it, pids; largest first. */
  memoryReport(): MemoryReport {
    return buildMemoryReport(this.agents().filter((agent) => agent.cgroup !== undefined && agent.state !== 'starting'));
  }

  /** Host memory, counts by state, each agent's row, OOM counts, the queue. */
  status(): HostStatus {
    return buildStatus({
      agents: this.agents(),
      queue: this.#admission.snapshot(),
      root: this.#placement?.root.path,
      oomKills: this.#oomKills,
      memory: this.#hostMemory(),
      level: this.#monitor?.level,
    });
  }

  /**
   * Kills agents by the victim policy (lowest priority, then largest working set; protected never,
   * preferred first) until host memory is below `targetPercent` (default 75), re-reading memory
   * before every kill and cooling down after each. `dryRun` only reports.
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
    this.#admission.pause('manual', why);
  }

  /** Lifts a pause made by {@link pauseAdmission} (not the memory monitor's). */
  resumeAdmission(why = 'resumed by hand'): void {
    this.#admission.resume('manual', why);
  }

  /**
   * Kills every agent it owns (at once), removes their cgroups and its root if it made it,
   * and stops every timer and watcher. Idempotent.
   */
  async dispose(): Promise<void> {
    if (this.#phase === 'disposed' || this.#phase === 'disposing') return;
    const wasStarted = this.#phase === 'started';
    this.#phase = 'disposing';
    this.#admission.clear((id) => new AgentHostError(ErrorCode.HOST_DISPOSED, `agent ${id} dropped: the host was disposed`));
    await Promise.all([...this.#runs.values()].map((run) => run.stop('killed', { grace: 0 })));
    clearInterval(this.#poll);
    this.#monitor?.stop();
    this.#monitor?.removeAllListeners();
    if (wasStarted && this.#placement) {
      const { root } = this.#placement;
      if (this.#options.cgroupRoot === undefined && root.children().length === 0) {
        await root.delete().catch((error: unknown) => this.#log.warn({ err: error }, 'could not remove the agents root'));
      }
      this.#lock?.release();
    }
    this.#phase = 'disposed';
    this.removeAllListeners();
  }

  /** Same as {@link dispose}, for `await using host = …`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** What every run works through: its cgroup's birthplace, the stores, and one emitter for its events. */
  readonly #context: RunContext = this.#runContext();

  #runContext(): RunContext {
    const host = this;
    return {
      createCgroup: (id, limits) => Cgroup.create(this.#placed().root, id, { limits }),
      get pool() {
        return host.#pool;
      },
      get state() {
        return host.#state!;
      },
      emit: (agent, event, ...args) => {
        (agent.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
        if (event === 'oom') this.#oomKills += (args[0] as { count: number }).count;
        if (event === 'spawn') this.emit('spawn', agent);
        else (this.emit as (event: string, ...args: unknown[]) => boolean)(event, agent, ...args);
      },
      ended: (run) => {
        if (this.#runs.get(run.id) === run) this.#runs.delete(run.id);
      },
    };
  }

  #createMonitor(options: MemoryMonitorOptions): MemoryMonitor {
    const monitor = new MemoryMonitor(
      {
        // Agents being stopped are neither sampled nor offered as victims again.
        agents: () =>
          [...this.#runs.values()]
            .filter((run) => run.live)
            .map(({ agent }) => ({ id: agent.id, cgroup: agent.cgroup!, priority: agent.priority, protected: agent.protected, preferred: agent.preferred })),
        kill: async (id, info) => {
          await this.kill(id, { force: true, reason: 'relief', details: { ...info } });
        },
      },
      options,
    );
    monitor.on('pressure', (event) => {
      if (event.scope === 'agent') this.#runs.get(event.id)?.agent.emit('pressure', event);
      // First the pressure, then the queue pause or resume it causes.
      this.emit('pressure', event);
      if (event.scope !== 'host') return;
      const percent = (event.memory.usedRatio * 100).toFixed(1);
      if (event.level === 'normal') this.#admission.resume('memory', `memory ${percent}% is back below the high threshold`);
      else this.#admission.pause('memory', `memory ${percent}% is at level ${event.level}`);
    });
    monitor.on('relief', (report) => this.emit('relief', report));
    monitor.on('error', (error) => this.emit('error', error));
    return monitor;
  }

  #hostMemory(): HostMemory | undefined {
    try {
      return this.#monitor ? this.#monitor.hostMemory() : toHostMemory(parseMeminfo(readFileSync('/proc/meminfo', 'utf8')));
    } catch {
      return undefined;
    }
  }

  #placed(): Placement {
    if (!this.#placement) throw new AgentHostError(ErrorCode.HOST_NOT_STARTED, 'call start() first');
    return this.#placement;
  }

  #assertStarted(): void {
    if (this.#phase === 'new') throw new AgentHostError(ErrorCode.HOST_NOT_STARTED, 'call start() first');
    if (this.#phase !== 'started') throw new AgentHostError(ErrorCode.HOST_DISPOSED, 'the host was disposed');
  }
}
