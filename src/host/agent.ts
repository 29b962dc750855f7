/** One agent as the orchestrator sees it: a read-only view over the run that owns its state. */
import type { Readable, Writable } from 'node:stream';
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Subprocess } from '../cgroup/spawn.js';
import type { CgroupStats } from '../cgroup/stats.js';
import type { Duration } from '../util/duration.js';
import type { AgentUserRecord } from '../users/index.js';
import { Emitter } from '../util/emitter.js';
import type { AgentEventMap, AgentResult, AgentState } from './events.js';

export type { AgentResult, AgentState, ExitReason, KillReason } from './events.js';

/** Events of one agent. */
export type AgentEvents = AgentEventMap<Agent>;

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
  /** The spawn's `profile`: agents alike in memory, whose peaks the host learns together. */
  profile?: string;
  /** The spawn's `expectedMemory`, bytes. */
  expectedMemory?: number;
}

/**
 * @internal The run behind an {@link Agent} (`AgentRun`): the one owner of its state. The agent
 * only reads it, so there is nothing for the host to keep in step.
 */
export interface AgentSource {
  readonly state: AgentState;
  readonly pid: number | undefined;
  readonly cgroup: Cgroup | undefined;
  readonly workspace: string | undefined;
  readonly user: AgentUserRecord | undefined;
  readonly startedAt: number | undefined;
  readonly subprocess: Subprocess | undefined;
  readonly result: Promise<AgentResult>;
  kill(options?: { force?: boolean }): Promise<AgentResult>;
  extendTimeout(ms: Duration): void;
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
  readonly profile: string | undefined;
  readonly expectedMemory: number | undefined;
  readonly #run: AgentSource;

  /** @internal Agents are made by {@link AgentHost.spawn}. */
  constructor(info: AgentInfo, run: AgentSource) {
    super();
    this.id = info.id;
    this.command = info.command;
    this.args = info.args;
    this.priority = info.priority;
    this.protected = info.protected;
    this.preferred = info.preferred;
    this.profile = info.profile;
    this.expectedMemory = info.expectedMemory;
    this.#run = run;
  }

  /** Resolves when the agent has ended, whatever the reason; never rejects. */
  get result(): Promise<AgentResult> {
    return this.#run.result;
  }

  /** Where the agent is in its life now. */
  get state(): AgentState {
    return this.#run.state;
  }

  /** Pid of the main process (the shim's pid, which became the command by exec). */
  get pid(): number | undefined {
    return this.#run.pid;
  }

  /** The agent's own cgroup, once placed (`undefined` while queued). */
  get cgroup(): Cgroup | undefined {
    return this.#run.cgroup;
  }

  /** The leased workspace slot, if the agent asked for one. */
  get workspace(): string | undefined {
    return this.#run.workspace;
  }

  /**
   * Who the agent runs as: its `uid` and `gid`, whether they are `dynamic` (leased for its life),
   * and the `home` made for it (none when its workspace is its HOME). `undefined` when it runs as
   * the orchestrator's own user (`user: 'root'`, or a non-root orchestrator).
   */
  get user(): Readonly<AgentUserRecord> | undefined {
    return this.#run.user;
  }

  /** When the run started (ms since the epoch). */
  get startedAt(): number | undefined {
    return this.#run.startedAt;
  }

  /** The main process's stdin, when spawned with `stdio: 'pipe'`. */
  get stdin(): Writable | null {
    return this.#run.subprocess?.stdin ?? null;
  }
  /** The main process's stdout, when spawned with `stdio: 'pipe'`. */
  get stdout(): Readable | null {
    return this.#run.subprocess?.stdout ?? null;
  }
  /** The main process's stderr, when spawned with `stdio: 'pipe'`. */
  get stderr(): Readable | null {
    return this.#run.subprocess?.stderr ?? null;
  }

  /** Memory and pids figures of the agent's cgroup now. */
  stats(): CgroupStats | undefined {
    const cgroup = this.#run.cgroup;
    return cgroup?.exists() ? cgroup.stats() : undefined;
  }

  /**
   * Graceful by default: SIGTERM to every process, wait the grace period, then kill the cgroup.
   * An agent that has ended resolves with its result (a stale agent never touches a new one of the same id).
   */
  kill(options?: { force?: boolean }): Promise<AgentResult> {
    return this.#run.kill(options);
  }

  /** Pushes the soft and hard deadlines out by `ms` (while queued: from the start of its run). */
  extendTimeout(ms: Duration): void {
    this.#run.extendTimeout(ms);
  }

  /** The identifying fields only (no streams, no cgroup object), so an agent logs and serialises cleanly. */
  toJSON(): Record<string, unknown> {
    return { id: this.id, state: this.state, pid: this.pid, cgroup: this.cgroup?.path, workspace: this.workspace, uid: this.user?.uid, startedAt: this.startedAt };
  }
}
