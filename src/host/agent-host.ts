/**
 * AgentHost: the orchestrator's one object, a thin coordinator. It places the agents' root, holds
 * the registry of runs (each `AgentRun` owns its agent's state), and wires admission, the memory
 * monitor, reattaching and reports around them: spawn, kill, exec-in-cgroup, status, relief.
 */
import { readFileSync } from 'node:fs';
import { Cgroup } from '../cgroup/cgroup.js';
import { parseMeminfo } from '../cgroup/parse.js';
import type { Limits } from '../cgroup/limits.js';
import type { SpawnOptions, Subprocess } from '../cgroup/spawn.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { toHostMemory } from '../monitor/host-memory.js';
import type { HostMemory, MemoryMonitor, ReliefReport, RelieveOptions } from '../monitor/index.js';
import { TimeoutPolicy } from '../timeout/index.js';
import { parseDuration } from '../util/duration.js';
import { Emitter } from '../util/emitter.js';
import { validateName } from '../util/name.js';
import type { Agent, AgentResult } from './agent.js';
import { hostLimits } from './agent-limits.js';
import { AgentRun } from './agent-run.js';
import { asUser } from './run-leases.js';
import { resolveSpawn, type AgentHostOptions, type AgentKillOptions, type SpawnAgentOptions } from './options.js';
import { AGENT_ID_ENV, agentEnv, type RunContext } from './run-contract.js';
import { Admission } from './admission.js';
import type { HostEventMap } from './events.js';
import { runPreflight, type PreflightMode } from './host-preflight.js';
import { silentLogger, type Logger } from './logger.js';
import { MemoryGate } from './memory-gate.js';
import { linkMonitor } from './monitor-link.js';
import { defaultStateDir, HostLock } from './ownership.js';
import { placeAgents, type Placement } from './placement.js';
import { RootBackstop } from './backstop.js';
import { reattach } from './reattach.js';
import { buildMemoryReport, buildStatus, type MemoryReport, type HostStatus } from './report.js';
import { StateStore } from './state.js';
import { WorkspacePool } from './workspaces.js';
import { AgentUsers } from '../users/index.js';
import { AGENT_CGROUP_ENV } from '../agent/locate.js';

export { AGENT_ID_ENV, AGENT_CGROUP_ENV, type AgentHostOptions, type AgentKillOptions, type PreflightMode, type SpawnAgentOptions };

/** Events of the host: every agent event with the agent first, plus the host-wide ones. */
export type AgentHostEvents = HostEventMap<Agent>;

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
  readonly #users: AgentUsers;
  readonly #monitor: MemoryMonitor | undefined;
  /** Admission by expected peak and the learned peaks (with the monitor, unless `peaks: false`). */
  readonly #gate: MemoryGate | undefined;
  #placement: Placement | undefined;
  /** Keeps the root's limits in step with the budget outside it (when the host derived them). */
  #backstop: RootBackstop | undefined;
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
    this.#admission = new Admission({
      concurrency: options.maxConcurrent ?? Infinity,
      canAdmit: (candidate) => this.#gate?.canAdmit(candidate) ?? true,
      onEvent: (event) => this.emit('queue', event),
    });
    this.#pool = options.workspaces ? new WorkspacePool(options.workspaces) : undefined;
    this.#users = new AgentUsers(options.user, options.users);
    if (options.monitor !== false) this.#monitor = linkMonitor({ budget: options.budget, ...options.monitor }, { runs: this.#runs, admission: this.#admission, events: this, root: () => this.#placement?.root });
    if (this.#monitor && options.peaks !== false) this.#gate = new MemoryGate(this.#runs, this.#monitor, options.peaks, (error) => this.emit('error', error));
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
    const { stateDir } = this.#options;
    const placement = placeAgents(this.#options);
    const dir = stateDir ?? defaultStateDir(placement.root);
    this.#lock = HostLock.acquire(placement.root.path, dir);
    this.#placement = placement;
    this.#state = new StateStore(dir);
    this.#state.prepare();
    this.#gate?.open(dir);
    this.#pool?.prepare();
    this.#phase = 'started';
    await reattach({
      root: placement.root,
      state: this.#state,
      pool: this.#pool,
      users: this.#users,
      log: this.#log,
      adopt: (cgroup, record, pid) => {
        const info = { id: cgroup.name, command: record?.command ?? '', args: record?.args ?? [], priority: record?.priority ?? 0, protected: record?.protected ?? false, preferred: record?.preferred ?? false, profile: record?.profile, expectedMemory: record?.expectedMemory };
        const peak = { profile: record?.profile, expectedMemory: record?.expectedMemory };
        const spec = { info, limits: {}, peak, spawn: {}, workspace: false, keepCgroup: false, timeouts: undefined, killGrace: this.#grace };
        const run = AgentRun.adopt(spec, this.#context, { cgroup, pid, workspace: record?.workspace, user: record?.user, startedAt: record?.startedAt ?? Date.now() });
        this.#runs.set(run.id, run);
        this.emit('adopt', run.agent);
      },
    });
    // Before the first spawn: a host already at 85 % must not admit anything.
    this.#monitor?.start();
    this.#backstop = RootBackstop.follow(placement, this.#options, { error: (error) => this.emit('error', error), log: this.#log });
    if (placement.root.version === 1 || this.#pollInterval > 0) {
      // One shared timer for every agent: v1 sends no file events, and on v2 it is a safety net.
      this.#poll = setInterval(() => this.#runs.forEach((run) => run.check()), this.#pollInterval);
      this.#poll.unref();
    }
    this.#log.info({ root: placement.root.path, supervisor: placement.supervisor?.path, backstop: placement.backstop }, 'agent host started');
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
    const defaults = { limits: this.#limits, timeouts: this.#timeouts, killGrace: this.#grace, forkInside: this.#options.forkInside, pool: this.#pool !== undefined, users: this.#users };
    const { spec, queueTimeout } = resolveSpawn(id, options, defaults);
    const run = new AgentRun(spec, this.#context);
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
        this.#admission.enqueue({ id, priority: spec.info.priority, limits: spec.limits, run: start, drop }, { signal: options.signal, timeout: queueTimeout, whenPaused: options.admission });
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

  /** Runs another command inside a live agent's cgroup (as `run-in-cgroup` does), as the agent's user: a helper, a debugger, a probe. */
  exec(id: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Subprocess {
    const run = this.#runs.get(id);
    const cgroup = run?.cgroup;
    if (!run || !cgroup || !['running', 'paused', 'stopping'].includes(run.state)) {
      throw new AgentHostError(ErrorCode.AGENT_NOT_RUNNING, `agent ${id} is not running`);
    }
    return cgroup.spawn(command, args, asUser(run, { ...options, env: { ...agentEnv(id, cgroup), ...options.env } }));
  }

  /** @deprecated Use {@link exec}: it runs a command in an agent's cgroup, not an agent. */
  run(id: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Subprocess {
    return this.exec(id, command, args, options);
  }

  /** Per-agent memory: current, peak, working set, limit and % of it, pids; largest first. */
  memoryReport(): MemoryReport {
    return buildMemoryReport(this.agents().filter((agent) => agent.cgroup !== undefined && agent.state !== 'starting'), this.#hostMemory());
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
    this.#backstop?.stop();
    try {
      this.#gate?.close();
    } catch (error) {
      this.#log.warn({ err: error }, 'could not save the learned peaks');
    }
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
      get users() {
        return host.#users;
      },
      get state() {
        return host.#state!;
      },
      emit: (agent, event, ...args) => {
        (agent.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);
        if (event === 'oom') this.#oomKills += (args[0] as { count: number }).count;
        if (event === 'exit') this.#ended(agent, args[0] as AgentResult);
        // On the host, the agent comes first; `spawn` carries just the agent, `error` the agent second.
        if (event === 'spawn') this.emit('spawn', agent);
        else if (event === 'error') this.emit('error', args[0] as Error, agent);
        else (this.emit as (event: string, ...args: unknown[]) => boolean)(event, agent, ...args);
      },
      ended: (run) => {
        if (this.#runs.get(run.id) === run) this.#runs.delete(run.id);
      },
    };
  }

  /** An agent ended: its memory is free (and its peak learned if it ran to its end), so the queue's head may fit now. */
  #ended(agent: Agent, result: AgentResult): void {
    try {
      this.#gate?.ended(agent.profile, result);
    } catch (error) {
      this.emit('error', error as Error, agent);
    }
    this.#admission.recheck();
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
