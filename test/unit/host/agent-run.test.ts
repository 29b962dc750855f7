/**
 * AgentRun's one transition table and one stop path, on a fake cgroup driver: every trigger
 * (start, graceful and forced stop, agent.kill, the hard timeout, relief, pause, resume, the
 * process exiting, a queue cancel) in every state, plus the exit path when kernel reads fail.
 */
import { describe, expect, it } from 'vitest';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import type { AgentRun } from '../../../src/host/agent-run.js';
import type { AgentState } from '../../../src/host/events.js';
import { NEXT } from '../../../src/host/run-state.js';
import { waitFor } from '../../helpers/wait.js';
import { fakeRun, fakeWorld, type FakeCgroup, type FakeWorld } from './fake-run.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Placed {
  world: FakeWorld;
  run: AgentRun;
  cgroup: () => FakeCgroup;
  dequeued: AgentHostError[];
}

/** A run brought into `state` the way the host brings it there. */
async function runIn(state: AgentState, options: { trapsTerm?: boolean } = {}): Promise<Placed> {
  const world = fakeWorld();
  world.autoJoin = state !== 'starting';
  const run = fakeRun(world);
  const dequeued: AgentHostError[] = [];
  run.queued((error) => {
    dequeued.push(error);
    run.cancel(error);
  });
  const placed = { world, run, cgroup: () => world.cgroups[0]!, dequeued };
  if (state === 'queued') return placed;
  const started = run.start();
  if (state === 'starting') {
    await tick();
    expect(run.state).toBe('starting');
    // Resolved by the test; a rejection of start() is looked at there.
    started.catch(() => undefined);
    return placed;
  }
  await started;
  placed.cgroup().trapsTerm = options.trapsTerm ?? false;
  if (state === 'paused') await run.pause();
  if (state === 'stopping') {
    placed.cgroup().trapsTerm = true;
    void run.stop('killed', { grace: 60_000 });
    await tick();
  }
  if (state === 'exited') {
    placed.cgroup().exit(0);
    await run.result;
  }
  expect(run.state).toBe(state);
  return placed;
}

describe('the transition table', () => {
  it('is the documented life: queued → starting → running ⇄ paused → stopping → exited, exited from anywhere but itself', () => {
    const table = Object.entries(NEXT).map(([from, to]) => `${from} → ${to.join(' | ') || '(none)'}`);
    expect(table.join('; ')).toBe(
      'queued → starting | exited; starting → running | exited; running → paused | stopping | exited; ' +
        'paused → running | stopping | exited; stopping → exited; exited → (none)',
    );
  });
});

describe('a graceful stop', () => {
  it('queued: leaves the queue; the result is killed with ERR_ABORTED, no exit event, nothing created', async () => {
    const { run, world, dequeued } = await runIn('queued');
    const result = await run.stop('killed', { grace: 1000 });
    expect(dequeued).toHaveLength(1);
    expect(result).toMatchObject({ reason: 'killed', error: { code: ErrorCode.ABORTED } });
    expect([run.state, world.cgroups.length, world.events]).toEqual(['exited', 0, []]);
  });

  it('starting: carried out once the process exists (spawn, then kill, then exit)', async () => {
    const { run, world, cgroup } = await runIn('starting');
    const stopped = run.stop('killed', { grace: 60_000 });
    expect(run.state).toBe('starting');
    cgroup().join.resolve(4242);
    const result = await stopped;
    expect(result.reason).toBe('killed');
    expect(world.events).toEqual(['spawn', 'kill:killed', 'exit:killed']);
    expect(cgroup().calls).toEqual(['spawn', 'signal:SIGTERM', 'delete']);
  });

  it('running: SIGTERM to every process, the exit follows; the cgroup, lease and record are released', async () => {
    const { run, world, cgroup } = await runIn('running');
    expect(world.records.has('a')).toBe(true);
    expect(world.leases.size).toBe(1);
    const result = await run.stop('killed', { grace: 60_000 });
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGTERM', peakMemory: 1234 });
    expect(world.events).toEqual(['spawn', 'kill:killed', 'exit:killed']);
    expect(cgroup().calls).toEqual(['spawn', 'signal:SIGTERM', 'delete']);
    expect([world.records.size, world.leases.size, world.ended]).toEqual([0, 0, ['a']]);
  });

  it('running, TERM trapped: the cgroup is killed once the grace is over', async () => {
    const { run, cgroup } = await runIn('running', { trapsTerm: true });
    void run.stop('killed', { grace: 50 });
    await tick();
    expect(run.state).toBe('stopping');
    const result = await run.result;
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(cgroup().calls).toEqual(['spawn', 'signal:SIGTERM', 'kill', 'delete']);
  });

  it('paused: thawed first (a frozen process sees no signal), then SIGTERM', async () => {
    const { run, cgroup } = await runIn('paused');
    const result = await run.stop('killed', { grace: 60_000 });
    expect(result.reason).toBe('killed');
    expect(cgroup().calls).toEqual(['spawn', 'freeze', 'thaw', 'signal:SIGTERM', 'delete']);
  });

  it('stopping: the first stop goes on, no second kill event, its reason kept', async () => {
    const { run, world, cgroup } = await runIn('stopping');
    void run.stop('timeout', { grace: 60_000 });
    await tick();
    expect(world.events).toEqual(['spawn', 'kill:killed']);
    cgroup().exit(0);
    expect((await run.result).reason).toBe('killed');
  });

  it('exited: resolves with the result, does nothing', async () => {
    const { run, world, cgroup } = await runIn('exited');
    const before = [...cgroup().calls];
    expect((await run.stop('killed', { grace: 10 })).reason).toBe('exit');
    expect(cgroup().calls).toEqual(before);
    expect(world.events).toEqual(['spawn', 'exit:exit']);
  });
});

describe('a forced stop (grace 0)', () => {
  it.each(['running', 'paused'] as const)('%s: kills the cgroup at once', async (state) => {
    const { run, world, cgroup } = await runIn(state, { trapsTerm: true });
    const result = await run.stop('relief', { grace: 0, details: { trigger: 'auto-kill' } });
    expect(result).toMatchObject({ reason: 'relief', signal: 'SIGKILL' });
    expect(cgroup().calls.filter((c) => c.startsWith('signal'))).toEqual([]);
    expect(world.events).toEqual(['spawn', 'kill:relief', 'exit:relief']);
  });

  it('stopping: cuts a graceful stop short', async () => {
    const { run, cgroup } = await runIn('stopping');
    const result = await run.stop('killed', { grace: 0 });
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(cgroup().calls).toEqual(['spawn', 'signal:SIGTERM', 'kill', 'delete']);
  });

  it('starting (a kill during start): spawn, then the kill at once', async () => {
    const { run, world, cgroup } = await runIn('starting');
    cgroup().trapsTerm = true;
    void run.stop('killed', { grace: 60_000 });
    void run.stop('killed', { grace: 0 }); // the stronger request wins
    cgroup().join.resolve(4242);
    expect(await run.result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(world.events).toEqual(['spawn', 'kill:killed', 'exit:killed']);
  });

  it('queued and exited: the same as a graceful one', async () => {
    const queued = await runIn('queued');
    expect((await queued.run.stop('killed', { grace: 0 })).reason).toBe('killed');
    const exited = await runIn('exited');
    expect((await exited.run.stop('killed', { grace: 0 })).reason).toBe('exit');
  });

  it('agent.kill() goes the same way: force → grace 0, else the host grace', async () => {
    const { run, cgroup } = await runIn('running', { trapsTerm: true });
    void run.agent.kill();
    await tick();
    expect(cgroup().calls).toEqual(['spawn', 'signal:SIGTERM']);
    expect((await run.agent.kill({ force: true })).reason).toBe('killed');
    expect(cgroup().calls).toEqual(['spawn', 'signal:SIGTERM', 'kill', 'delete']);
  });
});

describe('the hard timeout goes through stop()', () => {
  it('running: hard-timeout, then kill:timeout with the policy signal, then the kill after its grace', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { timeouts: { soft: false, hard: 30, grace: 30, hardSignal: 'SIGINT' } });
    await run.start();
    world.cgroups[0]!.trapsTerm = true;
    const result = await run.result;
    expect(result).toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
    expect(world.events).toEqual(['spawn', 'hard-timeout', 'kill:timeout', 'exit:timeout']);
    expect(world.cgroups[0]!.calls).toEqual(['spawn', 'signal:SIGINT', 'kill', 'delete']);
  });

  it('during a graceful kill: brings the kill forward to its own grace, the reason stays killed', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { timeouts: { soft: false, hard: 50, grace: 20 } });
    await run.start();
    world.cgroups[0]!.trapsTerm = true;
    void run.stop('killed', { grace: 60_000 });
    const result = await run.result; // long before 60 s: the timeout's 20 ms grace cut it short
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(world.events).toEqual(['spawn', 'kill:killed', 'hard-timeout', 'exit:killed']);
  });

  it('paused: the clock stops, so a paused agent does not time out; it does once resumed', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { timeouts: { soft: false, hard: 60, grace: 0 } });
    await run.start();
    await run.pause();
    expect(run.timer!.paused).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(run.state).toBe('paused');
    await run.resume();
    expect(run.timer!.paused).toBe(false);
    expect((await run.result).reason).toBe('timeout');
  });

  it('extendTimeout() while queued counts from the start of the run', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { timeouts: { soft: false, hard: 1000 } });
    run.agent.extendTimeout('1m');
    await run.start();
    expect(run.timer!.hardDeadline! - run.timer!.startedAt).toBe(61_000);
    await run.stop('killed', { grace: 0 });
  });
});

describe('pause and resume', () => {
  it('running ⇄ paused: freeze and thaw the cgroup; pause again and resume again are no-ops', async () => {
    const { run, cgroup } = await runIn('running');
    await run.pause();
    await run.pause();
    expect([run.state, run.agent.state, cgroup().frozen]).toEqual(['paused', 'paused', true]);
    await run.resume();
    await run.resume();
    expect([run.state, cgroup().frozen]).toEqual(['running', false]);
    expect(cgroup().calls).toEqual(['spawn', 'freeze', 'thaw']);
  });

  it.each(['queued', 'starting', 'stopping', 'exited'] as const)('%s: pause() is ERR_AGENT_NOT_RUNNING, resume() a no-op', async (state) => {
    const { run, cgroup } = await runIn(state);
    await expect(run.pause()).rejects.toMatchObject({ code: ErrorCode.AGENT_NOT_RUNNING });
    await run.resume();
    expect(run.state).toBe(state);
    const ended = run.stop('killed', { grace: 0 });
    if (state === 'starting') cgroup().join.resolve(4242);
    expect((await ended).reason).toBe(state === 'exited' ? 'exit' : 'killed');
  });

  it('a freeze the kernel refuses leaves the agent running, its clock going', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { timeouts: { hard: '1h' } });
    await run.start();
    world.cgroups[0]!.failing.add('freeze');
    await expect(run.pause()).rejects.toMatchObject({ code: ErrorCode.CGROUP_UNAVAILABLE });
    expect([run.state, run.timer!.paused]).toEqual(['running', false]);
    await run.stop('killed', { grace: 0 });
  });

  it('paused → exited: a frozen agent killed from outside still ends cleanly', async () => {
    const { run, cgroup, world } = await runIn('paused');
    cgroup().exit(null, 'SIGKILL');
    expect((await run.result).reason).toBe('exit');
    expect(world.events).toEqual(['spawn', 'exit:exit']);
  });
});

describe('the process ending on its own', () => {
  it('running: reason exit, its exit code; an OOM kill seen makes it oom', async () => {
    const { run, cgroup, world } = await runIn('running');
    cgroup().events.oomKill = 1;
    world.cgroups[0]!.watchers[0]!.check();
    cgroup().exit(137, null);
    expect(await run.result).toMatchObject({ reason: 'oom', exitCode: 137, oomKills: 1 });
    expect(world.events).toEqual(['spawn', 'oom-scope:agents-root', 'oom', 'exit:oom']);
  });

  it("an OOM kill's scope: the agent's own limit (its oom counter rose) or one above it (only oom_kill rose)", async () => {
    const { cgroup, world } = await runIn('running');
    cgroup().events.oom = 1;
    cgroup().events.oomKill = 1;
    world.cgroups[0]!.watchers[0]!.check();
    cgroup().events.oomKill = 2;
    world.cgroups[0]!.watchers[0]!.check();
    expect(world.events.filter((e) => e.startsWith('oom-scope:'))).toEqual(['oom-scope:agent', 'oom-scope:agents-root']);
  });
});

describe('a start that fails', () => {
  it('creating the cgroup fails: result error, no exit event, the lease released, nothing recorded', async () => {
    const world = fakeWorld();
    world.failCreate = new AgentHostError(ErrorCode.CGROUP_PERMISSION, 'EACCES');
    const run = fakeRun(world);
    await expect(run.start()).rejects.toMatchObject({ code: ErrorCode.CGROUP_PERMISSION });
    expect(await run.result).toMatchObject({ reason: 'error', error: { code: ErrorCode.CGROUP_PERMISSION } });
    expect([run.state, world.events, world.leases.size, world.records.size, world.ended]).toEqual(['exited', [], 0, 0, ['a']]);
  });

  it('the process never joins: a plain error becomes ERR_SPAWN_FAILED; the cgroup is deleted', async () => {
    const { run, world, cgroup } = await runIn('starting');
    cgroup().join.reject(new Error('EAGAIN'));
    expect(await run.result).toMatchObject({ reason: 'error', error: { code: ErrorCode.SPAWN_FAILED } });
    expect(cgroup().calls).toContain('delete');
    expect(world.leases.size).toBe(0);
  });
});

describe('the exit path when kernel reads fail (ERR_CGROUP_IO, EMFILE under load)', () => {
  it.each(['populated', 'peakMemory', 'delete'] as const)('%s() throws: the run still settles, is exited, releases everything, emits error', async (read) => {
    const { run, world, cgroup } = await runIn('running');
    cgroup().failing.add(read);
    cgroup().exit(0);
    const result = await run.result;
    expect(result).toMatchObject({ reason: 'exit', exitCode: 0, error: { code: ErrorCode.CGROUP_IO } });
    expect(run.state).toBe('exited');
    expect(world.errors.map((e) => (e as AgentHostError).code)).toEqual([ErrorCode.CGROUP_IO]);
    expect(world.events.at(-1)).toBe('exit:exit');
    expect([world.records.size, world.leases.size, world.ended]).toEqual([0, 0, ['a']]);
    if (read !== 'delete') expect(cgroup().calls).toContain('delete');
  });

  it('an adopted agent whose cgroup cannot be read: settles instead of an unhandled rejection', async () => {
    const world = fakeWorld();
    const { AgentRun } = await import('../../../src/host/agent-run.js');
    const { FakeCgroup } = await import('./fake-run.js');
    const cgroup = new FakeCgroup('adopted');
    cgroup.spawn();
    cgroup.failing.add('populated');
    const { spec } = await import('./fake-run.js');
    const run = AgentRun.adopt(spec('adopted', { workspace: false }), world.ctx, { cgroup, pid: undefined, workspace: '/ws/adopted', startedAt: Date.now() });
    world.leases.add('/ws/adopted');
    const result = await run.result;
    expect(result.error).toMatchObject({ code: ErrorCode.CGROUP_IO });
    expect(run.state).toBe('exited');
    await waitFor(() => world.ended.length === 1);
    expect(world.leases.size).toBe(0);
  });
});
