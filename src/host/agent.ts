/** One agent: a process tree in its own cgroup, as the orchestrator sees it. */
import type { Readable, Writable } from 'node:stream';
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Subprocess } from '../cgroup/spawn.js';
import type { CgroupStats } from '../cgroup/stats.js';
import { Emitter } from '../util/emitter.js';
import type { AgentEvents } from './events.js';

/** Where an agent is in its life: waiting for admission, running, being killed, or ended and cleaned up. */
export type AgentState = 'queued' | 'running' | 'stopping' | 'exited';

/**
 * Why an agent ended: it exited on its own, the kernel OOM-killed it, it was killed on request,
 * by a hard timeout, by memory relief, or it never started (`error`).
 */
export type ExitReason = 'exit' | 'oom' | 'killed' | 'timeout' | 'relief' | 'error';
/** Why the host killed an agent: on request, at its hard timeout, or to relieve host memory. */
export type KillReason = Extract<ExitReason, 'killed' | 'timeout' | 'relief'>;

/** How an agent ended, known once its cgroup is gone: what {@link Agent.result} resolves with. */
export interface AgentResult {
  id: string;
  /** Exit code of the main process; `null` if a signal ended it or it was adopted (unknown). */
  exitCode: number | null;
  /** The signal that ended the main process, if one did. */
  signal: NodeJS.Signals | null;
  /** The cause, decided by the host (an OOM kill ends with SIGKILL too, but its reason is `oom`). */
  reason: ExitReason;
  /** Highest memory use of the whole cgroup, in bytes. */
  peakMemory: number;
  /** OOM kills in the agent's cgroup. */
  oomKills: number;
  /** From the start of the run (not of the queueing) to the end. */
  durationMs: number;
  /** Set when `reason` is `error`. */
  error?: Error;
}

/** What an agent was spawned with and does not change: the fields relief and reports rank it by. */
export interface AgentInfo {
  /** The id given to `spawn()`; also its cgroup's name. */
  id: string;
  /** The command as given (before PATH lookup). */
  command: string;
  args: readonly string[];
  /** Higher leaves the queue first and is killed last by relief. */
  priority: number;
  /** Never chosen as a relief victim. */
  protected: boolean;
  /** Chosen first as a relief victim. */
  preferred: boolean;
}

/** Hooks the host gives each agent, so its methods can act through the host. */
export interface AgentControl {
  kill(agent: Agent, options?: { force?: boolean }): Promise<AgentResult>;
  extendTimeout(agent: Agent, ms: number): void;
}

/**
 * One agent as the orchestrator sees it: its state, pid, cgroup and workspace, its figures on
 * demand, its events, and `result`, which resolves once it has ended and been cleaned up. Made by
 * {@link AgentHost.spawn}; the host holds it until the end.
 */
export class Agent extends Emitter<AgentEvents> implements AgentInfo {
  readonly id: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly priority: number;
  readonly protected: boolean;
  readonly preferred: boolean;
  /** Resolves when the agent has ended, whatever the reason; never rejects. */
  readonly result: Promise<AgentResult>;

  #state: AgentState = 'queued';
  #pid: number | undefined;
  #cgroup: Cgroup | undefined;
  #workspace: string | undefined;
  #startedAt: number | undefined;
  #subprocess: Subprocess | undefined;
  #resolve!: (result: AgentResult) => void;
  readonly #control: AgentControl;

  /** @internal Agents are made by {@link AgentHost.spawn}. */
  constructor(info: AgentInfo, control: AgentControl) {
    super();
    this.id = info.id;
    this.command = info.command;
    this.args = info.args;
    this.priority = info.priority;
    this.protected = info.protected;
    this.preferred = info.preferred;
    this.#control = control;
    this.result = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Where the agent is in its life now. */
  get state(): AgentState {
    return this.#state;
  }

  /** Pid of the main process (the shim's pid, which became the command by exec). */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** The agent's own cgroup, once placed (`undefined` while queued). */
  get cgroup(): Cgroup | undefined {
    return this.#cgroup;
  }

  /** The leased workspace slot, if the agent asked for one. */
  get workspace(): string | undefined {
    return this.#workspace;
  }

  /** When the run started (ms since the epoch). */
  get startedAt(): number | undefined {
    return this.#startedAt;
  }

  /** The main process's stdio streams, when spawned with `stdio: 'pipe'`. */
  get stdin(): Writable | null {
    return this.#subprocess?.stdin ?? null;
  }
  /** The main process's stdout, when spawned with `stdio: 'pipe'`. */
  get stdout(): Readable | null {
    return this.#subprocess?.stdout ?? null;
  }
  /** The main process's stderr, when spawned with `stdio: 'pipe'`. */
  get stderr(): Readable | null {
    return this.#subprocess?.stderr ?? null;
  }

  /** Memory and pids figures of the agent's cgroup now. */
  stats(): CgroupStats | undefined {
    return this.#cgroup?.exists() ? this.#cgroup.stats() : undefined;
  }

  /** Graceful by default: SIGTERM to every process, wait the grace period, then kill the cgroup. */
  kill(options?: { force?: boolean }): Promise<AgentResult> {
    return this.#control.kill(this, options);
  }

  /** Pushes the soft and hard deadlines out by `ms`. */
  extendTimeout(ms: number): void {
    this.#control.extendTimeout(this, ms);
  }

  /** @internal */
  _running(details: { pid: number | undefined; cgroup: Cgroup; workspace?: string; startedAt: number; subprocess?: Subprocess }): void {
    this.#state = 'running';
    this.#pid = details.pid;
    this.#cgroup = details.cgroup;
    this.#workspace = details.workspace;
    this.#startedAt = details.startedAt;
    this.#subprocess = details.subprocess;
  }

  /** @internal */
  _placed(cgroup: Cgroup, workspace: string | undefined): void {
    this.#cgroup = cgroup;
    this.#workspace = workspace;
  }

  /** @internal */
  _stopping(): void {
    if (this.#state === 'running') this.#state = 'stopping';
  }

  /** @internal */
  _exited(result: AgentResult): void {
    this.#state = 'exited';
    this.#resolve(result);
  }

  /** The identifying fields only (no streams, no cgroup object), so an agent logs and serialises cleanly. */
  toJSON(): Record<string, unknown> {
    return { id: this.id, state: this.#state, pid: this.#pid, cgroup: this.#cgroup?.path, workspace: this.#workspace, startedAt: this.#startedAt };
  }
}
