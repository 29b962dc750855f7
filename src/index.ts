/**
 * `nova-agent-host`: the orchestrator side — cgroups, the agent host, timeouts, host setup, metrics.
 * The side that runs inside an agent is `nova-agent-host/agent`.
 *
 * @module nova-agent-host
 */
export * from './cgroup/index.js';
export { AgentHostError, ErrorCode, isAgentHostError, type AgentHostErrorOptions } from './errors.js';
export { parseSize, formatBytes, type Size } from './util/size.js';
export { parseDuration, type Duration } from './util/duration.js';
export { validateName } from './util/name.js';
export * from './timeout/index.js';
export * from './host/index.js';
export * from './users/index.js';
export * from './monitor/index.js';
export * from './setup/index.js';
export * from './metrics/index.js';
