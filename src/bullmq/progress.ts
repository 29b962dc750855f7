/** A running agent's events as its job's progress (`job.updateProgress`), so producers can follow it. */
import type { Job } from 'bullmq';
import type { Agent } from '../host/agent.js';
import type { AgentPressureEvent, PauseInfo } from '../monitor/types.js';
import type { AgentJobProgress } from './job.js';

/** Reports `started` now, then pressure, pauses and resumes, soft timeouts, OOM kills and kills; returns the function that stops listening. */
export function reportProgress(job: Pick<Job, 'updateProgress'>, agent: Agent, node: string): () => void {
  const progress = (stage: AgentJobProgress['stage'], details?: Record<string, unknown>): void => {
    const value: AgentJobProgress = { stage, node, at: Date.now(), ...(agent.pid !== undefined ? { pid: agent.pid } : {}), ...(details ? { details } : {}) };
    // Progress is advisory: a lost connection must not fail the agent.
    job.updateProgress(value as unknown as object).catch(() => undefined);
  };
  // Frozen by the host under memory pressure (and thawed): the job is alive, only waiting.
  const listeners = {
    pressure: (event: AgentPressureEvent) => progress('pressure', { ...event }),
    pause: (event: PauseInfo) => progress('paused', { ...event }),
    resume: (event: PauseInfo) => progress('resumed', { ...event }),
    'soft-timeout': (event: { elapsedMs: number }) => progress('soft-timeout', { elapsedMs: event.elapsedMs }),
    oom: (event: { count: number; total: number; scope: string }) => progress('oom', { count: event.count, total: event.total, scope: event.scope }),
    kill: (event: { reason: string; force: boolean }) => progress('killing', { reason: event.reason, force: event.force }),
  };
  const events = Object.keys(listeners) as Array<keyof typeof listeners>;
  for (const event of events) agent.on(event, listeners[event] as never);
  progress('started');
  return () => {
    for (const event of events) agent.off(event, listeners[event] as never);
  };
}
