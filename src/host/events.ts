/**
 * The typed events of agents and of the host, and the shapes they carry. The host's agent events
 * are derived from the agent's own (the agent first), so the two lists cannot drift apart. This
 * file imports no class: `Agent` is a type parameter, which keeps agent.ts ↔ events.ts acyclic.
 */
import type { MemoryEvents } from '../cgroup/stats.js';
import type { AgentPressureEvent, HostPressureEvent, PauseInfo, ReliefReport } from '../monitor/types.js';
import type { PreflightReport } from '../setup/report.js';
import type { ExpectedSource } from './peaks.js';
import type { OomScope } from './oom-scope.js';

/**
 * Where an agent is in its life: waiting for admission, being placed (`starting`), running, frozen
 * (`paused`), being stopped, or ended and cleaned up. `AgentRun` owns the one transition table.
 */
export type AgentState = 'queued' | 'starting' | 'running' | 'paused' | 'stopping' | 'exited';

/**
 * Why an agent ended: it exited on its own, the kernel OOM-killed it, it was killed on request,
 * by a hard timeout, by memory relief at once (`relief`: an emergency, or a livelock), evicted by
 * memory relief after a notice and its grace (`evicted`), or it never started (`error`).
 */
export type ExitReason = 'exit' | 'oom' | 'killed' | 'timeout' | 'relief' | 'evicted' | 'error';
/** Why the host stopped an agent: on request, at its hard timeout, or to relieve host memory (at once, or after a notice). */
export type KillReason = Extract<ExitReason, 'killed' | 'timeout' | 'relief' | 'evicted'>;

/** How an agent ended, known once its cgroup is gone: what `Agent.result` resolves with. */
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
  /** Set when `reason` is `error`, or when a kernel read failed on the way out. */
  error?: Error;
}

/** The kernel OOM-killed processes in an agent's cgroup (seen through memory.events or its v1 counterpart). */
export interface OomEvent {
  /** OOM kills since the last event. */
  count: number;
  /** OOM kills in the agent's cgroup so far. */
  total: number;
  /** Every memory event counter of the cgroup at that moment (limit hits too). */
  counters: MemoryEvents;
  /**
   * Whose limit was reached: `agent`, its own memory.max; `agents-root`, a limit above it (the
   * agents' root's backstop, a container's) — the kernel chose this agent to keep the group alive.
   */
  scope: OomScope;
}

/** The host started stopping an agent; its `exit` follows once the cgroup is empty. */
export interface KillEvent {
  /** Who asked: becomes the agent's `result.reason`. */
  reason: KillReason;
  /** `true`: SIGKILL at once; `false`: a signal first (SIGTERM), SIGKILL after the grace period. */
  force: boolean;
  /** For relief and timeout kills: the figures that led to it (host memory used, the agent's working set...). */
  details?: Record<string, unknown>;
}

/**
 * Why admission by expected peak holds an agent back: its expected peak does not fit under
 * `high` × the budget beside what the running agents reserve. Bytes throughout.
 */
export interface QueueMemoryHold {
  /** The held agent's expected peak, and where that figure came from. */
  expected: number;
  source: ExpectedSource;
  /** Σ max(working set, expected peak) of the admitted agents. */
  reserved: number;
  /** Memory used outside the agents. */
  baseline: number;
  /** `high` × the budget. */
  limit: number;
  /** What is left under `limit` (negative when overcommitted). */
  free: number;
}

/** The admission queue changed: for dashboards and for knowing why agents wait. */
export interface QueueEvent {
  /**
   * Why the event fired: an agent was queued or left the queue, admission paused or resumed, or
   * the agent at the head waits for memory (`memory`: its expected peak does not fit yet; the
   * figures in {@link memory}). `memory` is sent once per agent held, not on every recheck.
   */
  reason: 'queued' | 'dequeued' | 'paused' | 'resumed' | 'memory';
  id?: string;
  /** Agents waiting. */
  size: number;
  /** Agents running (holding an admission slot). */
  running: number;
  /** @deprecated The same as {@link running} (p-queue's word for it). */
  pending: number;
  /** Whether admission is paused now (memory high, or paused by hand). */
  paused: boolean;
  /** For paused/resumed/memory: what the monitor saw, e.g. `"memory 86.2% is at level high"`. */
  why?: string;
  /** For `memory`: the figures of the decision. */
  memory?: QueueMemoryHold;
}

/** A soft or hard timeout fired for an agent. */
export interface TimeoutEvent {
  /** Time since the agent's timeouts were armed (its start, for the host). */
  elapsedMs: number;
  /** When the timeout was due, wall-clock ms since the epoch (as `Date.now()`); firing may lag it slightly. */
  deadline: number;
}

/** Events of one agent; `A` is the agent class (a parameter, so this file needs no import of it). */
export type AgentEventMap<A> = {
  /** The agent's process is inside its cgroup. */
  spawn: (agent: A) => void;
  /** The agent ended and everything was cleaned up (cgroup removed, workspace released); same as `agent.result`. */
  exit: (result: AgentResult) => void;
  /** The kernel OOM-killed processes of the agent (not necessarily its main process). */
  oom: (event: OomEvent) => void;
  /** The host started stopping the agent (on request, at its hard timeout, for relief). */
  kill: (event: KillEvent) => void;
  /** The soft signal (default SIGUSR1) went out: the agent should wrap up. */
  'soft-timeout': (event: TimeoutEvent) => void;
  /** The hard timeout fired: the agent is stopped (hard signal, then the cgroup killed after the grace period). */
  'hard-timeout': (event: TimeoutEvent) => void;
  /** The monitor saw the agent throttled at memory.high, or in a reclaim livelock. */
  pressure: (event: AgentPressureEvent) => void;
  /** The memory monitor froze the agent (host memory above `high` and rising): nothing runs, its timeouts' clock stops. */
  pause: (event: PauseInfo) => void;
  /** The memory monitor thawed the agent (host memory back under the resume mark). */
  resume: (event: PauseInfo) => void;
  /** A cleanup step or a kill of this agent failed; the agent's lifecycle goes on. */
  error: (error: Error) => void;
};

/** An agent event as the host emits it: the agent first, then the agent event's arguments. */
type WithAgent<A, E> = { [K in keyof E]: E[K] extends (...args: infer P) => void ? (agent: A, ...args: P) => void : never };

/** Events of the host itself, not about one agent. */
export type HostOnlyEventMap<A> = {
  /** An agent was queued or dequeued, or admission paused or resumed. */
  queue: (event: QueueEvent) => void;
  /** Host memory level changes, and per-agent throttling or livelock (from the MemoryMonitor). */
  pressure: (event: HostPressureEvent | AgentPressureEvent) => void;
  /** A relief round (auto-kill or `relieve()`) finished. */
  relief: (report: ReliefReport) => void;
  /** The host preflight `start()` ran (unless `preflight: 'off'`). */
  preflight: (report: PreflightReport) => void;
  /** An agent found alive by `start()` after an orchestrator restart. */
  adopt: (agent: A) => void;
  /** Something failed outside any caller's promise (a cleanup step, the monitor); `agent` when it concerns one. */
  error: (error: Error, agent?: A) => void;
};

/**
 * Events of the host: every agent event with the agent first (`spawn` carries just the agent;
 * `pressure` and `error` also come without one), plus the host-wide ones.
 */
export type HostEventMap<A> = Omit<WithAgent<A, AgentEventMap<A>>, 'spawn' | keyof HostOnlyEventMap<A>> &
  Pick<AgentEventMap<A>, 'spawn'> &
  HostOnlyEventMap<A>;
