export { preflight, assertIsolation, failingChecks, type PreflightOptions, type AssertIsolationOptions } from './preflight.js';
export type { CheckStatus, PreflightCheck, PreflightReport } from './report.js';
export { applySetup, type ApplySetupOptions, type CommandRunner, type SetupAction, type SetupResult } from './apply.js';
export type { PersistHint } from './persist.js';
export { planCapacity, formatCapacity, type CapacityOptions, type CapacityPlan, type MemoryShare } from './capacity.js';
export type { AgentsRootLimits, ReserveOptions } from './reserve.js';
export { formatPreflight, formatSetup } from './format.js';
export { SETUP_DEFAULTS, type SetupOptions, type TmpfsSize } from './options.js';
export { SYSCTLS, type SysctlSpec } from './sysctl.js';
