/**
 * `nova-agent-host/agent`: the tiny, dependency-free side that runs inside an agent's own
 * harness. It must not import anything from the orchestrator side: only `node:` built-ins and
 * the files of this directory.
 *
 * @module nova-agent-host/agent
 */
export { AGENT_CGROUP_ENV, findAgentCgroup, type AgentCgroup, type AgentOptions } from './locate.js';
export { memoryUsage, shouldReduceMemoryUsage, type MemoryUsage, type MemoryUsageOptions } from './memory.js';
export { onEviction, type EvictionNotice, type EvictionOptions, type EvictionSubscription } from './eviction.js';
export { onPressure, type PressureEvent, type PressureOptions, type PressureSubscription } from './pressure.js';
export { onTimeoutSignals, type TimeoutSignals, type TimeoutSignalsOptions } from './signals.js';
export { INVALID_OPTION } from './errors.js';
