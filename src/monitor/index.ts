export { MemoryMonitor } from './monitor.js';
export { defaultVictimPolicy } from './victims.js';
export { MONITOR_DEFAULTS } from './options.js';
export { findBudget, type Budget, type BudgetOption, type BudgetOptions, type BudgetSource } from './budget.js';
export type {
  AgentPressureEvent,
  EvictionNoticeOptions,
  AgentSample,
  HostMemory,
  HostPressureEvent,
  LivelockOptions,
  MemoryLevel,
  MemoryMonitorOptions,
  MonitoredAgent,
  MonitorEvents,
  MonitorHost,
  PauseInfo,
  PauseOptions,
  ReliefKill,
  ReliefOutcome,
  ReliefReport,
  ReliefTrigger,
  RelieveOptions,
  VictimCandidate,
  VictimPolicy,
} from './types.js';
