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
  const onPressure = (event: AgentPressureEvent): void => progress('pressure', { ...event });
  // Frozen by the host under memory pressure (and thawed): the job is alive, only waiting.
  const onPause = (event: PauseInfo): void => progress('paused', { ...event });
  const onResume = (event: PauseInfo): void => progress('resumed', { ...event });
  const onSoft = (event: { elapsedMs: number }): void => progress('soft-timeout', { elapsedMs: event.elapsedMs });
  const onOom = (event: { count: number; total: number; scope: string }): void => progress('oom', { count: event.count, total: event.total, scope: event.scope });
  const onKill = (event: { reason: string; force: boolean }): void => progress('killing', { reason: event.reason, force: event.force });
  agent.on('pressure', onPressure);
  agent.on('pause', onPause);
  agent.on('resume', onResume);
  agent.on('soft-timeout', onSoft);
  agent.on('oom', onOom);
  agent.on('kill', onKill);
  progress('started');
  return () => {
    agent.off('pressure', onPressure);
    agent.off('pause', onPause);
    agent.off('resume', onResume);
    agent.off('soft-timeout', onSoft);
    agent.off('oom', onOom);
    agent.off('kill', onKill);
  };
}
