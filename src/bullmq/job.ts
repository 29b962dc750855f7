/**
 * The job data of an agent job and its translation into `host.spawn()` options: what travels
 * through Redis is JSON, so only the serialisable part of the spawn options is here.
 */
import type { Limits } from '../cgroup/limits.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { SpawnAgentOptions } from '../host/agent-host.js';
import type { ExitReason } from '../host/agent.js';
import type { TimeoutOptions } from '../timeout/index.js';
import { validateName } from '../util/name.js';
import type { Size } from '../util/size.js';

/**
 * One agent as a BullMQ job: what `host.spawn(id, …)` takes, as JSON. {@link enqueueAgent} uses
 * `id` as the job id too, which makes adding the same agent twice a no-op and lets a restarted
 * node recognise the agents it left running as jobs of the queue.
 */
export interface AgentJobData {
  /** The agent's id on the node (its cgroup's name) and the job's id. */
  id: string;
  /** The executable, looked up on the agent's PATH. */
  command: string;
  /** Its arguments, passed as they are (no shell). */
  args?: string[];
  /** Working directory on the node. */
  cwd?: string;
  /** Environment variables, over the orchestrator's own. */
  env?: Record<string, string>;
  /** Lease a workspace slot of the node's pool and use it as `cwd` (the host needs `workspaces`). */
  workspace?: boolean;
  /** Overrides of the node host's limits for this agent. */
  limits?: Limits;
  /** This agent's timeouts over the host's; time counts from the start of the run. */
  timeouts?: TimeoutOptions;
  /**
   * The agent's expected peak memory, forwarded to `host.spawn()`: its admission counts it before the
   * agent has grown (default: what the host learned for the `profile`).
   */
  expectedMemory?: Size;
  /** What kind of agent this is (a repository plus a task kind): the host learns its peak memory per profile for admission. */
  profile?: string;
  /** Higher runs first, in the queue (BullMQ priority is set by {@link enqueueAgent}) and on the node. Default 0. */
  priority?: number;
}

/** What an agent job resolves with (its BullMQ return value) and what a failed one carries. */
export interface AgentJobResult {
  /** The agent's id. */
  id: string;
  /** The node that ran it ({@link AgentWorkerOptions.node}). */
  node: string;
  /** Why the agent ended, as the host decided it. */
  reason: ExitReason;
  /** Exit code of the main process; `null` if a signal ended it. */
  exitCode: number | null;
  /** The signal that ended the main process, if one did. */
  signal: NodeJS.Signals | null;
  /** Highest memory use of the agent's cgroup, in bytes. */
  peakMemory: number;
  /** OOM kills in the agent's cgroup. */
  oomKills: number;
  /** From the start of the run to its end, in ms. */
  durationMs: number;
  /** From the job's creation (or the end of its delay) to its start on this node, in ms. */
  queueWaitMs: number;
}

/** What a running agent job reports through `job.updateProgress()` (the latest replaces the previous). */
export interface AgentJobProgress {
  /** What happened last. */
  stage: 'started' | 'pressure' | 'paused' | 'resumed' | 'soft-timeout' | 'oom' | 'killing';
  /** The node running the job. */
  node: string;
  /** The agent's main process, once started. */
  pid?: number;
  /** When, as `Date.now()`. */
  at: number;
  /** The host event's own fields (a pressure event's figures, a kill's reason...). */
  details?: Record<string, unknown>;
}

const KEYS = new Set<string>(['id', 'command', 'args', 'cwd', 'env', 'workspace', 'limits', 'timeouts', 'expectedMemory', 'profile', 'priority']);

/**
 * Checks the shape of job data before anything is created: a producer's typo must fail the job
 * (not be retried on every node). `ERR_INVALID_OPTION` / `ERR_INVALID_NAME` otherwise.
 */
export function validateJobData(data: unknown): asserts data is AgentJobData {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'agent job data must be an object { id, command, … }');
  }
  const d = data as Record<string, unknown>;
  const unknown = Object.keys(d).filter((key) => !KEYS.has(key));
  if (unknown.length > 0) throw new AgentHostError(ErrorCode.INVALID_OPTION, `unknown agent job data field(s): ${unknown.join(', ')}`);
  if (typeof d.id !== 'string') throw new AgentHostError(ErrorCode.INVALID_OPTION, 'agent job data needs an `id` string');
  validateName(d.id, 'agent id');
  if (typeof d.command !== 'string' || d.command === '') throw new AgentHostError(ErrorCode.INVALID_OPTION, `agent job ${d.id} needs a \`command\` string`);
  if (d.args !== undefined && !(Array.isArray(d.args) && d.args.every((a) => typeof a === 'string'))) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `agent job ${d.id}: args must be an array of strings`);
  }
  if (d.env !== undefined && (d.env === null || typeof d.env !== 'object' || Object.values(d.env).some((v) => typeof v !== 'string'))) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `agent job ${d.id}: env must map names to strings`);
  }
}

/**
 * The `host.spawn()` options of a job: the data's fields, plus what the worker decides (fail at
 * once rather than wait when admission is paused; how long the host may queue it locally).
 */
export function toSpawnOptions(data: AgentJobData, local: { queueTimeout: number; signal?: AbortSignal }): SpawnAgentOptions {
  const options: SpawnAgentOptions = {
    command: data.command,
    args: data.args,
    cwd: data.cwd,
    env: data.env,
    workspace: data.workspace,
    limits: data.limits,
    timeouts: data.timeouts,
    priority: data.priority,
    admission: 'fail',
    queueTimeout: local.queueTimeout,
    signal: local.signal,
    expectedMemory: data.expectedMemory,
    profile: data.profile,
  };
  // Only what was given: an explicit `undefined` must not override the host's defaults.
  for (const key of Object.keys(options) as Array<keyof SpawnAgentOptions>) if (options[key] === undefined) delete options[key];
  return options;
}
