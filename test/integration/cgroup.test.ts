/**
 * The Cgroup engine on the real kernel: cgroup v1 natively on hosts like these (hybrid), cgroup v2
 * in the VM (`npm run test:vm`) or on a modern host. Every cgroup lives below a unique test parent
 * under this process's own cgroup and is deleted afterwards; every process is started here.
 */
import { spawn as spawnChild } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Cgroup, ErrorCode, JOIN_FAILED_EXIT_CODE, type Limits, type MemoryEvents, type Subprocess } from '../../src/index.js';
import { leftovers, procCgroupPath, rawFile, testParent, uniqueName } from '../helpers/cgroups.js';
import { hasCommand, kernelStackBytes, skipIf } from '../helpers/kernel.js';
import { cgroupsOf, isAlive, procStat, processTree } from '../helpers/procs.js';
import { nextEvent, waitFor } from '../helpers/wait.js';

const M = 2 ** 20;
const self = Cgroup.self();
const v2 = self.version === 2;
/** v1 has no file events: poll fast so the tests do not wait a second per event. */
const watchOptions = v2 ? {} : { pollInterval: 50 };
process.stderr.write(`[cgroup integration] cgroup v${self.version} (${self.hierarchy.mode}), own cgroup ${self.path}\n`);

const parent = testParent('cgroup');

/** Cgroups and processes of the current test, cleaned up after it whatever happened. */
const made: Cgroup[] = [];
const started: Subprocess[] = [];

function create(label: string, limits?: Limits): Cgroup {
  const cgroup = Cgroup.create(parent, uniqueName(label), limits === undefined ? {} : { limits });
  made.push(cgroup);
  return cgroup;
}

function run(cgroup: Cgroup, command: string, args: string[] = [], options: Parameters<Cgroup['spawn']>[2] = {}): Subprocess {
  const subprocess = cgroup.spawn(command, args, options);
  started.push(subprocess);
  return subprocess;
}

afterEach(async () => {
  for (const cgroup of made.splice(0).reverse()) {
    await cgroup.delete();
    expect(leftovers(cgroup)).toEqual({ cgroups: [], pids: [] });
  }
  // Reap the shims' exit statuses so no zombie or open pipe outlives the test.
  await Promise.all(started.splice(0));
});

describe('limits', () => {
  it('read back as set: stats() and the raw kernel files', () => {
    const cg = create('limits', { memoryMax: '64M', memoryHigh: '48M', swapMax: 0, pidsMax: 64 });
    const stats = cg.stats();
    expect(stats.memory.max).toBe(64 * M);
    expect(stats.memory.high).toBe(48 * M);
    expect(stats.pids.max).toBe(64);
    if (v2) {
      expect(rawFile(cg, 'memory.max')).toBe(String(64 * M));
      expect(rawFile(cg, 'memory.high')).toBe(String(48 * M));
      expect(rawFile(cg, 'pids.max')).toBe('64');
      if (existsSync(join(cg.path, 'memory.swap.max'))) expect(rawFile(cg, 'memory.swap.max')).toBe('0');
    } else {
      expect(rawFile(cg, 'memory.limit_in_bytes', 'memory')).toBe(String(64 * M));
      expect(rawFile(cg, 'memory.soft_limit_in_bytes', 'memory')).toBe(String(48 * M));
      // swap 0: memory + swap may not exceed memory alone.
      if (existsSync(join(cg.location.memory!, 'memory.memsw.limit_in_bytes'))) {
        expect(rawFile(cg, 'memory.memsw.limit_in_bytes', 'memory')).toBe(String(64 * M));
      }
      expect(rawFile(cg, 'pids.max', 'pids')).toBe('64');
    }
  });

  it('can be raised, lowered and lifted ("max") again', () => {
    const cg = create('relimit', { memoryMax: '64M', swapMax: 0, pidsMax: 64 });
    cg.setLimits({ memoryMax: '128M', swapMax: 0 });
    expect(cg.stats().memory.max).toBe(128 * M);
    cg.setLimits({ memoryMax: '32M', swapMax: 0 });
    expect(cg.stats().memory.max).toBe(32 * M);
    cg.setLimits({ memoryMax: 'max', memoryHigh: 'max', swapMax: 'max', pidsMax: 'max' });
    const stats = cg.stats();
    expect([stats.memory.max, stats.memory.high, stats.pids.max]).toEqual([Infinity, Infinity, Infinity]);
    if (v2) expect(rawFile(cg, 'memory.max')).toBe('max');
    else expect(Number(rawFile(cg, 'memory.limit_in_bytes', 'memory'))).toBeGreaterThan(2 ** 62);
  });

  it('v2 only: memory.min, memory.low and memory.oom.group', (ctx) => {
    skipIf(ctx, !v2 && 'cgroup v1 has no memory.min, memory.low or memory.oom.group');
    const cg = create('protect', { memoryMin: '16M', memoryLow: '32M', oomGroup: true });
    expect(rawFile(cg, 'memory.min')).toBe(String(16 * M));
    expect(rawFile(cg, 'memory.low')).toBe(String(32 * M));
    expect(rawFile(cg, 'memory.oom.group')).toBe('1');
  });
});

describe('memory.max', () => {
  it('OOM-kills a stress-ng hog; memory events count it and watch() reports the delta', async (ctx) => {
    skipIf(ctx, !hasCommand('stress-ng') && 'stress-ng is not installed (apt-get install stress-ng)');
    const cg = create('oom', { memoryMax: '64M', swapMax: 0 });
    const watcher = cg.watch(watchOptions);
    try {
      const oom = new Promise<MemoryEvents>((resolve) => {
        watcher.on('memory', (delta) => {
          if (delta.oomKill > 0) resolve(delta);
        });
      });
      const hog = run(cg, 'stress-ng', ['--vm', '1', '--vm-bytes', '200M', '--vm-keep', '--oomable', '--timeout', '60s']);
      await cg.joined(hog);
      const delta = await Promise.race([oom, sleep(45_000).then(() => undefined)]);
      expect(delta, 'a memory event with an oomKill delta').toBeDefined();
      expect(delta!.oomKill).toBeGreaterThanOrEqual(1);

      const stats = cg.stats();
      expect(cg.memoryEvents()!.oomKill).toBeGreaterThanOrEqual(1);
      expect(stats.memory.events.oomKill).toBeGreaterThanOrEqual(1);
      // v2 counts hits of memory.max; v1's memory.failcnt is not maintained by every kernel (0 on these hosts).
      if (v2) expect(stats.memory.events.max).toBeGreaterThanOrEqual(1);
      // The limit held: usage never went past it, and it did get close.
      expect(stats.memory.peak).toBeLessThanOrEqual(64 * M);
      expect(stats.memory.peak).toBeGreaterThan(32 * M);
      if (v2) {
        expect(Number(/oom_kill (\d+)/.exec(rawFile(cg, 'memory.events'))![1])).toBeGreaterThanOrEqual(1);
        expect(stats.pressure).toBeDefined();
      } else {
        expect(Number(/oom_kill (\d+)/.exec(rawFile(cg, 'memory.oom_control', 'memory'))![1])).toBeGreaterThanOrEqual(1);
      }
    } finally {
      watcher.close();
      await cg.kill();
    }
  });
});

describe('pids.max', () => {
  it('caps a fork storm: forks fail at the limit and pids.events counts them', async () => {
    const cg = create('forks', { pidsMax: 16 });
    // 100 background sleeps, far past the limit: forks beyond 16 tasks fail with EAGAIN.
    run(cg, 'sh', ['-c', 'i=0; while [ $i -lt 100 ]; do sleep 60 & i=$((i+1)); done; exec sleep 60']);
    const stats = await waitFor(() => {
      const s = cg.stats();
      return s.pids.events.max > 0 ? s : undefined;
    }, { timeout: 30_000, message: 'pids.events max > 0' });
    expect(stats.pids.current).toBeLessThanOrEqual(16);
    expect(cg.procs().length).toBeLessThanOrEqual(16);
    expect(stats.pids.current).toBeGreaterThan(1);
    if (v2) expect(Number(/max (\d+)/.exec(rawFile(cg, 'pids.events'))![1])).toBeGreaterThan(0);
    else expect(Number(/max (\d+)/.exec(rawFile(cg, 'pids.events', 'pids'))![1])).toBeGreaterThan(0);
    await cg.kill();
  });
});

describe('spawn: in the cgroup before exec', () => {
  it('places the command and every descendant in the cgroup, in every hierarchy', async () => {
    const cg = create('join');
    const sub = run(cg, 'sh', ['-c', 'sleep 30 & sleep 30 & wait']);
    const pid = await cg.joined(sub);
    const procs = await waitFor(() => (cg.procs().length === 3 ? cg.procs() : undefined), { message: '3 processes in the cgroup' });
    expect([...procs].sort((a, b) => a - b)).toEqual(processTree(pid));
    for (const p of procs) {
      const seen = cgroupsOf(p)!;
      for (const key of cg.driver.keys(cg.hierarchy)) expect(seen[key], `pid ${p} in ${key}`).toBe(procCgroupPath(cg, key));
    }
    await cg.kill();
    expect(await sub).toMatchObject({ signal: 'SIGKILL' });
  });

  it('the command is inside from its first instruction: it reads its own cgroup', async () => {
    const cg = create('first');
    const result = await run(cg, 'cat', ['/proc/self/cgroup'], { stdio: ['ignore', 'pipe', 'pipe'], buffer: true });
    expect(result.exitCode).toBe(0);
    const lines = String(result.stdout).split('\n');
    for (const key of cg.driver.keys(cg.hierarchy)) {
      const pattern = key === 'unified' ? /^0::(.*)$/ : new RegExp(`^\\d+:(?:[^:]*,)?${key}(?:,[^:]*)?:(.*)$`);
      const line = lines.find((l) => pattern.test(l));
      expect(line && pattern.exec(line)![1], key).toBe(procCgroupPath(cg, key));
    }
  });

  it('never runs the command when it cannot join (no cgroup): exit status 125', async () => {
    const missing = parent.child(uniqueName('missing'));
    const marker = join(tmpdir(), `${uniqueName('marker')}`);
    const result = await missing.spawn('sh', ['-c', `touch ${marker}`]);
    expect(result.exitCode).toBe(JOIN_FAILED_EXIT_CODE);
    expect(existsSync(marker)).toBe(false);
    rmSync(marker, { force: true });
  });

  it('into an empty cgroup, forks from inside: the child is there when spawn() returns; the orchestrator is back home', () => {
    const cg = create('inside');
    const home = cgroupsOf(process.pid);
    const sub = run(cg, 'sleep', ['30']);
    // No await in between: the child was born in the cgroup (the shim would still be outside).
    const seen = cgroupsOf(sub.pid!)!;
    for (const key of cg.driver.keys(cg.hierarchy)) expect(seen[key], key).toBe(procCgroupPath(cg, key));
    expect(cgroupsOf(process.pid)).toEqual(home);
    expect(cg.procs()).toEqual([sub.pid]);
    // v2: the fork itself happened in the cgroup: the child's kernel stack is charged to it.
    if (v2) expect(kernelStackBytes(cg.path)).toBeGreaterThan(0);
    expect(sub.spawnfile).not.toBe('/bin/sh');
    sub.kill('SIGKILL');
  });

  it('forkInside: false always takes the shim, and the process still never runs outside', async () => {
    const cg = create('noinside');
    const result = await run(cg, 'cat', ['/proc/self/cgroup'], { stdio: ['ignore', 'pipe', 'ignore'], buffer: true, forkInside: false });
    expect(started.at(-1)!.spawnfile).toBe('/bin/sh');
    expect(result.exitCode).toBe(0);
    const key = cg.driver.keys(cg.hierarchy)[0]!;
    expect(String(result.stdout)).toContain(procCgroupPath(cg, key));
    // v2: a live process that joined after its fork elsewhere has no kernel stack charged here.
    const sleeper = run(cg, 'sleep', ['30'], { forkInside: false });
    await cg.joined(sleeper);
    if (v2) expect(kernelStackBytes(cg.path)).toBe(0);
    await cg.kill();
  });

  it('into a busy cgroup, goes through the shim: in the cgroup once joined(), the orchestrator never inside', async () => {
    const cg = create('busy');
    const first = run(cg, 'sleep', ['30']);
    await cg.joined(first);
    const second = run(cg, 'sleep', ['30']);
    expect(await cg.joined(second)).toBe(second.pid);
    expect([...cg.procs()].sort((a, b) => a - b)).toEqual([first.pid!, second.pid!].sort((a, b) => a - b));
    expect(cg.procs()).not.toContain(process.pid);
    await cg.kill();
  });

  it('v2: through the shim the fork happens outside (the kernel stack is charged where the fork ran)', async (ctx) => {
    skipIf(ctx, !v2 && 'v1 has no per-cgroup kernel_stack counter');
    const busy = create('stack');
    const first = run(busy, 'sleep', ['30']);
    await busy.joined(first);
    const before = kernelStackBytes(busy.path);
    const second = run(busy, 'sleep', ['30']);
    await busy.joined(second);
    // Forked from inside, the first charged a stack here; the shim forked in the orchestrator's cgroup.
    expect(before).toBeGreaterThan(0);
    expect(kernelStackBytes(busy.path)).toBe(before);
    await busy.kill();
  });

  it('into a frozen empty cgroup: the orchestrator does not step in (it would freeze); the child waits for the thaw', async () => {
    const cg = create('frozen');
    await cg.freeze();
    const sub = run(cg, 'sh', ['-c', 'exit 7']);
    expect(await cg.joined(sub)).toBe(sub.pid);
    await sleep(100);
    expect(sub.exitCode).toBe(null);
    await cg.thaw();
    expect((await sub).exitCode).toBe(7);
  });

  it('pids.max binds the very first fork: a cgroup with pids.max 0 refuses the process (typed)', async () => {
    const cg = create('nopids');
    // 0 is below what the library accepts (a cgroup that can hold nothing): written raw.
    writeFileSync(join((cg.location.pids ?? cg.location.unified)!, 'pids.max'), '0');
    const home = cgroupsOf(process.pid);
    const sub = run(cg, 'true');
    await expect(cg.joined(sub)).rejects.toMatchObject({ code: ErrorCode.SPAWN_FAILED });
    expect((await sub).failed).toBe(true);
    expect(cgroupsOf(process.pid)).toEqual(home);
  });

  it('v2: a refused step in (a parent with limited children takes no process) is a typed error; the orchestrator stays home', async (ctx) => {
    skipIf(ctx, !v2 && 'cgroup v1 has no "no internal processes" rule');
    const cg = create('parent');
    const child = Cgroup.create(cg, 'child', { limits: { memoryMax: '32M' } });
    made.push(child);
    const home = cgroupsOf(process.pid);
    expect(() => run(cg, 'true')).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_BUSY }));
    expect(cgroupsOf(process.pid)).toEqual(home);
  });

  it('joined() works long after the spawn (the spawn event is past)', async () => {
    const cg = create('late');
    const first = run(cg, 'sleep', ['30']);
    const second = run(cg, 'sleep', ['30']);
    await sleep(200);
    expect(await cg.joined(second)).toBe(second.pid);
    expect(await cg.joined(first)).toBe(first.pid);
    await cg.kill();
  });

  it('addProcess moves an existing process in', async () => {
    const cg = create('move');
    const child = spawnChild('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      cg.addProcess(child.pid!);
      expect(cg.procs()).toEqual([child.pid]);
      for (const key of cg.driver.keys(cg.hierarchy)) expect(cgroupsOf(child.pid!)![key]).toBe(procCgroupPath(cg, key));
      await cg.kill();
      expect(await exited).toBe(null);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('kill', () => {
  // The command forks a setsid'ed shell (own session) with two children, and a double-forked sleep
  // reparented away from the tree: neither process group nor parent links reach them all.
  const escapee = 'setsid sh -c "sleep 300 & sleep 300 & wait" & (sleep 300 &); exec sleep 300';

  for (const fallback of [false, true]) {
    const how = fallback ? 'kill({ fallback: true }): freeze, SIGKILL each, thaw' : v2 ? 'kill(): cgroup.kill' : 'kill(): v1 freezer loop';
    it(`${how} — kills setsid and double-forked children; nothing is left`, async () => {
      const cg = create(fallback ? 'killfb' : 'kill');
      const sub = run(cg, 'sh', ['-c', escapee]);
      const pid = await cg.joined(sub);
      // Wait until the escape worked: some processes are in another session, some are not
      // descendants of the command any more (the subshell between them has exited).
      const procs = await waitFor(
        () => {
          const now = cg.procs();
          const tree = processTree(pid);
          const session = procStat(pid)?.session;
          const escaped = now.some((p) => procStat(p)?.session !== session) && now.some((p) => !tree.includes(p));
          return now.length >= 5 && escaped ? now : undefined;
        },
        { message: '5 processes in the cgroup, in another session and reparented' },
      );

      await cg.kill({ fallback });
      expect(cg.procs()).toEqual([]);
      expect(cg.populated()).toBe(false);
      await waitFor(() => procs.every((p) => !isAlive(p)), { message: `pids ${procs.join(', ')} dead` });
      expect(await sub).toMatchObject({ signal: 'SIGKILL' });
    });
  }

  it('signal() reaches every process and counts them', async () => {
    const cg = create('signal');
    const sub = run(cg, 'sh', ['-c', 'sleep 30 & sleep 30 & wait']);
    await cg.joined(sub);
    await waitFor(() => cg.procs().length === 3);
    expect(cg.signal('SIGTERM')).toBe(3);
    await waitFor(() => !cg.populated(), { message: 'cgroup empty after SIGTERM' });
    expect(await sub).toMatchObject({ signal: 'SIGTERM' });
  });
});

describe('freeze and thaw', () => {
  it('stops a busy process (no CPU time while frozen) and resumes it', async () => {
    const cg = create('freeze');
    const sub = run(cg, 'sh', ['-c', 'while :; do :; done']);
    const pid = await cg.joined(sub);
    await waitFor(() => procStat(pid)!.utime > 0, { message: 'the loop uses CPU' });

    await cg.freeze();
    if (v2) expect(rawFile(cg, 'cgroup.events')).toMatch(/frozen 1/);
    else expect(rawFile(cg, 'freezer.state', 'freezer')).toBe('FROZEN');
    const frozenAt = procStat(pid)!.utime;
    await sleep(300);
    expect(procStat(pid)!.utime).toBe(frozenAt);

    await cg.thaw();
    if (v2) expect(rawFile(cg, 'cgroup.events')).toMatch(/frozen 0/);
    else expect(rawFile(cg, 'freezer.state', 'freezer')).toBe('THAWED');
    await waitFor(() => procStat(pid)!.utime > frozenAt, { message: 'the loop runs again' });
    await cg.kill();
  });

  it('a frozen cgroup is still killed', async () => {
    const cg = create('frozenkill');
    const sub = run(cg, 'sh', ['-c', 'sleep 30 & exec sleep 30']);
    await cg.joined(sub);
    await waitFor(() => cg.procs().length === 2);
    await cg.freeze();
    await cg.kill();
    expect(cg.populated()).toBe(false);
  });
});

describe('watch', () => {
  it("emits 'empty' when the last process exits", async () => {
    const cg = create('empty');
    const sub = run(cg, 'sh', ['-c', 'sleep 0.5 & exec sleep 0.3']);
    await cg.joined(sub);
    const watcher = cg.watch(watchOptions);
    try {
      const empty = nextEvent(watcher, 'empty', 15_000);
      await empty;
      expect(cg.populated()).toBe(false);
    } finally {
      watcher.close();
    }
  });
});

describe('delete', () => {
  it('kills what is left, removes child cgroups first, and leaves no directory in any hierarchy', async () => {
    const cg = Cgroup.create(parent, uniqueName('delete'));
    const inner = Cgroup.create(cg, 'inner', { limits: { memoryMax: '32M' } });
    const dirs = [...cg.dirs, ...inner.dirs];
    // v2: a cgroup with limited children may hold no processes; the inner leaf holds them all there.
    const holder = v2 ? inner : cg;
    const a = holder.spawn('sleep', ['300']);
    const b = inner.spawn('sh', ['-c', 'sleep 300 & exec sleep 300']);
    const pids = [await holder.joined(a), await inner.joined(b)];
    await cg.delete();
    for (const dir of dirs) expect(existsSync(dir), dir).toBe(false);
    expect(leftovers(cg)).toEqual({ cgroups: [], pids: [] });
    await Promise.all([a, b]);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('v2: a parent holding processes cannot get limited children (no internal processes)', async (ctx) => {
    skipIf(ctx, !v2 && 'cgroup v1 has no "no internal processes" rule');
    const cg = create('internal');
    const sub = run(cg, 'sleep', ['30']);
    await cg.joined(sub);
    let error: unknown;
    try {
      Cgroup.create(cg, 'child', { limits: { memoryMax: '32M' } });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: ErrorCode.CGROUP_BUSY, cgroup: cg.path, file: join(cg.path, 'cgroup.subtree_control') });
    expect(String((error as Error).message)).toMatch(/no internal processes/);
    await cg.kill();
  });
});

describe('errors on the real kernel', () => {
  it('create of an existing cgroup, load of a missing one', () => {
    const cg = create('exists');
    expect(() => Cgroup.create(parent, cg.name)).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_EXISTS }));
    expect(Cgroup.create(parent, cg.name, { existOk: true }).path).toBe(cg.path);
    // v1: one path cannot name a cgroup whose directories differ per hierarchy (as here): pass the location.
    expect(Cgroup.load(v2 ? cg.path : cg.location).path).toBe(cg.path);
    const missing = parent.child(uniqueName('nope'));
    expect(() => Cgroup.load(v2 ? missing.path : missing.location)).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_NOT_FOUND, cgroup: missing.path }));
    // A kernel file of the parent is not a cgroup, whatever the name allows.
    expect(() => Cgroup.create(parent, 'cgroup.procs', { existOk: true })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_NAME }));
  });

  it('a write to a removed cgroup fails with ERR_CGROUP_NOT_FOUND naming the file and the cgroup', async () => {
    const cg = Cgroup.create(parent, uniqueName('removed'));
    await cg.delete();
    const file = v2 ? join(cg.path, 'memory.max') : join(cg.location.memory!, 'memory.limit_in_bytes');
    expect(() => cg.setLimits({ memoryMax: '64M' })).toThrow(
      expect.objectContaining({ code: ErrorCode.CGROUP_NOT_FOUND, file, cgroup: cg.location.memory ?? cg.path }),
    );
  });

  it('v1: memory.limit_in_bytes above memsw is refused, naming the file (raise swapMax with it)', (ctx) => {
    skipIf(ctx, v2 && 'cgroup v2 limits memory and swap independently');
    skipIf(ctx, !existsSync(join(self.location.memory!, 'memory.memsw.limit_in_bytes')) && 'no swap accounting (memory.memsw.*)');
    const cg = create('memsw', { memoryMax: '64M', swapMax: 0 });
    expect(() => cg.setLimits({ memoryMax: '128M' })).toThrow(
      expect.objectContaining({ code: ErrorCode.CGROUP_IO, file: join(cg.location.memory!, 'memory.limit_in_bytes') }),
    );
    cg.setLimits({ memoryMax: '128M', swapMax: 0 });
    expect(cg.stats().memory.max).toBe(128 * M);
  });
});
