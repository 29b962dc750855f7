/** One agent: a process tree in its own cgroup, as the orchestrator sees it. */
import type { Readable, Writable } from 'node:stream';
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Subprocess } from '../cgroup/join.js';
import type { CgroupStats } from '../cgroup/stats.js';
import { Emitter } from '../util/emitter.js';
import type { AgentEvents } from './events.js';

export type AgentState = 'queued' | 'running' | 'stopping' | 'exited';

/**
 * Why an agent ended: it exited on its own, the kernel OOM-killed it, it was killed on request,
 * by a hard timeout, by memory relief, or it never started (`error`).
 */
export type ExitReason = 'exit' | 'oom' | 'killed' | 'timeout' | 'relief' | 'error';
export type KillReason = Extract<ExitReason, 'killed' | 'timeout' | 'relief'>;

export interface AgentResult {
  id: string;
  /** Exit code of the main process; `null` if a signal ended it or it was adopted (unknown). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
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

export interface AgentInfo {
  id: string;
  command: string;
  args: readonly string[];
  priority: number;
  protected: boolean;
  preferred: boolean;
}

/** Hooks the host gives each agent, so its methods can act through the host. */
export interface AgentControl {
  kill(agent: Agent, options?: { force?: boolean }): Promise<AgentResult>;
  extendTimeout(agent: Agent, ms: number): void;
}

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

  get state(): AgentState {
    return this.#state;
  }

  /** Pid of the main process (the shim's pid, which became the command by exec). */
  get pid(): number | undefined {
    return this.#pid;
  }

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
  get stdout(): Readable | null {
    return this.#subprocess?.stdout ?? null;
  }
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

  toJSON(): Record<string, unknown> {
    return { id: this.id, state: this.#state, pid: this.#pid, cgroup: this.#cgroup?.path, workspace: this.#workspace, startedAt: this.#startedAt };
  }
}
