export * from './cgroup/index.js';
export { AgentHostError, ErrorCode, isAgentHostError } from './errors.js';
export { parseSize, formatBytes, type Size } from './util/size.js';
export { parseDuration, type Duration } from './util/duration.js';
export { validateName } from './util/name.js';
export * from './timeout/index.js';
export * from './host/index.js';
export * from './setup/index.js';
export * from './metrics/index.js';
