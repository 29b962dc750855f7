/**
 * AgentRun: one agent's life, owned by one object. It holds the agent's cgroup, watcher, timeout
 * timer, user and workspace leases (run-leases.ts) and state record, changes its state through one
 * transition table, and stops it through one path, `stop(reason, { grace })`, whoever asks: a
 * caller's kill, the hard timeout, memory relief, the monitor's livelock kill, dispose().
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Subprocess } from '../cgroup/spawn.js';
import { signalQuietly } from '../cgroup/v2.js';
import { NO_MEMORY_EVENTS, type CgroupWatcher } from '../cgroup/watch.js';
import { AgentHostError, ErrorCode, isAgentHostError } from '../errors.js';
import type { TimeoutPolicy, TimeoutTimer } from '../timeout/index.js';
import { parseDuration, type Duration } from '../util/duration.js';
import { Agent, type AgentSource } from './agent.js';
import type { AgentResult, AgentState, KillReason } from './events.js';
import { agentEnv, type Adopted, type RunCgroup, type RunContext, type RunSpec, type StopOptions } from './run-contract.js';
import type { AgentRecord } from './state.js';
import type { AgentUserRecord } from '../users/index.js';
import { asUser, RunLeases } from './run-leases.js';
import { transition } from './run-state.js';
import { OomCounter } from './oom-scope.js';

/** One agent's run: its state machine, its resources, its one stop path. See the file comment. */
export class AgentRun implements AgentSource {
  readonly agent: Agent;
  readonly result: Promise<AgentResult>;
  readonly peak: RunSpec['peak']; // what admission by expected peak works from
  readonly #spec: RunSpec;
  readonly #ctx: RunContext;
  #settle!: (result: AgentResult) => void;
  #state: AgentState = 'queued';
  #pausedAt: number | undefined;
  #cgroup: RunCgroup | undefined;
  #watcher: CgroupWatcher | undefined;
  #subprocess: Subprocess | undefined;
  #pid: number | undefined;
  #leases: RunLeases;
  #startedAt: number | undefined;
  #timer: TimeoutTimer | undefined;
  /** Extensions asked for before the timer was armed (while queued or starting). */
  #extension = 0;
  #oom = new OomCounter();
  /** The stop being carried out, or asked for while starting. */
  #stop: { reason: KillReason; options: StopOptions } | undefined;
  #killAt = Infinity;
  #killTimer: NodeJS.Timeout | undefined;
  /** A freeze under way: a stop waits for it before thawing, so the two never interleave. */
  #freezing: Promise<void> | undefined;
  /** Drops the run from the admission queue (set while queued). */
  #dequeue: ((error: AgentHostError) => void) | undefined;

  constructor(spec: RunSpec, ctx: RunContext) {
    this.#spec = spec;
    this.#ctx = ctx;
    this.#leases = new RunLeases(spec.info.id, ctx);
    this.peak = spec.peak;
    this.agent = new Agent(spec.info, this);
    this.result = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  /** A run for an agent a previous orchestrator left alive: `running` from the start, its end watched. */
  static adopt(spec: RunSpec, ctx: RunContext, adopted: Adopted): AgentRun {
    const run = new AgentRun(spec, ctx);
    run.#cgroup = adopted.cgroup;
    run.#pid = adopted.pid;
    run.#leases = new RunLeases(run.id, ctx, adopted);
    run.#startedAt = adopted.startedAt;
    run.#watcher = adopted.cgroup.watch({ pollInterval: 0 });
    run.#oom = new OomCounter(run.#watcher.counters);
    run.#state = 'running';
    run.#run();
    run.#write();
    return run;
  }
  get id(): string {
    return this.#spec.info.id;
  }
  get state(): AgentState {
    return this.#state;
  }
  get pid(): number | undefined {
    return this.#pid;
  }
  get cgroup(): Cgroup | undefined {
    // A Cgroup outside unit tests: the host's createCgroup makes real ones.
    return this.#cgroup as Cgroup | undefined;
  }
  get workspace(): string | undefined {
    return this.#leases.workspace;
  }
  /** Who the agent runs as, when not the orchestrator's user. */
  get user(): AgentUserRecord | undefined {
    return this.#leases.user;
  }
  get startedAt(): number | undefined {
    return this.#startedAt;
  }
  get subprocess(): Subprocess | undefined {
    return this.#subprocess;
  }
  /** The armed timeouts, once running (for tests and reports). */
  get timer(): TimeoutTimer | undefined {
    return this.#timer;
  }
  /** When it was frozen (ms since the epoch), while `paused`: how long the pause policy has held it. */
  get pausedAt(): number | undefined {
    return this.#pausedAt;
  }
  /** Whether the monitor may sample it and relief may choose it: alive and not being stopped. */
  get live(): boolean {
    return this.#state === 'running' || this.#state === 'paused';
  }

  /** @internal The admission queue holds the run: `dequeue` takes it out (a stop while queued). */
  queued(dequeue: (error: AgentHostError) => void): void {
    this.#dequeue = dequeue;
  }

  /** The run left the queue without starting (aborted, timed out, stopped, the host disposed). */
  cancel(error: AgentHostError): void {
    if (this.#state !== 'queued') return;
    this.#dequeue = undefined;
    this.#end({ reason: 'killed', error }, false);
  }

  /**
   * Leases the user and workspace, creates the cgroup, forks the command inside it and waits until
   * it is in, writes the record and arms the timeouts. On failure nothing of it stays (each cleanup step
   * on its own: under fd exhaustion one may fail too), the result settles with reason `error`, no
   * `exit` is emitted (the agent never ran) and the typed error is thrown.
   */
  async start(): Promise<void> {
    this.#to('starting');
    this.#dequeue = undefined;
    const { info, spawn } = this.#spec;
    try {
      this.#leases.acquire(this.#spec);
      const cgroup = (this.#cgroup = this.#ctx.createCgroup(info.id, this.#spec.limits));
      // An agent of its own user starts at home: the orchestrator's directory is not its to write.
      const options = { ...spawn, cwd: spawn.cwd ?? this.#leases.home, env: { ...spawn.env, ...agentEnv(info.id, cgroup) } };
      this.#subprocess = cgroup.spawn(info.command, info.args, asUser(this.#leases, options));
      this.#pid = await cgroup.joined(this.#subprocess);
      this.#startedAt = Date.now();
      // Counted from zero: the cgroup is new, so an OOM kill before this line is still reported.
      this.#watcher = cgroup.watch({ pollInterval: 0, baseline: NO_MEMORY_EVENTS });
      this.#write();
    } catch (error) {
      const failed = isAgentHostError(error) ? error : new AgentHostError(ErrorCode.SPAWN_FAILED, `cannot start agent ${info.id}: ${String(error)}`, { cause: error });
      this.#watcher?.close();
      await this.#release(this.#cgroup);
      this.#end({ reason: 'error', error: failed }, false);
      throw failed;
    }
    this.#to('running');
    if (this.#spec.timeouts) this.#arm(this.#spec.timeouts);
    this.#run();
    this.#ctx.emit(this.agent, 'spawn', this.agent);
    const asked = this.#stop;
    this.#stop = undefined;
    if (asked) void this.stop(asked.reason, asked.options);
  }

  /**
   * The one stop path (see {@link StopOptions}). Queued: leaves the queue. Starting: carried out
   * once the process exists. Paused: thawed first (a frozen process sees no signal). Resolves
   * with the result once the agent has ended and been cleaned up.
   */
  stop(reason: KillReason, options: StopOptions): Promise<AgentResult> {
    switch (this.#state) {
      case 'queued':
        this.#dequeue?.(new AgentHostError(ErrorCode.ABORTED, `agent ${this.id} was killed while queued`));
        break;
      case 'starting':
        // The strongest request wins: the earliest kill.
        if (!this.#stop || options.grace < this.#stop.options.grace) this.#stop = { reason: this.#stop?.reason ?? reason, options };
        break;
      case 'running':
      case 'paused': {
        const wasPaused = this.#state === 'paused';
        this.#to('stopping');
        this.#stop = { reason, options };
        this.#ctx.emit(this.agent, 'kill', { reason, force: options.grace <= 0, ...(options.details && { details: options.details }) });
        void this.#terminate(wasPaused, options);
        break;
      }
      case 'stopping':
        this.#killIn(options.grace);
        break;
    }
    return this.result;
  }

  /** `agent.kill()`: reason `killed`, the host's grace unless forced. */
  kill(options: { force?: boolean } = {}): Promise<AgentResult> {
    return this.stop('killed', { grace: options.force ? 0 : this.#spec.killGrace });
  }

  /** Pushes the timeouts out by `ms`; before the run starts, from its start. */
  extendTimeout(ms: Duration): void {
    if (this.#timer) this.#timer.extend(ms);
    else if (this.#state === 'queued' || this.#state === 'starting') this.#extension += parseDuration(ms, 'extension');
  }

  /**
   * Freezes the agent's cgroup (nothing runs, forks or allocates) and stops its timeouts' clock.
   * `ERR_AGENT_NOT_RUNNING` unless running; a no-op when paused already.
   */
  async pause(): Promise<void> {
    if (this.#state === 'paused') return this.#freezing;
    if (this.#state !== 'running') throw new AgentHostError(ErrorCode.AGENT_NOT_RUNNING, `agent ${this.id} is ${this.#state}, not running`);
    this.#to('paused');
    this.#timer?.pause();
    this.#freezing = this.#cgroup!.freeze().finally(() => (this.#freezing = undefined));
    try {
      await this.#freezing;
    } catch (error) {
      if (this.state === 'paused') {
        this.#to('running');
        this.#timer?.resume();
      }
      throw error;
    }
  }

  /** Thaws a paused agent and restarts its clock; a no-op in any other state. */
  async resume(): Promise<void> {
    if (this.#state !== 'paused') return;
    await this.#freezing?.catch(() => undefined);
    if (this.#state !== 'paused') return;
    await this.#cgroup!.thaw();
    if (this.#state !== 'paused') return;
    this.#to('running');
    this.#timer?.resume();
  }

  /** Reports OOM kills seen by the watcher or a poll (the host's poll calls `check()`). */
  check(): void {
    this.#watcher?.check();
  }

  #to(next: AgentState): void {
    this.#state = transition(this.id, this.#state, next);
    this.#pausedAt = next === 'paused' ? Date.now() : undefined;
  }

  /** The signal now, the kill after the grace; a paused agent is thawed first. */
  async #terminate(wasPaused: boolean, options: StopOptions): Promise<void> {
    if (wasPaused) {
      await this.#freezing?.catch(() => undefined);
      await this.#guard(() => this.#cgroup!.thaw());
    }
    if (options.grace > 0) await this.#guard(() => this.#cgroup!.signal(options.signal ?? 'SIGTERM'));
    this.#killIn(options.grace);
  }

  /** Kills the cgroup `grace` ms from now, unless a kill is due sooner already. */
  #killIn(grace: number): void {
    if (this.#state !== 'stopping') return;
    const at = performance.now() + Math.max(0, grace);
    if (at >= this.#killAt) return;
    this.#killAt = at;
    clearTimeout(this.#killTimer);
    const kill = (): void => void this.#guard(() => this.#cgroup!.kill());
    if (grace <= 0) return kill();
    // unref'd, and cleared when the agent ends first: no timer outlives the agent (or dispose()).
    this.#killTimer = setTimeout(kill, grace);
    this.#killTimer.unref();
  }

  #arm(policy: TimeoutPolicy): void {
    const cgroup = this.#cgroup!;
    this.#timer = policy.arm(
      {
        // Only while the pid is still in the agent's cgroup: it can never be a recycled pid.
        signalMain: (signal) => {
          if (this.#pid !== undefined && cgroup.procs().includes(this.#pid)) signalQuietly(this.#pid, signal);
        },
        signalAll: (signal) => void cgroup.signal(signal),
        onSoftTimeout: (info) => this.#ctx.emit(this.agent, 'soft-timeout', info),
        onHardTimeout: ({ signal, grace, ...info }) => {
          this.#ctx.emit(this.agent, 'hard-timeout', info);
          void this.stop('timeout', { grace, signal, details: { ...info } });
        },
      },
      { onError: (error) => this.#error(error) },
    );
    if (this.#extension > 0) this.#timer.extend(this.#extension);
  }

  /** Watches the run to its end: the main process (or, adopted, the cgroup emptying), then cleans up. */
  #run(): void {
    this.#watcher!.on('memory', () => this.#reportOom());
    void this.#lifetime();
  }

  async #lifetime(): Promise<void> {
    let exitCode: number | null = null;
    let signal: NodeJS.Signals | null = null;
    try {
      if (this.#subprocess) {
        const outcome = await this.#subprocess;
        exitCode = outcome.exitCode ?? null;
        signal = (outcome.signal as NodeJS.Signals | undefined) ?? null;
      } else {
        const cgroup = this.#cgroup!;
        await new Promise<void>((resolve) => {
          this.#watcher!.once('empty', resolve);
          if (!cgroup.populated()) resolve();
        });
      }
    } catch (error) {
      // The end cannot be watched (an unreadable cgroup.events): end it rather than wait forever.
      this.#error(error);
    }
    await this.#finish(exitCode, signal);
  }

  /**
   * The exit path. Every kernel read and cleanup step is guarded on its own: a failing read
   * (ERR_CGROUP_IO, EMFILE under load) is reported as an `error` event and never leaves the run
   * unsettled, its cgroup, record or lease held.
   */
  async #finish(exitCode: number | null, signal: NodeJS.Signals | null): Promise<void> {
    this.#timer?.clear();
    clearTimeout(this.#killTimer);
    const cgroup = this.#cgroup!;
    let failure: Error | undefined;
    const note = (error: Error | undefined): void => void (failure ??= error);
    // systemd's KillMode=control-group: when the main process ends, so does everything it left.
    note(await this.#guard(async () => void (cgroup.populated() && (await cgroup.kill()))));
    // The last look at the counters reports any OOM kill not seen yet (check() reports its own errors).
    this.#watcher!.check();
    let peakMemory = 0;
    // One small read rather than stats(): this runs once per agent, on the spawn/exit hot path.
    note(await this.#guard(() => void (peakMemory = cgroup.peakMemory() ?? 0)));
    this.#watcher!.close();
    note(await this.#release(this.#spec.keepCgroup ? undefined : cgroup));
    const oomKills = this.#oom.kills;
    const reason = this.#stop?.reason ?? (oomKills > 0 ? 'oom' : 'exit');
    this.#end({ exitCode, signal, reason, peakMemory, oomKills, ...(failure && { error: failure }) }, true);
  }

  /** Deletes `cgroup` (if given), ends the leases (the user last, run-leases.ts), removes the record: each step on its own. */
  async #release(cgroup: RunCgroup | undefined): Promise<Error | undefined> {
    const steps = [...(cgroup ? [() => cgroup.delete()] : []), ...this.#leases.releases(), () => this.#ctx.state.remove(this.id)];
    const errors: Array<Error | undefined> = [];
    for (const step of steps) errors.push(await this.#guard(step));
    return errors.find((error) => error !== undefined);
  }

  #end(outcome: Partial<AgentResult> & Pick<AgentResult, 'reason'>, emit: boolean): void {
    this.#to('exited');
    const result: AgentResult = {
      id: this.id,
      exitCode: null,
      signal: null,
      peakMemory: 0,
      oomKills: 0,
      durationMs: this.#startedAt === undefined ? 0 : Date.now() - this.#startedAt,
      ...outcome,
    };
    this.#settle(result);
    this.#ctx.ended(this);
    try {
      if (emit) this.#ctx.emit(this.agent, 'exit', result);
    } finally {
      this.agent.removeAllListeners();
    }
  }

  #reportOom(): void {
    const event = this.#oom.next(this.#watcher!.counters, this.#cgroup!, this.#spec.limits.memoryMax);
    if (event) this.#ctx.emit(this.agent, 'oom', event);
  }

  #write(): void {
    const { workspace, user } = this.#leases;
    const record: AgentRecord = { ...this.#spec.info, pid: this.#pid, startedAt: this.#startedAt!, workspace, ...(user && { user }), owner: process.pid };
    this.#ctx.state.write(record);
  }

  /** Runs a step; a throw or rejection becomes an `error` event and is returned, never thrown. */
  async #guard(step: () => unknown): Promise<Error | undefined> {
    try {
      await step();
      return undefined;
    } catch (error) {
      return this.#error(error);
    }
  }

  #error(error: unknown): Error {
    const err = error instanceof Error ? error : new Error(String(error));
    this.#ctx.emit(this.agent, 'error', err);
    return err;
  }
}
