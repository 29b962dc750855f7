/**
 * AgentRun on the real kernel: pause() really freezes the agent's processes (the v1 freezer or
 * v2 cgroup.freeze) and stops its timeouts' clock; resume() thaws them; a stop of a paused agent
 * thaws it first, so its SIGTERM handler runs. Below this process's own cgroup only.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/index.js';
import { AgentRun } from '../../../src/host/agent-run.js';
import type { RunContext, RunSpec } from '../../../src/host/run-contract.js';
import type { AgentRecord } from '../../../src/host/state.js';
import { TimeoutPolicy } from '../../../src/timeout/index.js';
import { waitFor } from '../../helpers/wait.js';
import { SMALL, tempDir, testRoot } from './harness.js';

function world(root: Cgroup) {
  const events: string[] = [];
  const records = new Map<string, AgentRecord>();
  const ctx: RunContext = {
    createCgroup: (id, limits) => Cgroup.create(root, id, { limits }),
    pool: undefined,
    // As the orchestrator's user: what is shown here does not depend on who the agent is.
    users: { acquire: () => undefined, release: () => undefined },
    state: { write: (r) => void records.set(r.id, r), remove: (id) => void records.delete(id) },
    emit: (_agent, event, ...args) => void events.push(event === 'kill' || event === 'exit' ? `${event}:${(args[0] as { reason: string }).reason}` : event),
    ended: () => undefined,
  };
  return { ctx, events, records };
}

function spec(id: string, script: string, timeouts?: TimeoutPolicy): RunSpec {
  return {
    info: { id, command: 'sh', args: ['-c', script], priority: 0, protected: false, preferred: false },
    limits: SMALL,
    spawn: {},
    workspace: false,
    keepCgroup: false,
    timeouts,
    killGrace: 5000,
  };
}

/** Appends a line every 20 ms; exits 0 on SIGTERM. */
const ticker = (file: string): string => `trap 'exit 0' TERM; while :; do echo x >> ${file}; sleep 0.02; done`;
const size = (file: string): number => statSync(file, { throwIfNoEntry: false })?.size ?? 0;

describe('AgentRun on the kernel', () => {
  it('pause() freezes every process (nothing runs), resume() thaws them; a stop while paused thaws first and the TERM handler runs', async () => {
    const root = testRoot('run');
    const file = join(tempDir('run'), 'ticks');
    const { ctx, events, records } = world(root);
    const run = new AgentRun(spec('ticker', ticker(file)), ctx);
    await run.start();
    expect(records.get('ticker')?.pid).toBe(run.pid);
    await waitFor(() => size(file) > 0);
    await run.pause();
    expect(run.state).toBe('paused');
    const cgroup = run.cgroup!;
    const frozen = cgroup.version === 2 ? /^frozen 1$/m.test(readFileSync(join(cgroup.dirs[0]!, 'cgroup.events'), 'utf8')) : true;
    expect(frozen).toBe(true);
    const held = size(file);
    await sleep(300);
    expect(size(file)).toBe(held);
    await run.resume();
    await waitFor(() => size(file) > held, { message: 'ticks again after resume()' });
    await run.pause();
    // Graceful: thawed first, so the trap runs and the agent exits long before the grace.
    const result = await run.stop('killed', { grace: 30_000 });
    expect(result).toMatchObject({ reason: 'killed', exitCode: 0 });
    expect(events).toEqual(['spawn', 'kill:killed', 'exit:killed']);
    expect(cgroup.exists()).toBe(false);
    expect(records.size).toBe(0);
  });

  it('the hard timeout does not fire while paused; it does once resumed', async () => {
    const root = testRoot('run');
    const { ctx } = world(root);
    const run = new AgentRun(spec('sleeper', 'exec sleep 30', new TimeoutPolicy({ soft: false, hard: 400, grace: 0 })), ctx);
    await run.start();
    await run.pause();
    await sleep(800);
    expect(run.state).toBe('paused');
    await run.resume();
    expect((await run.result).reason).toBe('timeout');
  });
});
