import { describe, expect, it } from 'vitest';
import { agentOutcome, AgentJobError } from '../../../src/bullmq/outcome.js';
import { spawnFailure } from '../../../src/bullmq/outcome.js';
import { AgentHostError, ErrorCode, type AgentResult } from '../../../src/index.js';

const result = (over: Partial<AgentResult>): AgentResult => ({ id: 'a1', exitCode: 0, signal: null, reason: 'exit', peakMemory: 100 << 20, oomKills: 0, durationMs: 5, ...over });

describe('agentOutcome', () => {
  it('exit 0 completes; a non-zero exit and a relief kill are retryable failures', () => {
    expect(agentOutcome(result({}))).toEqual({ kind: 'completed' });
    const exit = agentOutcome(result({ exitCode: 3 }));
    expect(exit.kind).toBe('retry');
    expect((exit as { error: AgentJobError }).error).toMatchObject({ code: ErrorCode.AGENT_JOB_FAILED, reason: 'exit', retryable: true });
    expect((exit as { error: AgentJobError }).error.message).toMatch(/^exit: agent a1 exited with code 3/);
    const relief = agentOutcome(result({ reason: 'relief', exitCode: null, signal: 'SIGKILL' }));
    expect(relief).toMatchObject({ kind: 'retry', error: { reason: 'relief', retryable: true } });
  });

  it('an OOM kill, a hard timeout and a kill by hand fail for good', () => {
    expect(agentOutcome(result({ reason: 'oom', exitCode: null, signal: 'SIGKILL', oomKills: 1 }))).toMatchObject({ kind: 'fail', error: { reason: 'oom', retryable: false } });
    expect(agentOutcome(result({ reason: 'timeout' }))).toMatchObject({ kind: 'fail', error: { reason: 'timeout' } });
    expect(agentOutcome(result({ reason: 'killed' }), { cancelled: true })).toMatchObject({ kind: 'fail', error: { message: 'killed: agent a1 was cancelled' } });
  });

  it('retryOom grows memoryMax (and memory.high at 3/4) up to its max, then fails', () => {
    const oom = result({ reason: 'oom', peakMemory: 64 << 20 });
    expect(agentOutcome(oom, { retryOom: { factor: 2, max: '1G' }, limits: { memoryMax: '64M', pidsMax: 10 } })).toMatchObject({
      kind: 'retry',
      limits: { memoryMax: 128 << 20, memoryHigh: 96 << 20, pidsMax: 10 },
      error: { reason: 'oom', retryable: true },
    });
    // Without a job limit, the peak (≈ the host's limit) is the base.
    expect(agentOutcome(oom, { retryOom: {} })).toMatchObject({ kind: 'retry', limits: { memoryMax: 128 << 20 } });
    expect(agentOutcome(oom, { retryOom: { max: '64M' }, limits: { memoryMax: '64M' } })).toMatchObject({ kind: 'fail', error: { reason: 'oom' } });
    expect(() => agentOutcome(oom, { retryOom: { factor: 1 } })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });

  it('an agent the worker killed to hand its job back returns it, whatever its result', () => {
    expect(agentOutcome(result({ reason: 'killed' }), { handedBack: 'the worker closed' })).toEqual({ kind: 'return', why: 'the worker closed' });
  });
});

describe('spawnFailure', () => {
  it('no room on the node returns the job; a command no node can run fails it; anything else retries', () => {
    expect(spawnFailure('a1', new AgentHostError(ErrorCode.ADMISSION_REFUSED, 'memory high'))).toEqual({ kind: 'return', why: 'memory high' });
    expect(spawnFailure('a1', new AgentHostError(ErrorCode.ADMISSION_TIMEOUT, 'waited'))).toMatchObject({ kind: 'return' });
    expect(spawnFailure('a1', new AgentHostError(ErrorCode.SPAWN_NOT_FOUND, 'no such command'))).toMatchObject({ kind: 'fail', error: { reason: 'error', retryable: false } });
    expect(spawnFailure('a1', new AgentHostError(ErrorCode.SPAWN_FAILED, 'EAGAIN'))).toMatchObject({ kind: 'retry', error: { reason: 'error', retryable: true } });
    expect(spawnFailure('a1', new Error('boom'))).toMatchObject({ kind: 'retry' });
  });
});
