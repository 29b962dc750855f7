/**
 * `nova-agent-host/bullmq`: a fleet of hosts on one BullMQ queue. Each node's orchestrator runs
 * an AgentHost and an agent worker that fetches jobs only while its host has room; producers add
 * agent jobs with {@link enqueueAgent}. `bullmq` (and its Redis client, `ioredis`) are optional
 * peer dependencies, loaded by this entry point only.
 *
 * @module nova-agent-host/bullmq
 */
export { createAgentWorker, AgentWorker, AgentWorkerOutcomes, type AgentWorkerHost, type AgentWorkerOptions, type AgentWorkerEvents, type AgentJobOutcomeEvent } from './worker.js';
export { enqueueAgent } from './producer.js';
export { validateJobData, type AgentJobData, type AgentJobResult, type AgentJobProgress } from './job.js';
export { agentOutcome, AgentJobError, type AgentOutcome, type OutcomeContext, type RetryOomOptions } from './outcome.js';
export { collectFleetMetrics, type CollectFleetMetricsOptions, type FleetMetricsHandle, type FleetMetricsSource } from '../metrics/fleet.js';
