/**
 * How an agent's end maps onto BullMQ's outcomes, in one pure function: completed, failed and
 * retried (BullMQ `attempts`/`backoff`), failed for good, or handed back to the queue untouched.
 */
import type { Limits } from '../cgroup/limits.js';
import { AgentHostError, ErrorCode, isAgentHostError } from '../errors.js';
import type { AgentResult, ExitReason } from '../host/agent.js';
import { formatBytes, parseSize, type Size } from '../util/size.js';

/** Retrying an agent the kernel OOM-killed at its own limit, with a larger limit. */
export interface RetryOomOptions {
  /** The next attempt's `memoryMax` is the last one's (or the peak's) times this. Default `2`. */
  factor?: number;
  /** Never above this; an OOM kill at it fails the job for good. Default `'16G'`. */
  max?: Size;
}

/**
 * What the worker does with a job once its agent has ended (or could not start):
 * - `completed`: the job completes with the result;
 * - `retry`: the job fails and BullMQ retries it while it has attempts left (any node may take it),
 *   with `limits` replacing the job's limits when set;
 * - `fail`: the job fails for good (BullMQ `UnrecoverableError`), whatever attempts are left;
 * - `return`: the job goes back to the queue without using an attempt (this node had no room).
 */
export type AgentOutcome =
  | { kind: 'completed' }
  | { kind: 'retry'; error: AgentJobError; limits?: Limits }
  | { kind: 'fail'; error: AgentJobError }
  | { kind: 'return'; why: string };

/**
 * A failed agent job: `reason` is the host's exit reason (or `error` when the agent never started),
 * `result` its figures. Its message, which BullMQ keeps as the job's `failedReason`, starts with
 * the reason (`"oom: …"`), so producers can branch on it without the object.
 */
export class AgentJobError extends AgentHostError {
  /** Why the agent ended. */
  readonly reason: ExitReason;
  /** The agent's result, when it ran. */
  readonly result: AgentResult | undefined;
  /** Whether BullMQ may retry the job (attempts permitting). */
  readonly retryable: boolean;

  /** Built by the worker; code `ERR_AGENT_JOB_FAILED`. */
  constructor(reason: ExitReason, message: string, options: { result?: AgentResult; retryable: boolean; cause?: unknown }) {
    super(ErrorCode.AGENT_JOB_FAILED, `${reason}: ${message}`, { cause: options.cause });
    this.reason = reason;
    this.result = options.result;
    this.retryable = options.retryable;
  }
}

/** What the decision needs besides the result. */
export interface OutcomeContext {
  /** The job's limits (its data), for growing them after an OOM kill. */
  limits?: Limits;
  /** Retry OOM kills with larger limits, or not (`false`, the default). */
  retryOom?: RetryOomOptions | false;
  /** Set when this worker killed the agent to hand its job back (close deadline, lost lock). */
  handedBack?: string;
  /** Set when the job was cancelled (BullMQ `cancelJob`, or the worker's own abort). */
  cancelled?: boolean;
}

/** The outcome of an agent that ran to its end. */
export function agentOutcome(result: AgentResult, context: OutcomeContext = {}): AgentOutcome {
  const { id } = result;
  if (context.handedBack !== undefined) return { kind: 'return', why: context.handedBack };
  switch (result.reason) {
    case 'exit':
      if (result.exitCode === 0) return { kind: 'completed' };
      return { kind: 'retry', error: new AgentJobError('exit', `agent ${id} exited with ${result.signal ?? `code ${result.exitCode}`}`, { result, retryable: true }) };
    case 'relief':
      // Killed for the node's memory, not for anything it did: another node may have room.
      return { kind: 'retry', error: new AgentJobError('relief', `agent ${id} was killed to relieve the node's memory`, { result, retryable: true }) };
    case 'evicted':
      // Evicted with notice for the node's memory: as relief, another node may have room.
      return { kind: 'retry', error: new AgentJobError('evicted', `agent ${id} was evicted to relieve the node's memory`, { result, retryable: true }) };
    case 'oom':
      return oomOutcome(result, context);
    case 'timeout':
      // Another attempt would run just as long.
      return { kind: 'fail', error: new AgentJobError('timeout', `agent ${id} reached its hard timeout after ${result.durationMs} ms`, { result, retryable: false }) };
    case 'killed':
      return {
        kind: 'fail',
        error: new AgentJobError('killed', context.cancelled ? `agent ${id} was cancelled` : `agent ${id} was killed on request`, { result, retryable: false }),
      };
    case 'error':
      return spawnFailure(id, result.error, result);
  }
}

/**
 * The outcome of a spawn that threw: no room on this node → back to the queue; a bad command or
 * bad options → failed for good (every node would refuse it); anything else → retried.
 */
export function spawnFailure(id: string, error: unknown, result?: AgentResult): AgentOutcome {
  if (isAgentHostError(error)) {
    switch (error.code) {
      case ErrorCode.ADMISSION_REFUSED:
      case ErrorCode.ADMISSION_TIMEOUT:
      case ErrorCode.HOST_DISPOSED:
      case ErrorCode.WORKSPACE_EXHAUSTED:
        return { kind: 'return', why: error.message };
      case ErrorCode.SPAWN_NOT_FOUND:
      case ErrorCode.SPAWN_PERMISSION:
      case ErrorCode.INVALID_OPTION:
      case ErrorCode.INVALID_NAME:
      case ErrorCode.INVALID_SIZE:
      case ErrorCode.INVALID_DURATION:
        return { kind: 'fail', error: new AgentJobError('error', `agent ${id} could not start: ${error.message}`, { result, retryable: false, cause: error }) };
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'retry', error: new AgentJobError('error', `agent ${id} could not start: ${message}`, { result, retryable: true, cause: error }) };
}

const DEFAULT_OOM_RETRY = { factor: 2, max: '16G' } as const;

function oomOutcome(result: AgentResult, context: OutcomeContext): AgentOutcome {
  const { id, peakMemory } = result;
  const what = `the kernel OOM-killed agent ${id} at its memory limit (peak ${formatBytes(peakMemory)})`;
  if (!context.retryOom) return { kind: 'fail', error: new AgentJobError('oom', what, { result, retryable: false }) };
  const factor = context.retryOom.factor ?? DEFAULT_OOM_RETRY.factor;
  if (!(Number.isFinite(factor) && factor > 1)) throw new AgentHostError(ErrorCode.INVALID_OPTION, `retryOom.factor must be a number > 1, got ${factor}`);
  const max = parseSize(context.retryOom.max ?? DEFAULT_OOM_RETRY.max, 'retryOom.max');
  const given = context.limits?.memoryMax;
  const last = given === undefined || given === 'max' ? peakMemory : parseSize(given, 'memoryMax');
  const next = Math.min(Math.ceil(Math.max(last, peakMemory) * factor), max);
  if (next <= last) return { kind: 'fail', error: new AgentJobError('oom', `${what}, already at retryOom.max`, { result, retryable: false }) };
  // memory.high keeps the limits' 3:4 ratio, so the larger agent is throttled before it is killed.
  const limits: Limits = { ...context.limits, memoryMax: next, memoryHigh: Math.floor(next * 0.75) };
  return { kind: 'retry', error: new AgentJobError('oom', `${what}; retrying with memoryMax ${formatBytes(next)}`, { result, retryable: true }), limits };
}
