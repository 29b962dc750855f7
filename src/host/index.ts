export { AgentHost, AGENT_CGROUP_ENV, AGENT_ID_ENV, type AgentHostEvents, type AgentHostOptions, type AgentKillOptions, type PreflightMode, type SpawnAgentOptions } from './agent-host.js';
export { Agent, type AgentEvents, type AgentInfo, type AgentResult, type AgentState, type ExitReason, type KillReason } from './agent.js';
export type { KillEvent, OomEvent, QueueEvent, QueueMemoryHold, TimeoutEvent } from './events.js';
export type { ExpectedSource, PeakBookOptions } from './peaks.js';
export type { Logger } from './logger.js';
export { SUPERVISOR, type BackstopOptions, type Placement, type PlacementOptions } from './placement.js';
export { oomScope, type OomScope } from './oom-scope.js';
export {
  formatMemoryReport,
  formatStatus,
  type AgentMemoryRow,
  type AgentStatusRow,
  type HostStatus,
  type MemoryReport,
} from './report.js';
export { WorkspacePool, type LeaseRecord, type WorkspacePoolOptions } from './workspaces.js';
