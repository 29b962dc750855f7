/** The typed event maps of AgentHost and Agent. */
import type { MemoryEvents } from '../cgroup/stats.js';
import type { PreflightReport } from '../setup/report.js';
import type { Agent, AgentResult, KillReason } from './agent.js';

export interface OomEvent {
  /** OOM kills since the last event. */
  count: number;
  /** OOM kills in the agent's cgroup so far. */
  total: number;
  counters: MemoryEvents;
}

export interface KillEvent {
  reason: KillReason;
  force: boolean;
  /** For relief kills: the figures that led to it (host memory used, the agent's working set...). */
  details?: Record<string, unknown>;
}

export interface QueueEvent {
  /** Why the event fired: an agent was queued or left the queue, or admission paused or resumed. */
  reason: 'queued' | 'dequeued' | 'paused' | 'resumed';
  id?: string;
  /** Agents waiting. */
  size: number;
  /** Agents running. */
  pending: number;
  paused: boolean;
  /** For paused/resumed: what the monitor saw, e.g. `"memory 86.2% >= 85%"`. */
  why?: string;
}

export interface TimeoutEvent {
  elapsedMs: number;
  deadline: number;
}

/** Events of one agent. */
export type AgentEvents = {
  spawn: (agent: Agent) => void;
  exit: (result: AgentResult) => void;
  oom: (event: OomEvent) => void;
  kill: (event: KillEvent) => void;
  'soft-timeout': (event: TimeoutEvent) => void;
  'hard-timeout': (event: TimeoutEvent) => void;
  pressure: (event: { kind: 'throttled' | 'livelock'; [key: string]: unknown }) => void;
  error: (error: Error) => void;
};

/** Events of the host: every agent event, with the agent first, plus host-wide ones. */
export type AgentHostEvents = {
  spawn: (agent: Agent) => void;
  exit: (agent: Agent, result: AgentResult) => void;
  oom: (agent: Agent, event: OomEvent) => void;
  kill: (agent: Agent, event: KillEvent) => void;
  queue: (event: QueueEvent) => void;
  'soft-timeout': (agent: Agent, event: TimeoutEvent) => void;
  'hard-timeout': (agent: Agent, event: TimeoutEvent) => void;
  /** Host memory level changes and per-agent throttling (from the MemoryMonitor). */
  pressure: (event: { scope: 'host' | 'agent'; [key: string]: unknown }) => void;
  /** A relief round (auto-kill or `relieve()`) finished. */
  relief: (report: unknown) => void;
  /** The host preflight `start()` ran (unless `preflight: 'off'`). */
  preflight: (report: PreflightReport) => void;
  /** An agent found alive by `start()` after an orchestrator restart. */
  adopt: (agent: Agent) => void;
  error: (error: Error, agent?: Agent) => void;
};
