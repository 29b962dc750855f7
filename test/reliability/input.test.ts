/**
 * Scenario 8: bad input. Every row is refused with a typed error and a stable code, and leaves
 * nothing behind: the cgroup tree (every hierarchy), the state directory, the workspace pool and
 * the host's agent list are as before; no agent process was started.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, Cgroup, ErrorCode, isAgentHostError, type AgentHostOptions, type SpawnAgentOptions } from '../../src/index.js';
import { cgroupTree, failure, fileTree, processesIn, scratch, SMALL, startHost, untilFile } from './helpers.js';

type Row = [what: string, code: string, options: Record<string, unknown>];

const badIds: Array<[string, unknown]> = [
  ['empty', ''],
  ['../x', '../x'],
  ['a/b', 'a/b'],
  ['300 characters', 'a'.repeat(300)],
  ['unicode', 'agënt-日本'],
  ['NUL', 'a\0b'],
  ['..', '..'],
  ['.', '.'],
  ['leading dash', '-rf'],
  ['space', 'a b'],
  ['newline', 'a\nb'],
  ['number', 42],
  ['null', null],
  ['kernel file name', 'cgroup.procs'],
];

const badSizes: unknown[] = ['4XB', -1, NaN, Infinity, '1e999', 0, '', '4G4', '-4G', '1.5.5M', '4iB', 2 ** 64, {}, null];
const badDurations: unknown[] = ['soon', -5, NaN, Infinity, '1e999', '9'.repeat(400), '10 parsecs', '5m-1s', '', {}];

const spawnRows: Row[] = [
  ...badSizes.map((v): Row => [`limits.memoryMax ${String(v)}`, v === 0 ? ErrorCode.INVALID_SIZE : ErrorCode.INVALID_SIZE, { limits: { memoryMax: v } }]),
  ...['4XB', -1, NaN].map((v): Row => [`limits.memoryHigh ${String(v)}`, ErrorCode.INVALID_SIZE, { limits: { memoryHigh: v } }]),
  ...['4XB', -1].map((v): Row => [`limits.swapMax ${String(v)}`, ErrorCode.INVALID_SIZE, { limits: { swapMax: v } }]),
  ...[0, -1, 1.5, NaN, Infinity, 'many', '64'].map((v): Row => [`limits.pidsMax ${String(v)}`, ErrorCode.INVALID_OPTION, { limits: { pidsMax: v } }]),
  ['limits a string', ErrorCode.INVALID_OPTION, { limits: '4G' }],
  ...badDurations.map((v): Row => [`queueTimeout ${String(v).slice(0, 20)}`, ErrorCode.INVALID_DURATION, { queueTimeout: v }]),
  ...['soon', -1, NaN].map((v): Row => [`timeouts.hard ${String(v)}`, ErrorCode.INVALID_DURATION, { timeouts: { hard: v } }]),
  ['timeouts soft after hard', ErrorCode.INVALID_OPTION, { timeouts: { soft: '1h', hard: '1m' } }],
  ['env value with NUL', ErrorCode.INVALID_OPTION, { env: { OK: 'a\0b' } }],
  ['env name with NUL', ErrorCode.INVALID_OPTION, { env: { 'A\0B': 'x' } }],
  ['env name with =', ErrorCode.INVALID_OPTION, { env: { 'A=B': 'x' } }],
  ['env name empty', ErrorCode.INVALID_OPTION, { env: { '': 'x' } }],
  ['env value a number', ErrorCode.INVALID_OPTION, { env: { A: 42 } }],
  ['command missing', ErrorCode.INVALID_OPTION, { command: undefined }],
  ['command empty', ErrorCode.INVALID_OPTION, { command: '' }],
  ['command with NUL', ErrorCode.INVALID_OPTION, { command: 'tr\0ue' }],
  ['command a number', ErrorCode.INVALID_OPTION, { command: 42 }],
  ['command not on PATH', ErrorCode.SPAWN_NOT_FOUND, { command: 'no-such-command-nova' }],
  ['command a directory', ErrorCode.SPAWN_NOT_FOUND, { command: '/tmp' }],
  ['args not an array', ErrorCode.INVALID_OPTION, { args: '-c true' }],
  ['args with NUL', ErrorCode.INVALID_OPTION, { args: ['a\0b'] }],
  ['args with a number', ErrorCode.INVALID_OPTION, { args: [1] }],
  ['cwd missing', ErrorCode.SPAWN_NOT_FOUND, { cwd: '/nonexistent/nova' }],
  ['cwd with NUL', ErrorCode.SPAWN_NOT_FOUND, { cwd: '/tmp\0/x' }],
  ['priority NaN', ErrorCode.INVALID_OPTION, { priority: NaN }],
  ['priority Infinity', ErrorCode.INVALID_OPTION, { priority: Infinity }],
  ['workspace without a pool', ErrorCode.INVALID_OPTION, { workspace: true }],
];

const hostRows: Array<[string, string, Partial<AgentHostOptions>]> = [
  ...['4XB', -1, NaN, Infinity, '1e999', 0].map((v): [string, string, Partial<AgentHostOptions>] => [`limits.memoryMax ${String(v)}`, ErrorCode.INVALID_SIZE, { limits: { memoryMax: v as string } }]),
  ...['soon', -5, NaN, Infinity, '1e999'].map((v): [string, string, Partial<AgentHostOptions>] => [`killGrace ${String(v)}`, ErrorCode.INVALID_DURATION, { killGrace: v as string }]),
  ...['soon', -5, NaN].map((v): [string, string, Partial<AgentHostOptions>] => [`pollInterval ${String(v)}`, ErrorCode.INVALID_DURATION, { pollInterval: v as string }]),
  ...[0, -1, 1.5, NaN].map((v): [string, string, Partial<AgentHostOptions>] => [`maxConcurrent ${String(v)}`, ErrorCode.INVALID_OPTION, { maxConcurrent: v }]),
  ['workspaces.slots 0', ErrorCode.INVALID_OPTION, { workspaces: { root: '/nonexistent/nova-ws', slots: 0 } }],
  ['workspaces.root empty', ErrorCode.INVALID_OPTION, { workspaces: { root: '' } }],
  ['timeouts.soft soon', ErrorCode.INVALID_DURATION, { timeouts: { soft: 'soon' } }],
  ['monitor.interval 0', ErrorCode.INVALID_OPTION, { monitor: { interval: 0 } }],
  ['cgroupRoot escaping the cgroup mount', ErrorCode.INVALID_OPTION, { cgroupRoot: '../../nova-escape' }],
  ['cgroupRoot absolute, escaping', ErrorCode.INVALID_OPTION, { cgroupRoot: `${Cgroup.self().path}/../../../../nova-escape` }],
];

describe('8. bad input', () => {
  it('spawn: every bad id, size, duration, env, command is a typed error with a stable code; nothing is created', async () => {
    const wsRoot = join(scratch('ws'), 'pool');
    const { host, root, stateDir, dir } = await startHost({ workspaces: { root: wsRoot, slots: 2 } }, 'input');
    const noPool = await startHost({}, 'input-nopool');
    const stop = join(dir, 'stop');
    // A live agent: bad input must not disturb it either.
    const live = await host.spawn('live', { command: 'sh', args: untilFile(stop), workspace: true });
    const before = { cgroups: cgroupTree(root), state: fileTree(stateDir), pool: fileTree(wsRoot), noPool: cgroupTree(noPool.root) };
    const spawned: string[] = [];
    host.on('spawn', (agent) => spawned.push(agent.id));
    noPool.host.on('spawn', (agent) => spawned.push(agent.id));

    const seen: string[] = [];
    const wrong: string[] = [];
    const check = async (what: string, expected: string, run: () => Promise<unknown>): Promise<void> => {
      const { code, error } = await failure(run);
      seen.push(`${what} → ${code}`);
      if (code !== expected || (expected !== 'NO_ERROR' && !isAgentHostError(error))) wrong.push(`${what}: expected ${expected}, got ${code} (${String(error)})`);
    };
    for (const [what, id] of badIds) {
      await check(`id ${what}`, ErrorCode.INVALID_NAME, () => host.spawn(id as string, { command: 'true', workspace: true }));
    }
    await check('id of a live agent', ErrorCode.AGENT_EXISTS, () => host.spawn('live', { command: 'true' }));
    for (const [i, [what, code, options]] of spawnRows.entries()) {
      const target = what === 'workspace without a pool' ? noPool.host : host;
      const spawnOptions = { command: 'true', workspace: target === host, ...options } as SpawnAgentOptions;
      // Should one be accepted after all, let it end before the next row (it holds a slot).
      await check(`spawn ${what}`, code, async () => (await target.spawn(`bad-${i}`, spawnOptions)).result);
    }
    await check('spawn options null', ErrorCode.INVALID_OPTION, () => host.spawn('bad', null as unknown as SpawnAgentOptions));
    // Bad input to kill(): refused before anything happens to the agent.
    for (const grace of ['soon', -1, NaN]) await check(`kill grace ${String(grace)}`, ErrorCode.INVALID_DURATION, () => host.kill('live', { grace: grace as string }));
    await check('kill of an unknown id', ErrorCode.AGENT_NOT_FOUND, () => host.kill('../live'));
    await check('extendTimeout -1', ErrorCode.INVALID_DURATION, async () => live.extendTimeout(-1));

    expect(wrong, seen.join('\n')).toEqual([]);
    // Nothing was made or changed.
    expect(cgroupTree(root)).toEqual(before.cgroups);
    expect(cgroupTree(noPool.root)).toEqual(before.noPool);
    expect(fileTree(stateDir)).toEqual(before.state);
    expect(fileTree(wsRoot)).toEqual(before.pool);
    expect(spawned).toEqual([]);
    expect(host.agents().map((a) => a.id)).toEqual(['live']);
    expect(noPool.host.agents()).toEqual([]);
    expect(live.state).toBe('running');
    // No process anywhere but in the live agent's cgroup (the tree is unchanged, the root itself is empty).
    expect(root.procs()).toEqual([]);
    expect(processesIn(root)).toContain(live.pid);
    await live.kill({ force: true });
  });

  it('host options: every bad value throws a typed error in the constructor or start(); nothing is created', async () => {
    const root = (await startHost({}, 'input-host')).root;
    const dir = scratch('input-host');
    const before = cgroupTree(root);
    const wrong: string[] = [];
    for (const [what, expected, options] of hostRows) {
      const stateDir = join(dir, 'state');
      const { code, error } = await failure(async () => {
        // The host preflight (on by default) looks at the same options: off here, so each row meets the option's own check.
        const host = new AgentHost({ cgroupRoot: root.child('agents'), stateDir, limits: SMALL, preflight: 'off', ...options });
        await host.start();
        await host.dispose();
      });
      if (code !== expected || !isAgentHostError(error)) wrong.push(`${what}: expected ${expected}, got ${code} (${String(error)})`);
      expect(fileTree(dir), what).toEqual([]);
    }
    expect(wrong).toEqual([]);
    expect(cgroupTree(root)).toEqual(before);
  });
});
