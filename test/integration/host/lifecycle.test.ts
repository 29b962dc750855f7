/**
 * AgentHost against the real kernel: join before exec, the seed's limits, OOM kills, graceful and
 * forced kills, KillMode=control-group, run-in-cgroup, id validation, failed spawns, and the
 * workspace pool (slots 0700, one lease per agent, stale leases reclaimed, cleaning that never
 * follows a symlink out of a slot).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AgentHost, Cgroup, ErrorCode, isAgentHostError, type Agent, type OomEvent } from '../../../src/index.js';
import { skipIf } from '../../helpers/kernel.js';
import { cgroupsOf, processTree } from '../../helpers/procs.js';
import { waitFor } from '../../helpers/wait.js';
import {
  alive,
  anyDirExists,
  childNames,
  defer,
  GRACE_MS,
  inCgroup,
  kernelFile,
  kernelOomKills,
  kernelProcs,
  keysOf,
  listsCgroup,
  parseProcCgroup,
  readPids,
  SMALL,
  startHost,
  testRoot,
  tempDir,
  untilFile,
} from './harness.js';

const v2 = (): boolean => Cgroup.self().version === 2;

beforeAll(() => {
  console.log(`cgroup v${Cgroup.self().version}, below ${Cgroup.self().path}`);
});

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: isAgentHostError(error) ? error.code : undefined, message: String(error) };
  }
  throw new Error('expected a rejection');
}

describe('spawn', () => {
  it.each([true, false])('in the cgroup before exec (forkInside: %s): the main process and every descendant, even setsid/double-forked ones', async (forkInside) => {
    const { host, dir } = await startHost({ forkInside });
    const first = join(dir, 'first');
    const pids = join(dir, 'pids');
    const env = join(dir, 'env');
    const stop = join(dir, 'stop');
    const script =
      // The very first thing the command does: a child reads its cgroup membership.
      `cat /proc/self/cgroup > '${first}'; echo "$NOVA_AGENT_ID $NOVA_AGENT_CGROUP" > '${env}'; ` +
      `sleep 30 & echo $! >> '${pids}'; ` +
      `(sleep 30 & echo $! >> '${pids}'); ` +
      `setsid sh -c 'echo $$ >> "${pids}"; exec sleep 30' & ` +
      `while [ ! -e '${stop}' ]; do sleep 0.2; done`;
    const agent = await host.spawn('joiner', { command: 'sh', args: ['-c', script] });
    const cgroup = agent.cgroup!;
    expect(agent.state).toBe('running');
    expect(agent.pid).toBeGreaterThan(0);

    // Once the spawn resolves, the main process is in the cgroup in every hierarchy.
    expect(inCgroup(agent.pid!, cgroup)).toBe(true);
    await waitFor(() => readPids(pids).length === 3, { message: 'three children' });
    const children = readPids(pids);

    // Every descendant, and every process of the cgroup, in every hierarchy, per /proc/<pid>/cgroup.
    for (const pid of [agent.pid!, ...children]) expect(inCgroup(pid, cgroup), `pid ${pid} in ${cgroup.path}`).toBe(true);
    // The loop's short-lived `sleep`s too — unless one ended between the listing and the look.
    for (const pid of processTree(agent.pid!)) {
      expect(inCgroup(pid, cgroup) || cgroupsOf(pid) === undefined, `pid ${pid} in ${cgroup.path}`).toBe(true);
    }
    for (const key of keysOf(cgroup)) {
      expect(kernelProcs(cgroup, key)).toEqual(expect.arrayContaining([agent.pid!, ...children]));
    }
    // The first child (cat) was already inside: no escape window.
    expect(listsCgroup(parseProcCgroup(readFileSync(first, 'utf8')), cgroup)).toBe(true);
    expect(readFileSync(env, 'utf8').trim()).toBe(`joiner ${cgroup.path}`);

    writeFileSync(stop, '');
    const result = await agent.result;
    expect(result).toMatchObject({ id: 'joiner', reason: 'exit', exitCode: 0, signal: null });
    // KillMode=control-group: the children it left behind died with it.
    expect(alive(children)).toEqual([]);
    expect(anyDirExists(cgroup)).toBe(false);
  });

  it('applies the default limits (read back from the kernel) and merges per-agent overrides; memory.high follows a new memory.max at ¾', async () => {
    // Admission by expected peak off: each agent would reserve its 3G memory.high, and a 2 GiB VM fits one.
    const { host, dir } = await startHost({ limits: undefined, peaks: false });
    const stop = join(dir, 'stop');
    const seed = await host.spawn('seed', { command: 'sh', args: untilFile(stop) });
    const custom = await host.spawn('custom', { command: 'sh', args: untilFile(stop), limits: { memoryMax: '256M', pidsMax: 32 } });
    const G = 1024 ** 3;
    const M = 1024 ** 2;
    if (v2()) {
      const read = (agent: Agent, file: string): string => kernelFile(agent.cgroup!, file);
      expect(read(seed, 'memory.max')).toBe(String(4 * G));
      expect(read(seed, 'memory.high')).toBe(String(3 * G));
      if (existsSync(join(seed.cgroup!.path, 'memory.swap.max'))) expect(read(seed, 'memory.swap.max')).toBe('0');
      expect(read(seed, 'pids.max')).toBe('512');
      expect(read(custom, 'memory.max')).toBe(String(256 * M));
      expect(read(custom, 'memory.high')).toBe(String(192 * M));
      expect(read(custom, 'pids.max')).toBe('32');
    } else {
      const read = (agent: Agent, file: string, key: 'memory' | 'pids' = 'memory'): string => kernelFile(agent.cgroup!, file, key);
      expect(read(seed, 'memory.limit_in_bytes')).toBe(String(4 * G));
      expect(read(seed, 'memory.soft_limit_in_bytes')).toBe(String(3 * G));
      if (existsSync(join(seed.cgroup!.location.memory!, 'memory.memsw.limit_in_bytes'))) {
        // swapMax 0: memory + swap = memory.
        expect(read(seed, 'memory.memsw.limit_in_bytes')).toBe(String(4 * G));
        expect(read(custom, 'memory.memsw.limit_in_bytes')).toBe(String(256 * M));
      }
      expect(read(seed, 'pids.max', 'pids')).toBe('512');
      expect(read(custom, 'memory.limit_in_bytes')).toBe(String(256 * M));
      expect(read(custom, 'memory.soft_limit_in_bytes')).toBe(String(192 * M));
      expect(read(custom, 'pids.max', 'pids')).toBe('32');
    }
    writeFileSync(stop, '');
    await Promise.all([seed.result, custom.result]);
  });
});

describe('OOM', () => {
  it("reason 'oom' and exactly one oom event for a hog over memory.max, while a neighbour keeps running", async () => {
    const { host, root, dir } = await startHost();
    const stop = join(dir, 'stop');
    const neighbour = await host.spawn('neighbour', { command: 'sh', args: untilFile(stop) });
    const events: Array<[string, OomEvent]> = [];
    host.on('oom', (agent, event) => events.push([agent.id, event]));
    const own: OomEvent[] = [];
    const hog = await host.spawn('hog', {
      command: 'stress-ng',
      args: ['--vm', '1', '--vm-bytes', '200M', '--vm-keep', '--oomable', '--timeout', '60s', '--quiet'],
      limits: { memoryMax: '64M', memoryHigh: 'max' },
      keepCgroup: true,
    });
    hog.on('oom', (event) => own.push(event));
    const kept = hog.cgroup!;
    defer(() => kept.delete());

    const result = await hog.result;
    expect(result.reason).toBe('oom');
    const kills = kernelOomKills(kept);
    expect(kills).toBeGreaterThanOrEqual(1);
    expect(result.oomKills).toBe(kills);
    expect(result.peakMemory).toBeGreaterThan(32 * 1024 ** 2);
    expect(result.peakMemory).toBeLessThanOrEqual(64 * 1024 ** 2 + 1024 ** 2);
    // One event per kill round, with counts that add up to the kernel's figure.
    expect(events.map(([id]) => id)).toEqual(['hog']);
    expect(events[0]![1]).toMatchObject({ count: kills, total: kills, scope: 'agent' });
    expect(own).toEqual([events[0]![1]]);
    // Kept for post-mortem, but empty.
    expect(kept.exists()).toBe(true);
    expect(kernelProcs(kept)).toEqual([]);

    // The neighbour was untouched.
    expect(neighbour.state).toBe('running');
    expect(alive([neighbour.pid!])).toEqual([neighbour.pid]);
    expect(kernelOomKills(neighbour.cgroup!)).toBe(0);
    expect(host.status().oomKills).toBe(kills);
    writeFileSync(stop, '');
    expect((await neighbour.result).reason).toBe('exit');
    expect(childNames(root)).toEqual(['hog']);
  });
});

describe('kill', () => {
  it('graceful: SIGTERM to every process, then SIGKILL after the grace for one that traps TERM', async () => {
    const { host, dir } = await startHost();
    const termed = join(dir, 'termed');
    const pids = join(dir, 'pids');
    // The main shell traps TERM and keeps going; its children die of it.
    const agent = await host.spawn('stubborn', {
      command: 'sh',
      args: ['-c', `trap 'echo term >> "${termed}"' TERM; sleep 30 & echo $! > '${pids}'; while :; do sleep 1 & wait $!; done`],
    });
    await waitFor(() => readPids(pids).length === 1);
    const [child] = readPids(pids);
    const kills: unknown[] = [];
    host.on('kill', (a, event) => kills.push([a.id, event]));
    const started = Date.now();
    const result = await host.kill('stubborn');
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(readFileSync(termed, 'utf8')).toContain('term');
    expect(elapsed).toBeGreaterThanOrEqual(GRACE_MS - 20);
    expect(kills).toEqual([['stubborn', { reason: 'killed', force: false }]]);
    expect(alive([agent.pid!, child!])).toEqual([]);
    expect(anyDirExists(agent.cgroup!)).toBe(false);
  });

  it('graceful: an agent that exits on SIGTERM ends before the grace', async () => {
    const { host } = await startHost({ killGrace: '20s' });
    const agent = await host.spawn('polite', { command: 'sleep', args: ['30'] });
    const started = Date.now();
    const result = await agent.kill();
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGTERM' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(alive([agent.pid!])).toEqual([]);
    expect(anyDirExists(agent.cgroup!)).toBe(false);
  });

  it('forced: SIGKILL to the whole cgroup at once, TERM traps notwithstanding', async () => {
    const { host, dir } = await startHost({ killGrace: '30s' });
    const pids = join(dir, 'pids');
    const agent = await host.spawn('forced', {
      command: 'sh',
      args: ['-c', `trap '' TERM; sleep 30 & echo $! > '${pids}'; setsid sleep 30 & echo $! >> '${pids}'; wait`],
    });
    await waitFor(() => readPids(pids).length === 2);
    const started = Date.now();
    const result = await host.kill('forced', { force: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    expect(alive([agent.pid!, ...readPids(pids)])).toEqual([]);
    expect(anyDirExists(agent.cgroup!)).toBe(false);
    await expect(host.kill('forced')).rejects.toMatchObject({ code: ErrorCode.AGENT_NOT_FOUND });
  });

  it('a forced kill cuts a graceful kill short', async () => {
    const { host } = await startHost({ killGrace: '30s' });
    const agent = await host.spawn('cut', { command: 'sh', args: ['-c', "trap '' TERM; exec sleep 60"] });
    const graceful = host.kill('cut');
    await waitFor(() => agent.state === 'stopping');
    const started = Date.now();
    await host.kill('cut', { force: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await graceful).reason).toBe('killed');
    expect(alive([agent.pid!])).toEqual([]);
  });
});

describe('KillMode=control-group', () => {
  const leaver = (pids: string): string[] => [
    '-c',
    `setsid sh -c 'echo $$ >> "${pids}"; exec sleep 60' & (sleep 60 & echo $! >> '${pids}') ; ` +
      `while [ "$(wc -l < '${pids}')" -lt 2 ]; do sleep 0.02; done; exit 3`,
  ];

  it('a setsid/double-fork leftover dies with its agent when the main process exits; the cgroup is removed', async () => {
    const { host, root, dir } = await startHost();
    const pids = join(dir, 'pids');
    const agent = await host.spawn('leaver', { command: 'sh', args: leaver(pids) });
    const result = await agent.result;
    expect(result).toMatchObject({ reason: 'exit', exitCode: 3 });
    const left = readPids(pids);
    expect(left).toHaveLength(2);
    expect(alive(left)).toEqual([]);
    expect(anyDirExists(agent.cgroup!)).toBe(false);
    expect(childNames(root)).toEqual([]);
  });

  it('keepCgroup keeps the (emptied) cgroup for post-mortem', async () => {
    const { host, dir } = await startHost();
    const pids = join(dir, 'pids');
    const agent = await host.spawn('kept', { command: 'sh', args: leaver(pids), keepCgroup: true });
    const kept = agent.cgroup!;
    defer(() => kept.delete());
    await agent.result;
    expect(alive(readPids(pids))).toEqual([]);
    expect(kept.dirs.every((d) => existsSync(d))).toBe(true);
    for (const key of keysOf(kept)) expect(kernelProcs(kept, key)).toEqual([]);
    // Its figures are still there to read.
    expect(kept.stats().memory.peak).toBeGreaterThan(0);
  });
});

describe('run', () => {
  it('runs another command inside a live agent’s cgroup, killed with it', async () => {
    const { host, dir } = await startHost();
    const stop = join(dir, 'stop');
    const agent = await host.spawn('runner', { command: 'sh', args: untilFile(stop) });
    const cat = await host.exec('runner', 'cat', ['/proc/self/cgroup'], { stdio: 'pipe', buffer: true });
    expect(listsCgroup(parseProcCgroup(String(cat.stdout)), agent.cgroup!)).toBe(true);
    const env = await host.exec('runner', 'sh', ['-c', 'echo $NOVA_AGENT_ID'], { stdio: 'pipe', buffer: true });
    expect(String(env.stdout).trim()).toBe('runner');

    const extra = host.exec('runner', 'sleep', ['60']);
    await waitFor(() => extra.pid !== undefined && inCgroup(extra.pid, agent.cgroup!));
    expect(kernelProcs(agent.cgroup!)).toContain(extra.pid);
    await host.kill('runner', { force: true });
    const outcome = await extra;
    expect(outcome.signal).toBe('SIGKILL');
    expect(() => host.exec('runner', 'true')).toThrow(expect.objectContaining({ code: ErrorCode.AGENT_NOT_RUNNING }));
  });
});

describe('ids', () => {
  it('refuses bad ids (ERR_INVALID_NAME) and duplicates (ERR_AGENT_EXISTS), creating nothing', async () => {
    const { host, root, dir, stateDir } = await startHost({ workspaces: { root: join(tempDir(), 'ws'), slots: 4 } });
    const stop = join(dir, 'stop');
    const spawned: string[] = [];
    host.on('spawn', (a) => spawned.push(a.id));
    const bad = ['', '../escape', 'a/b', '..', '.hidden', '-flag', 'a b', 'x'.repeat(200), 'nul\0',
      // Valid names that are kernel files: never a cgroup (pids.max is in the second v1 hierarchy).
      'cgroup.procs', 'pids.max', ...(v2() ? ['memory.max', 'cgroup.subtree_control'] : ['tasks', 'memory.limit_in_bytes'])];
    for (const id of bad) {
      const error = await rejection(host.spawn(id, { command: 'sh', args: untilFile(stop), workspace: true }));
      expect(error.code, `id ${JSON.stringify(id)}: ${error.message}`).toBe(ErrorCode.INVALID_NAME);
    }
    // Nothing was made: no cgroup in any hierarchy, no record, no lease, no agent.
    for (const dirOfRoot of root.dirs) expect(readdirSync(dirOfRoot, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(host.workspaces!.leases().size).toBe(0);
    expect(host.agents()).toEqual([]);
    expect(spawned).toEqual([]);

    const first = await host.spawn('twin', { command: 'sleep', args: ['60'] });
    const error = await rejection(host.spawn('twin', { command: 'sh', args: untilFile(stop) }));
    expect(error.code).toBe(ErrorCode.AGENT_EXISTS);
    expect(childNames(root)).toEqual(['twin']);
    expect(kernelProcs(first.cgroup!)).toEqual([first.pid]);
    expect(host.agents().map((a) => a.id)).toEqual(['twin']);
    await first.kill({ force: true });
    // The id is free again once the agent has ended.
    const again = await host.spawn('twin', { command: 'true' });
    expect((await again.result).reason).toBe('exit');
  });
});

describe('failed spawns', () => {
  it.each([
    ['ENOENT', ErrorCode.SPAWN_NOT_FOUND, () => ({ command: '/nonexistent/agent' })],
    ['ENOENT on PATH', ErrorCode.SPAWN_NOT_FOUND, () => ({ command: 'no-such-agent-command-x' })],
    ['a missing cwd', ErrorCode.SPAWN_NOT_FOUND, () => ({ command: 'true', cwd: '/nonexistent/dir' })],
  ] as const)('%s: rejects with %s before anything is created (no cgroup, lease, record or exit event)', async (_name, code, options) => {
    const { host, root, stateDir } = await startHost({ workspaces: { root: join(tempDir(), 'ws'), slots: 2 } });
    const exits: string[] = [];
    host.on('exit', (a, r) => exits.push(`${a.id}:${r.reason}`));
    const queued: string[] = [];
    host.on('queue', (e) => queued.push(e.reason));
    const error = await rejection(host.spawn('broken', { ...options(), workspace: true }));
    expect(error.code).toBe(code);
    expect(childNames(root)).toEqual([]);
    for (const d of root.dirs) expect(existsSync(join(d, 'broken'))).toBe(false);
    expect(host.workspaces!.leases().size).toBe(0);
    expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(host.get('broken')).toBeUndefined();
    expect(exits).toEqual([]);
    expect(queued).toEqual([]);
  });

  it('EACCES: a command that is not executable', async () => {
    const { host, root } = await startHost({ workspaces: { root: join(tempDir(), 'ws'), slots: 2 } });
    const script = join(tempDir(), 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n');
    chmodSync(script, 0o644);
    const error = await rejection(host.spawn('denied', { command: script, workspace: true }));
    expect(error.code).toBe(ErrorCode.SPAWN_PERMISSION);
    expect(childNames(root)).toEqual([]);
    expect(host.workspaces!.leases().size).toBe(0);
  });
});

describe('the host itself', () => {
  it('takes cgroupRoot as a path too, creating it when missing (kept on dispose: it is the caller’s)', async (ctx) => {
    const self = Cgroup.self();
    const below = new Set(keysOf(self).map((key) => relative(self.hierarchy.mounts[key]!, self.location[key]!)));
    skipIf(ctx, below.size > 1 && `this process sits at different paths in its v1 hierarchies (${[...below].join(', ')}): one path cannot name a cgroup below it in all of them`);
    const parent = testRoot();
    const path = join(parent.path, 'agents');
    const host = new AgentHost({ cgroupRoot: path, stateDir: join(tempDir(), 'state'), limits: SMALL });
    defer(() => host.dispose());
    await host.start();
    expect(host.root.location).toEqual(parent.child('agents').location);
    const agent = await host.spawn('by-path', { command: 'sleep', args: ['30'] });
    expect(inCgroup(agent.pid!, parent.child('agents').child('by-path'))).toBe(true);
    await host.dispose();
    expect(parent.child('agents').exists()).toBe(true);
    expect(childNames(parent.child('agents'))).toEqual([]);
  });

  it('spawn before start and after dispose are typed errors; two hosts cannot share a root', async () => {
    const root = testRoot();
    const stateDir = join(tempDir(), 'state');
    const host = new AgentHost({ cgroupRoot: root, stateDir });
    await expect(host.spawn('a', { command: 'true' })).rejects.toMatchObject({ code: ErrorCode.HOST_NOT_STARTED });
    await host.start();
    defer(() => host.dispose());
    const other = new AgentHost({ cgroupRoot: root, stateDir });
    await expect(other.start()).rejects.toMatchObject({ code: ErrorCode.HOST_LOCKED });
    await host.dispose();
    await expect(host.spawn('a', { command: 'true' })).rejects.toMatchObject({ code: ErrorCode.HOST_DISPOSED });
  });
});

/** A pid that is certainly dead: a process we started and reaped. */
function deadPid(): number {
  const pid = Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
  expect(existsSync(`/proc/${pid}`)).toBe(false);
  return pid;
}

describe('workspace pool', () => {
  it('slots are 0700; each agent leases its own as cwd; the lease ends (slot emptied) when the agent exits', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    const { host, dir } = await startHost({ workspaces: { root: wsRoot, slots: 3 } });
    const slots = readdirSync(wsRoot).filter((n) => n.startsWith('ws-')).sort();
    expect(slots).toEqual(['ws-001', 'ws-002', 'ws-003']);
    for (const slot of slots) expect(statSync(join(wsRoot, slot)).mode & 0o7777).toBe(0o700);

    const stop = join(dir, 'stop');
    const agents = await Promise.all(
      ['a', 'b'].map((id) => host.spawn(id, { command: 'sh', args: untilFile(stop, 'echo mine > own.txt; '), workspace: true })),
    );
    const [a, b] = agents as [(typeof agents)[0], (typeof agents)[0]];
    expect(a.workspace).not.toBe(b.workspace);
    for (const agent of agents) {
      // The kernel's view of the agent's working directory.
      expect(readlinkSync(`/proc/${agent.pid}/cwd`)).toBe(agent.workspace);
      const lease = host.workspaces!.leases().get(agent.workspace!);
      expect(lease).toEqual({ pid: process.pid, agent: agent.id });
    }
    await Promise.all(agents.map((agent) => waitForFile(join(agent.workspace!, 'own.txt'))));

    writeFileSync(stop, '');
    await Promise.all(agents.map((agent) => agent.result));
    expect(host.workspaces!.leases().size).toBe(0);
    expect(readdirSync(join(wsRoot, '.leases'))).toEqual([]);
    for (const agent of agents) expect(readdirSync(agent.workspace!)).toEqual([]);
  });

  it('a lease whose owner pid is dead is reclaimed (and its slot emptied); a live owner’s is not', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    mkdirSync(join(wsRoot, '.leases'), { recursive: true });
    mkdirSync(join(wsRoot, 'ws-001'));
    mkdirSync(join(wsRoot, 'ws-002'));
    writeFileSync(join(wsRoot, '.leases', 'ws-001.lock'), JSON.stringify({ pid: process.ppid, agent: 'theirs' }));
    writeFileSync(join(wsRoot, '.leases', 'ws-002.lock'), JSON.stringify({ pid: deadPid(), agent: 'crashed' }));
    writeFileSync(join(wsRoot, 'ws-002', 'stale.txt'), 'left by a crashed orchestrator');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 2 } });

    const agent = await host.spawn('reclaimer', { command: 'sleep', args: ['30'], workspace: true });
    expect(agent.workspace).toBe(join(wsRoot, 'ws-002'));
    expect(readdirSync(agent.workspace!)).toEqual([]);
    expect(JSON.parse(readFileSync(join(wsRoot, '.leases', 'ws-002.lock'), 'utf8'))).toEqual({ pid: process.pid, agent: 'reclaimer' });
    // The live owner keeps ws-001: the pool is full.
    await expect(host.spawn('extra', { command: 'true', workspace: true })).rejects.toMatchObject({ code: 'ERR_WORKSPACE_EXHAUSTED' });
    expect(JSON.parse(readFileSync(join(wsRoot, '.leases', 'ws-001.lock'), 'utf8')).agent).toBe('theirs');
    await agent.kill({ force: true });
  });

  it('cleaning a slot removes symlinks to / and to files outside, never their targets', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    mkdirSync(join(outside, 'tree'));
    writeFileSync(join(outside, 'tree', 'deep.txt'), 'keep me too');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 1 } });
    const agent = await host.spawn('linker', { command: 'sleep', args: ['60'], workspace: true });
    const slot = agent.workspace!;
    // What an agent might leave in its slot (made from here: every exec is slow in the VM).
    symlinkSync('/', join(slot, 'root-link'));
    symlinkSync(join(outside, 'precious.txt'), join(slot, 'file-link'));
    mkdirSync(join(slot, 'nested', 'more'), { recursive: true });
    symlinkSync(join(outside, 'tree'), join(slot, 'nested', 'more', 'dir-link'));
    symlinkSync('/', join(slot, 'nested', 'root-link'));
    writeFileSync(join(slot, 'nested', 'scratch.txt'), 'scratch');
    await agent.kill({ force: true });

    expect(readdirSync(slot)).toEqual([]);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(readFileSync(join(outside, 'tree', 'deep.txt'), 'utf8')).toBe('keep me too');
    for (const path of ['/etc', '/bin', '/usr', '/proc/self']) expect(existsSync(path)).toBe(true);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    expect(statSync(slot).mode & 0o7777).toBe(0o700);
  });

  it('a slot replaced by a symlink to a directory outside is recreated, the outside left alone', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 1 } });
    const slot = join(wsRoot, 'ws-001');
    const swap = ['-c', `cd .. && rmdir '${slot}' && ln -s '${outside}' '${slot}'`];
    // Running as its own user (the default as root), the agent cannot touch the root-owned pool.
    const confined = await host.spawn('confined', { command: 'sh', args: swap, workspace: true });
    expect((await confined.result).exitCode).not.toBe(0);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    // As root it can: the agent runs inside the slot, then swaps the slot itself for a link.
    const agent = await host.spawn('swapper', { command: 'sh', args: swap, workspace: true, user: 'root' });
    expect((await agent.result).exitCode).toBe(0);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    expect(readdirSync(slot)).toEqual([]);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(host.workspaces!.leases().size).toBe(0);
  });
});

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(existsSync(path)).toBe(true);
}
