/** The typed event maps of AgentHost and Agent. */
import type { MemoryEvents } from '../cgroup/stats.js';
import type { PreflightReport } from '../setup/report.js';
import type { Agent, AgentResult, KillReason } from './agent.js';

/** The kernel OOM-killed processes in an agent's cgroup (seen through memory.events or its v1 counterpart). */
export interface OomEvent {
  /** OOM kills since the last event. */
  count: number;
  /** OOM kills in the agent's cgroup so far. */
  total: number;
  /** Every memory event counter of the cgroup at that moment (limit hits too). */
  counters: MemoryEvents;
}

/** The host started killing an agent; its `exit` follows once the cgroup is empty. */
export interface KillEvent {
  /** Who asked: becomes the agent's `result.reason`. */
  reason: KillReason;
  /** `true`: SIGKILL at once; `false`: SIGTERM first, SIGKILL after the grace period. */
  force: boolean;
  /** For relief kills: the figures that led to it (host memory used, the agent's working set...). */
  details?: Record<string, unknown>;
}

/** The admission queue changed: for dashboards and for knowing why agents wait. */
export interface QueueEvent {
  /** Why the event fired: an agent was queued or left the queue, or admission paused or resumed. */
  reason: 'queued' | 'dequeued' | 'paused' | 'resumed';
  id?: string;
  /** Agents waiting. */
  size: number;
  /** Agents running. */
  pending: number;
  /** Whether admission is paused now (memory high, or paused by hand). */
  paused: boolean;
  /** For paused/resumed: what the monitor saw, e.g. `"memory 86.2% >= 85%"`. */
  why?: string;
}

/** A soft or hard timeout fired for an agent. */
export interface TimeoutEvent {
  /** Time since the agent's timeouts were armed (its start, for the host). */
  elapsedMs: number;
  /** When the timeout was due, wall-clock ms since the epoch (as `Date.now()`); firing may lag it slightly. */
  deadline: number;
}

/** Events of one agent. */
export type AgentEvents = {
  /** The agent's process is inside its cgroup. */
  spawn: (agent: Agent) => void;
  /** The agent ended and everything was cleaned up (cgroup removed, workspace released); same as `agent.result`. */
  exit: (result: AgentResult) => void;
  /** The kernel OOM-killed processes of the agent (not necessarily its main process). */
  oom: (event: OomEvent) => void;
  /** The host started killing the agent. */
  kill: (event: KillEvent) => void;
  /** The soft signal (default SIGUSR1) went out: the agent should wrap up. */
  'soft-timeout': (event: TimeoutEvent) => void;
  /** The hard signal (default SIGTERM) went out; the cgroup is killed after the grace period. */
  'hard-timeout': (event: TimeoutEvent) => void;
  /** The monitor saw the agent throttled at memory.high, or in a reclaim livelock. */
  pressure: (event: { kind: 'throttled' | 'livelock'; [key: string]: unknown }) => void;
  /** A cleanup step or a kill of this agent failed; the agent's lifecycle goes on. */
  error: (error: Error) => void;
};

/** Events of the host: every agent event, with the agent first, plus host-wide ones. */
export type AgentHostEvents = {
  /** An agent's process is inside its cgroup. */
  spawn: (agent: Agent) => void;
  /** An agent ended and was cleaned up. */
  exit: (agent: Agent, result: AgentResult) => void;
  /** The kernel OOM-killed processes of an agent. */
  oom: (agent: Agent, event: OomEvent) => void;
  /** The host started killing an agent (by request, timeout or relief). */
  kill: (agent: Agent, event: KillEvent) => void;
  /** An agent was queued or dequeued, or admission paused or resumed. */
  queue: (event: QueueEvent) => void;
  /** An agent got its soft timeout signal. */
  'soft-timeout': (agent: Agent, event: TimeoutEvent) => void;
  /** An agent got its hard timeout signal. */
  'hard-timeout': (agent: Agent, event: TimeoutEvent) => void;
  /** Host memory level changes and per-agent throttling (from the MemoryMonitor). */
  pressure: (event: { scope: 'host' | 'agent'; [key: string]: unknown }) => void;
  /** A relief round (auto-kill or `relieve()`) finished. */
  relief: (report: unknown) => void;
  /** The host preflight `start()` ran (unless `preflight: 'off'`). */
  preflight: (report: PreflightReport) => void;
  /** An agent found alive by `start()` after an orchestrator restart. */
  adopt: (agent: Agent) => void;
  /** Something failed outside any caller's promise (a cleanup step, the monitor); `agent` when it concerns one. */
  error: (error: Error, agent?: Agent) => void;
};
