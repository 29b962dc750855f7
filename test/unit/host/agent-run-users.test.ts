/**
 * The run owns its agent's user lease as it owns its workspace lease: the user is acquired first
 * (the slot is handed to it), the process starts as that user with HOME and cwd its workspace or
 * home, the record keeps it, and it is released last, in the one guarded exit path — also when the
 * start fails, and a failing release never leaves the run unsettled. Fakes only (fake-run.ts).
 */
import { describe, expect, it } from 'vitest';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { AgentRun } from '../../../src/host/agent-run.js';
import { FakeCgroup, fakeRun, fakeWorld, spec } from './fake-run.js';

describe('an agent of its own user', () => {
  it('leases the user, then the slot; runs as it, HOME and cwd its workspace; releases the slot, then the user, after the cgroup', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { user: 'dynamic', spawn: { env: { KEEP: '1' } } });
    await run.start();
    const cgroup = world.cgroups[0]!;
    expect(cgroup.spawned[0]).toMatchObject({ uid: 200_000, gid: 200_000, cwd: '/ws/a', env: { HOME: '/ws/a', KEEP: '1', NOVA_AGENT_ID: 'a' } });
    expect(run.user).toEqual({ uid: 200_000, gid: 200_000, dynamic: true });
    expect(run.agent.user).toEqual(run.user);
    expect(world.records.get('a')?.user).toEqual(run.user);
    expect(world.leaseLog).toEqual(['user:a', 'slot:a']);
    cgroup.exit(0);
    expect(await run.result).toMatchObject({ reason: 'exit', exitCode: 0 });
    expect(world.leaseLog).toEqual(['user:a', 'slot:a', '-slot:a', '-user:a']);
    expect(cgroup.calls.at(-1)).toBe('delete');
    expect([world.users.size, world.records.size]).toEqual([0, 0]);
  });

  it('without a workspace: its own HOME is its HOME and cwd; a cwd and HOME given win', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { user: 'dynamic', workspace: false });
    await run.start();
    expect(world.cgroups[0]!.spawned[0]).toMatchObject({ uid: 200_000, cwd: '/homes/a', env: { HOME: '/homes/a' } });
    const given = fakeRun(world, 'b', { user: { uid: 1000, gid: 1000 }, workspace: false, spawn: { cwd: '/src', env: { HOME: '/h' } } });
    await given.start();
    expect(world.cgroups[1]!.spawned[0]).toMatchObject({ cwd: '/src', env: { HOME: '/h' } });
  });

  it("as the orchestrator's user ('root'): no uid, no user in the record, nothing to release", async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { user: 'root' });
    await run.start();
    const options = world.cgroups[0]!.spawned[0]!;
    expect([options.uid, options.gid, options.env?.HOME]).toEqual([undefined, undefined, undefined]);
    expect(run.agent.user).toBeUndefined();
    expect(world.records.get('a')).not.toHaveProperty('user');
    world.cgroups[0]!.exit(0);
    await run.result;
    expect(world.leaseLog).toEqual(['slot:a', '-slot:a']);
  });

  it('a start that fails after the user was leased (no slot left, no cgroup) releases the user', async () => {
    const world = fakeWorld();
    world.failLease = new AgentHostError(ErrorCode.WORKSPACE_EXHAUSTED, 'all slots leased');
    const run = fakeRun(world, 'a', { user: 'dynamic' });
    await expect(run.start()).rejects.toMatchObject({ code: ErrorCode.WORKSPACE_EXHAUSTED });
    expect(world.leaseLog).toEqual(['user:a', '-user:a']);
    world.failLease = undefined;
    world.failCreate = new AgentHostError(ErrorCode.CGROUP_IO, 'EMFILE');
    const second = fakeRun(world, 'b', { user: 'dynamic' });
    await expect(second.start()).rejects.toMatchObject({ code: ErrorCode.CGROUP_IO });
    expect(world.leaseLog.slice(2)).toEqual(['user:b', 'slot:b', '-slot:b', '-user:b']);
    expect((await second.result).reason).toBe('error');
    expect(world.users.size).toBe(0);
  });

  it('a failing user release: an error event and result.error, the run still settles and drops its record', async () => {
    const world = fakeWorld();
    const run = fakeRun(world, 'a', { user: 'dynamic' });
    await run.start();
    world.failUserRelease = new Error('EBUSY: HOME still in use');
    world.cgroups[0]!.exit(0);
    const result = await run.result;
    expect(result).toMatchObject({ reason: 'exit', error: { message: 'EBUSY: HOME still in use' } });
    expect(run.state).toBe('exited');
    expect([world.records.size, world.leases.size, world.ended]).toEqual([0, 0, ['a']]);
    expect(world.events.at(-1)).toBe('exit:exit');
  });

  it('an adopted agent keeps the user its record names, and releases it when it ends', async () => {
    const world = fakeWorld();
    const cgroup = new FakeCgroup('old');
    cgroup.spawn();
    const user = { uid: 200_007, gid: 200_007, dynamic: true, home: '/homes/old' };
    world.users.set('old', user);
    const run = AgentRun.adopt(spec('old', { workspace: false }), world.ctx, { cgroup, pid: 4242, workspace: undefined, user, startedAt: Date.now() });
    expect(run.agent.user).toEqual(user);
    expect(world.records.get('old')?.user).toEqual(user);
    cgroup.exit(0);
    await run.result;
    expect(world.leaseLog).toEqual(['-user:old']);
  });
});
