export { TimeoutPolicy } from './policy.js';
export { DEFAULT_TIMEOUTS, type ResolvedTimeoutOptions, type SoftTarget, type TimeoutOptions } from './options.js';
export type { ArmOptions, HardTimeoutInfo, TimeoutInfo, TimeoutPhase, TimeoutTarget, TimeoutTimer } from './timer.js';
