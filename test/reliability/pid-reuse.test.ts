/**
 * Scenario 6: killing an agent that already exited never signals another process. Pids are
 * recycled on purpose inside a pid namespace of our own (fixtures/pid-reuse.ts), where
 * ns_last_pid may be set without touching the host's pid allocation.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/index.js';
import { hasCommand, skipIf } from '../helpers/kernel.js';
import type { PidReuseConfig, PidReuseReport } from './fixtures/pid-reuse.js';
import { agentsRoot, bundledFixture, runFixture, scratch } from './helpers.js';

describe('6. PID reuse', () => {
  it('a recycled pid is never signalled: kill by id, through a stale Agent, or of an adopted agent whose main pid was reused', { timeout: 120_000 }, async (ctx) => {
    skipIf(ctx, !hasCommand('unshare') && 'unshare(1) is missing: no pid namespace to recycle pids in');
    const root = agentsRoot('pidns');
    const config: PidReuseConfig = { orchestrator: bundledFixture('orchestrator.ts'), root1: root.child('one').location, root2: root.child('two').location, dir: scratch('pidns') };
    // The shell is pid 1 of the namespace and reaps orphans; `exit $?` keeps it from exec'ing node.
    const fixture = runFixture('pid-reuse.ts', config, [
      'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', '"$0" "$@"; exit $?',
    ]);
    const report = await fixture.line<PidReuseReport>('REPORT', 110_000);
    const { code, stderr } = await fixture.exited;
    expect(code, stderr).toBe(0);

    // 1. The agent's pid went to an unrelated process.
    expect(report.innocentPid).toBe(report.victimPid);
    expect(report.killById).toBe(`rejected:${ErrorCode.AGENT_NOT_FOUND}`);
    // A stale Agent object: its kill is a no-op resolving with its old result...
    expect(report.staleKill).toBe('resolved:exit');
    // ...and never reaches the new agent that reuses its id.
    expect(report.newVictimAfterStaleKill).toBe('running:true');
    expect(report.innocentAlive).toBe(true);

    // 2. The adopted agent's recorded main pid went to an unrelated process.
    expect(report.innocent2Pid).toBe(report.mainPid);
    expect(report.adoptedResult).toBe('resolved:killed');
    expect(report.innocent2Alive).toBe(true);
    // The host does not pass the stranger off as the agent's main process.
    expect(report.adoptedPid).not.toBe(report.mainPid);
    expect(report.statusPid).not.toBe(report.mainPid);
    expect(report.leftover).toEqual([]);
  });
});
