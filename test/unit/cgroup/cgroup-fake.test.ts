/**
 * The Cgroup class over fake cgroupfs trees (plain files in a temp dir). A fake tree cannot
 * behave like the kernel (controllers do not propagate, nothing is ever busy), so the tests
 * write the kernel's side themselves and record the library's writes through a spy on files.ts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import { NO_MEMORY_EVENTS } from '../../../src/cgroup/watch.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { fakeTree, type FakeTree } from '../../helpers/fake-tree.js';
import { nextEvent, waitFor } from '../../helpers/wait.js';

type Write = { dir: string; file: string; value: string };
const spy = vi.hoisted(() => ({
  writes: [] as { dir: string; file: string; value: string }[],
  /** Errors to throw instead of writing, by file name (the kernel's EBUSY, EINVAL...). */
  failWrite: new Map<string, Error>(),
  /** How many removeDir calls fail with EBUSY before one succeeds. */
  busyRemovals: 0,
}));

vi.mock('../../../src/cgroup/files.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/cgroup/files.js')>();
  const errors = await import('../../../src/errors.js');
  return {
    ...real,
    writeFile(dir: string, file: string, value: string) {
      const failure = spy.failWrite.get(file);
      if (failure) throw errors.fromSystemError(failure, `write ${JSON.stringify(value)} to`, `${dir}/${file}`, dir);
      spy.writes.push({ dir, file, value });
      real.writeFile(dir, file, value);
    },
    removeDir(dir: string) {
      if (spy.busyRemovals > 0) {
        spy.busyRemovals--;
        throw new errors.AgentHostError(errors.ErrorCode.CGROUP_BUSY, `cannot remove cgroup ${dir}: EBUSY`, { cgroup: dir, file: dir });
      }
      return real.removeDir(dir);
    },
  };
});

beforeEach(() => {
  spy.writes.length = 0;
  spy.failWrite.clear();
  spy.busyRemovals = 0;
});

const writesIn = (tree: FakeTree): Write[] => spy.writes.map((w) => ({ ...w, dir: w.dir.slice(tree.root.length + 1) }));

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fake`), { code });
}

/** A v2 tree: mount at `cg/`, this process in `cg/<own>`. */
function v2(spec: Record<string, string>, own = 'a'): { tree: FakeTree; hierarchy: CgroupHierarchy; self: Cgroup } {
  const tree = fakeTree(spec);
  const hierarchy: CgroupHierarchy = {
    mode: 'unified',
    version: 2,
    mounts: { unified: tree.path('cg') },
    own: { unified: tree.path('cg', own) },
    readOnly: [],
  };
  return { tree, hierarchy, self: Cgroup.self({ hierarchy }) };
}

/** A v1 tree: memory, pids and freezer mounted under `v1/`, this process in `<own>` of each. */
function v1(spec: Record<string, string>, own = 'a'): { tree: FakeTree; hierarchy: CgroupHierarchy; self: Cgroup } {
  const tree = fakeTree({ 'v1/memory/a/': '', 'v1/pids/a/': '', 'v1/freezer/a/': '', ...spec });
  const hierarchy: CgroupHierarchy = {
    mode: 'hybrid',
    version: 1,
    mounts: { memory: tree.path('v1/memory'), pids: tree.path('v1/pids'), freezer: tree.path('v1/freezer'), unified: tree.path('v2') },
    own: { memory: tree.path('v1/memory', own), pids: tree.path('v1/pids', own), freezer: tree.path('v1/freezer', own), unified: tree.path('v2') },
    readOnly: [],
  };
  return { tree, hierarchy, self: Cgroup.self({ hierarchy }) };
}

describe('v2 controller enabling (fake cgroupfs)', () => {
  it('enables memory and pids in every ancestor up to the mount root, then creates the child', () => {
    const { tree, self } = v2({
      'cg/cgroup.controllers': 'cpu io memory pids\n',
      'cg/cgroup.subtree_control': '\n',
      'cg/a/cgroup.controllers': '\n',
      'cg/a/cgroup.subtree_control': '\n',
    });
    const child = Cgroup.create(self, 'agent-1');
    expect(writesIn(tree)).toEqual([
      { dir: 'cg', file: 'cgroup.subtree_control', value: '+memory +pids' },
      { dir: 'cg/a', file: 'cgroup.subtree_control', value: '+memory +pids' },
    ]);
    expect(existsSync(child.path)).toBe(true);
    expect(child.path).toBe(tree.path('cg/a/agent-1'));
  });

  it('writes only what is missing, and nothing when all is enabled', () => {
    const { tree, self } = v2({
      'cg/a/cgroup.controllers': 'memory pids\n',
      'cg/a/cgroup.subtree_control': 'memory\n',
    });
    self.enableControllers();
    expect(writesIn(tree)).toEqual([{ dir: 'cg/a', file: 'cgroup.subtree_control', value: '+pids' }]);
    spy.writes.length = 0;
    tree.write('cg/a/cgroup.subtree_control', 'memory pids\n');
    self.enableControllers();
    expect(spy.writes).toEqual([]);
  });

  it('enables cpu and io too, one at a time, when offered', () => {
    const { tree, self } = v2({
      'cg/a/cgroup.controllers': 'cpuset cpu io memory pids\n',
      'cg/a/cgroup.subtree_control': 'memory pids\n',
    });
    self.enableControllers();
    expect(writesIn(tree)).toEqual([
      { dir: 'cg/a', file: 'cgroup.subtree_control', value: '+cpu' },
      { dir: 'cg/a', file: 'cgroup.subtree_control', value: '+io' },
    ]);
  });

  it('goes on without an optional controller the kernel refuses', () => {
    const { self } = v2({
      'cg/a/cgroup.controllers': 'cpu memory pids\n',
      'cg/a/cgroup.subtree_control': 'memory pids\n',
    });
    spy.failWrite.set('cgroup.subtree_control', errno('EINVAL'));
    expect(() => self.enableControllers()).not.toThrow();
  });

  it('fails with ERR_CGROUP_UNAVAILABLE, naming the file and cgroup, when the mount root lacks a controller', () => {
    const { tree, self } = v2({
      'cg/cgroup.controllers': 'cpu memory\n',
      'cg/cgroup.subtree_control': '\n',
      'cg/a/cgroup.controllers': '\n',
      'cg/a/cgroup.subtree_control': '\n',
    });
    const error = catchError(() => Cgroup.create(self, 'agent-1'));
    expect(error).toMatchObject({ code: ErrorCode.CGROUP_UNAVAILABLE, cgroup: tree.path('cg'), file: tree.path('cg/cgroup.controllers') });
    expect(error.message).toContain('pids');
    expect(error.message).toContain(tree.path('cg'));
    expect(existsSync(tree.path('cg/a/agent-1'))).toBe(false);
  });

  it('fails with ERR_CGROUP_BUSY explaining "no internal processes" when the parent holds processes', () => {
    const { tree, self } = v2({
      'cg/a/cgroup.controllers': 'memory pids\n',
      'cg/a/cgroup.subtree_control': '\n',
    });
    spy.failWrite.set('cgroup.subtree_control', errno('EBUSY'));
    const error = catchError(() => Cgroup.create(self, 'agent-1'));
    expect(error).toMatchObject({ code: ErrorCode.CGROUP_BUSY, file: tree.path('cg/a/cgroup.subtree_control') });
    expect(error.message).toMatch(/no internal processes/);
    expect(error.message).toContain(tree.path('cg/a'));
  });

  it('fails with ERR_CGROUP_PERMISSION naming the file when subtree_control is not writable', () => {
    const { tree, self } = v2({ 'cg/a/cgroup.controllers': 'memory pids\n', 'cg/a/cgroup.subtree_control': '\n' });
    spy.failWrite.set('cgroup.subtree_control', errno('EACCES'));
    expect(catchError(() => self.enableControllers())).toMatchObject({
      code: ErrorCode.CGROUP_PERMISSION,
      file: tree.path('cg/a/cgroup.subtree_control'),
      cgroup: tree.path('cg/a'),
    });
  });

  it('fails with ERR_CGROUP_NOT_FOUND naming cgroup.controllers when it is missing', () => {
    const { tree, self } = v2({ 'cg/a/': '' });
    expect(catchError(() => self.enableControllers())).toMatchObject({
      code: ErrorCode.CGROUP_NOT_FOUND,
      file: tree.path('cg/a/cgroup.controllers'),
    });
  });
});

describe('create, load and delete (fake cgroupfs)', () => {
  const ready = { 'cg/a/cgroup.controllers': 'memory pids\n', 'cg/a/cgroup.subtree_control': 'memory pids\n' };

  it('applies limits to the new cgroup, skipping optional files that do not exist', () => {
    const { tree, self } = v2(ready);
    const child = Cgroup.create(self, 'agent-1', { limits: { memoryMax: '64M', memoryHigh: '48M', swapMax: 0, pidsMax: 32 } });
    expect(writesIn(tree)).toEqual([
      { dir: 'cg/a/agent-1', file: 'memory.high', value: String(48 * 2 ** 20) },
      { dir: 'cg/a/agent-1', file: 'memory.max', value: String(64 * 2 ** 20) },
      { dir: 'cg/a/agent-1', file: 'pids.max', value: '32' },
    ]);
    expect(tree.read('cg/a/agent-1/memory.max')).toBe(String(64 * 2 ** 20));
    expect(child.name).toBe('agent-1');
  });

  it('refuses bad names and bad limits before creating anything', () => {
    const { tree, self } = v2(ready);
    for (const name of ['../x', 'a/b', '..', 'x'.repeat(300), 'é', 'a\0b']) {
      expect(catchError(() => Cgroup.create(self, name)).code).toBe(ErrorCode.INVALID_NAME);
    }
    expect(catchError(() => Cgroup.create(self, 'ok', { limits: { memoryMax: '4XB' } })).code).toBe(ErrorCode.INVALID_SIZE);
    expect(existsSync(tree.path('cg/a/ok'))).toBe(false);
    expect(spy.writes).toEqual([]);
  });

  it('removes the half-made cgroup when a limit cannot be written', () => {
    const { tree, self } = v2(ready);
    spy.failWrite.set('memory.max', errno('EINVAL'));
    const error = catchError(() => Cgroup.create(self, 'agent-1', { limits: { memoryMax: '64M' } }));
    expect(error).toMatchObject({ code: ErrorCode.CGROUP_IO, file: tree.path('cg/a/agent-1/memory.max'), cgroup: tree.path('cg/a/agent-1') });
    expect(error.message).toContain('"67108864"');
    expect(existsSync(tree.path('cg/a/agent-1'))).toBe(false);
  });

  it('fails with ERR_CGROUP_EXISTS for an existing cgroup, loads it with existOk', () => {
    const { tree, self } = v2({ ...ready, 'cg/a/agent-1/': '' });
    expect(catchError(() => Cgroup.create(self, 'agent-1'))).toMatchObject({ code: ErrorCode.CGROUP_EXISTS, cgroup: tree.path('cg/a/agent-1') });
    expect(Cgroup.create(self, 'agent-1', { existOk: true }).path).toBe(tree.path('cg/a/agent-1'));
  });

  it('refuses a name that is one of the parent\'s kernel files, even with existOk', () => {
    const { self } = v2({ ...ready, 'cg/a/cgroup.procs': '' });
    expect(catchError(() => Cgroup.create(self, 'cgroup.procs', { existOk: true })).code).toBe(ErrorCode.INVALID_NAME);
  });

  it('loads by path relative to the mount or absolute; ERR_CGROUP_NOT_FOUND names the cgroup', () => {
    const { tree, hierarchy } = v2({ 'cg/x/y/': '' });
    expect(Cgroup.load('x/y', { hierarchy }).path).toBe(tree.path('cg/x/y'));
    expect(Cgroup.load('/x/y', { hierarchy }).path).toBe(tree.path('cg/x/y'));
    expect(Cgroup.load(tree.path('cg/x'), { hierarchy }).path).toBe(tree.path('cg/x'));
    const error = catchError(() => Cgroup.load('x/nope', { hierarchy }));
    expect(error).toMatchObject({ code: ErrorCode.CGROUP_NOT_FOUND, cgroup: tree.path('cg/x/nope') });
    expect(error.message).toContain(tree.path('cg/x/nope'));
  });

  it('v1: an absolute path below one mount names the same cgroup in every hierarchy', () => {
    const { tree, hierarchy } = v1({ 'v1/memory/x/': '', 'v1/pids/x/': '', 'v1/freezer/x/': '' });
    expect(Cgroup.load(tree.path('v1/pids/x'), { hierarchy }).location).toEqual({
      memory: tree.path('v1/memory/x'),
      pids: tree.path('v1/pids/x'),
      freezer: tree.path('v1/freezer/x'),
    });
    expect(Cgroup.load('x', { hierarchy }).path).toBe(tree.path('v1/memory/x'));
  });

  it('v1: creates one directory per hierarchy and writes each limit to its hierarchy', () => {
    const { tree, self } = v1({});
    const child = Cgroup.create(self, 'agent-1', { limits: { memoryMax: '64M', memoryHigh: '48M', swapMax: 0, pidsMax: 32 } });
    expect(child.dirs.sort()).toEqual([tree.path('v1/freezer/a/agent-1'), tree.path('v1/memory/a/agent-1'), tree.path('v1/pids/a/agent-1')]);
    expect(child.dirs.every((d) => existsSync(d))).toBe(true);
    // No memory.memsw.* here (no swap accounting): the optional writes are skipped.
    expect(writesIn(tree)).toEqual([
      { dir: 'v1/memory/a/agent-1', file: 'memory.soft_limit_in_bytes', value: String(48 * 2 ** 20) },
      { dir: 'v1/memory/a/agent-1', file: 'memory.limit_in_bytes', value: String(64 * 2 ** 20) },
      { dir: 'v1/pids/a/agent-1', file: 'pids.max', value: '32' },
    ]);
  });

  it('v1: with swap accounting, lifts memsw, sets the limit, then lowers memsw', () => {
    const { tree, hierarchy } = v1({ 'v1/memory/a/x/memory.memsw.limit_in_bytes': '', 'v1/pids/a/x/': '', 'v1/freezer/a/x/': '' });
    const cg = Cgroup.load({ memory: tree.path('v1/memory/a/x'), pids: tree.path('v1/pids/a/x'), freezer: tree.path('v1/freezer/a/x') }, { hierarchy });
    cg.setLimits({ memoryMax: '64M', swapMax: 0 });
    expect(writesIn(tree).map((w) => `${w.file}=${w.value}`)).toEqual([
      'memory.memsw.limit_in_bytes=-1',
      `memory.limit_in_bytes=${64 * 2 ** 20}`,
      `memory.memsw.limit_in_bytes=${64 * 2 ** 20}`,
    ]);
  });

  it('delete removes children first, in every hierarchy', async () => {
    const { tree, self } = v1({});
    const child = Cgroup.create(self, 'agent-1');
    const grandchild = Cgroup.create(child, 'inner');
    await child.delete();
    for (const dir of [...child.dirs, ...grandchild.dirs]) expect(existsSync(dir), dir).toBe(false);
    expect(existsSync(tree.path('v1/memory/a'))).toBe(true);
    await child.delete(); // already gone: a no-op
  });

  it('delete retries EBUSY with backoff, then gives up with ERR_CGROUP_BUSY', async () => {
    const { self } = v2(ready);
    const child = Cgroup.create(self, 'agent-1');
    spy.busyRemovals = 3;
    await child.delete();
    expect(existsSync(child.path)).toBe(false);

    const stuck = Cgroup.create(self, 'agent-2');
    spy.busyRemovals = 100;
    await expect(stuck.delete()).rejects.toMatchObject({ code: ErrorCode.CGROUP_BUSY, cgroup: stuck.path });
    spy.busyRemovals = 0;
    await stuck.delete();
  });

  it('children() lists existing child cgroups, not kernel files', () => {
    const { self } = v2({ ...ready, 'cg/a/b1/': '', 'cg/a/b2/': '', 'cg/a/memory.max': 'max\n' });
    expect(self.children().map((c) => c.name).sort()).toEqual(['b1', 'b2']);
  });

  it('a location must name a directory; a host without a memory controller has no driver', () => {
    const { hierarchy } = v2({});
    expect(catchError(() => new Cgroup({}, { hierarchy })).code).toBe(ErrorCode.INVALID_OPTION);
    const none: CgroupHierarchy = { mode: 'none', version: undefined, mounts: {}, own: {}, readOnly: [] };
    expect(catchError(() => Cgroup.self({ hierarchy: none })).code).toBe(ErrorCode.CGROUP_UNAVAILABLE);
  });

  it('addProcess refuses pids that are not positive integers', () => {
    const { self } = v2(ready);
    for (const pid of [0, -1, 1.5, NaN]) expect(catchError(() => self.addProcess(pid)).code).toBe(ErrorCode.INVALID_OPTION);
  });
});

describe('stats (fake cgroupfs)', () => {
  const M = 2 ** 20;
  const v2Files = {
    'cg/a/memory.current': `${100 * M}\n`,
    'cg/a/memory.stat': `anon ${60 * M}\nfile ${40 * M}\ninactive_file ${30 * M}\nactive_file ${10 * M}\n`,
    'cg/a/memory.max': `${256 * M}\n`,
    'cg/a/memory.high': 'max\n',
    'cg/a/memory.swap.current': '0\n',
    'cg/a/memory.events': 'low 0\nhigh 7\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n',
    'cg/a/memory.pressure': 'some avg10=1.00 avg60=0.50 avg300=0.10 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=56\n',
    'cg/a/pids.current': '5\n',
    'cg/a/pids.max': '512\n',
    'cg/a/pids.events': 'max 9\n',
    'cg/a/cgroup.events': 'populated 1\nfrozen 0\n',
    'cg/a/cgroup.procs': '100\n101\n',
  };

  it('v2: reads every figure; working set = current − inactive_file; peak falls back to the highest sample', () => {
    const { tree, self } = v2(v2Files);
    expect(self.stats()).toEqual({
      memory: {
        current: 100 * M,
        peak: 100 * M,
        workingSet: 70 * M,
        anon: 60 * M,
        file: 40 * M,
        inactiveFile: 30 * M,
        max: 256 * M,
        high: Infinity,
        swap: 0,
        events: { low: 0, high: 7, max: 3, oom: 2, oomKill: 1 },
      },
      pids: { current: 5, max: 512, events: { max: 9 } },
      pressure: {
        some: { avg10: 1, avg60: 0.5, avg300: 0.1, total: 1234 },
        full: { avg10: 0, avg60: 0, avg300: 0, total: 56 },
      },
    });
    tree.write('cg/a/memory.current', `${20 * M}\n`);
    expect(self.stats().memory.peak).toBe(100 * M);
    tree.write('cg/a/memory.peak', `${300 * M}\n`);
    expect(self.stats().memory.peak).toBe(300 * M);
    expect(self.procs()).toEqual([100, 101]);
    expect(self.populated()).toBe(true);
    expect(self.memoryEvents()).toEqual({ low: 0, high: 7, max: 3, oom: 2, oomKill: 1 });
  });

  it('v2: optional files missing (no swap accounting, no PSI, no pids controller) give defaults', () => {
    const files: Record<string, string> = { ...v2Files };
    for (const f of ['memory.swap.current', 'memory.pressure', 'pids.current', 'pids.max', 'pids.events', 'cgroup.events']) delete files[`cg/a/${f}`];
    const { self } = v2(files);
    const stats = self.stats();
    expect(stats.pressure).toBeUndefined();
    expect(stats.memory.swap).toBe(0);
    expect(stats.pids).toEqual({ current: 0, max: Infinity, events: { max: 0 } });
    expect(self.populated()).toBe(false);
  });

  it('v2: a garbled file fails with ERR_CGROUP_PARSE naming the file and the cgroup', () => {
    const { tree, self } = v2({ ...v2Files, 'cg/a/memory.max': 'lots\n' });
    const error = catchError(() => self.stats());
    expect(error).toMatchObject({ code: ErrorCode.CGROUP_PARSE, file: tree.path('cg/a/memory.max'), cgroup: tree.path('cg/a') });
    expect(error.message).toContain(tree.path('cg/a/memory.max'));
    expect(error.message).toContain('"lots"');
    tree.write('cg/a/memory.max', 'max\n');
    tree.write('cg/a/memory.events', 'oom_kill many\n');
    expect(catchError(() => self.memoryEvents())).toMatchObject({ code: ErrorCode.CGROUP_PARSE, file: tree.path('cg/a/memory.events') });
  });

  it('v2: a missing required file fails with ERR_CGROUP_NOT_FOUND naming it', () => {
    const files: Record<string, string> = { ...v2Files };
    delete files['cg/a/memory.current'];
    const { tree, self } = v2(files);
    expect(catchError(() => self.stats())).toMatchObject({ code: ErrorCode.CGROUP_NOT_FOUND, file: tree.path('cg/a/memory.current') });
  });

  it('v1: limits, the unlimited sentinel, swap from memsw, OOM kills from oom_control, pids from its hierarchy', () => {
    const { self } = v1({
      'v1/memory/a/memory.usage_in_bytes': `${100 * M}\n`,
      'v1/memory/a/memory.max_usage_in_bytes': `${150 * M}\n`,
      'v1/memory/a/memory.stat': `cache ${1 * M}\nrss ${2 * M}\ntotal_cache ${40 * M}\ntotal_rss ${60 * M}\ntotal_inactive_file ${30 * M}\n`,
      'v1/memory/a/memory.limit_in_bytes': '9223372036854771712\n',
      'v1/memory/a/memory.soft_limit_in_bytes': `${48 * M}\n`,
      'v1/memory/a/memory.memsw.usage_in_bytes': `${110 * M}\n`,
      'v1/memory/a/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 4\n',
      'v1/memory/a/memory.failcnt': '7\n',
      'v1/memory/a/memory.memsw.failcnt': '11\n',
      'v1/memory/a/cgroup.procs': '300\n',
      'v1/pids/a/pids.current': '3\n',
      'v1/pids/a/pids.max': 'max\n',
      'v1/pids/a/pids.events': 'max 2\n',
    });
    expect(self.stats()).toEqual({
      memory: {
        current: 100 * M,
        peak: 150 * M,
        workingSet: 70 * M,
        anon: 60 * M,
        file: 40 * M,
        inactiveFile: 30 * M,
        max: Infinity,
        high: 48 * M,
        swap: 10 * M,
        events: { low: 0, high: 0, max: 11, oom: 4, oomKill: 4 },
      },
      pids: { current: 3, max: Infinity, events: { max: 2 } },
      pressure: undefined,
    });
    expect(self.procs()).toEqual([300]);
    expect(self.populated()).toBe(true);
  });

  it('v1: a garbled file names the file and the cgroup', () => {
    const { tree, self } = v1({
      'v1/memory/a/memory.usage_in_bytes': 'n/a\n',
      'v1/memory/a/memory.stat': 'rss 0\n',
    });
    expect(catchError(() => self.stats())).toMatchObject({
      code: ErrorCode.CGROUP_PARSE,
      file: tree.path('v1/memory/a/memory.usage_in_bytes'),
      cgroup: tree.path('v1/memory/a'),
    });
  });
});

describe('watch (fake cgroupfs)', () => {
  const files = {
    'cg/a/memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
    'cg/a/cgroup.events': 'populated 1\nfrozen 0\n',
  };

  it('emits counter deltas with totals, and "empty" once when populated drops to 0', () => {
    const { tree, self } = v2(files);
    const watcher = self.watch({ pollInterval: 0 });
    const memory: unknown[] = [];
    let empty = 0;
    watcher.on('memory', (delta, total) => memory.push({ delta, total }));
    watcher.on('empty', () => empty++);
    watcher.check();
    expect(memory).toEqual([]);
    tree.write('cg/a/memory.events', 'low 0\nhigh 5\nmax 2\noom 1\noom_kill 1\n');
    watcher.check();
    watcher.check();
    tree.write('cg/a/memory.events', 'low 0\nhigh 5\nmax 3\noom 2\noom_kill 3\n');
    watcher.check();
    expect(memory).toEqual([
      { delta: { low: 0, high: 5, max: 2, oom: 1, oomKill: 1 }, total: { low: 0, high: 5, max: 2, oom: 1, oomKill: 1 } },
      { delta: { low: 0, high: 0, max: 1, oom: 1, oomKill: 2 }, total: { low: 0, high: 5, max: 3, oom: 2, oomKill: 3 } },
    ]);
    expect(watcher.counters).toEqual({ low: 0, high: 5, max: 3, oom: 2, oomKill: 3 });
    tree.write('cg/a/cgroup.events', 'populated 0\nfrozen 0\n');
    watcher.check();
    watcher.check();
    expect(empty).toBe(1);
    watcher.close();
  });

  it('baseline: NO_MEMORY_EVENTS reports what a new cgroup counted before the watch began', () => {
    const { tree, self } = v2(files);
    tree.write('cg/a/memory.events', 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n');
    const current = self.watch({ pollInterval: 0 });
    const fresh = self.watch({ pollInterval: 0, baseline: NO_MEMORY_EVENTS });
    const seen: Array<[string, number]> = [];
    current.on('memory', (delta) => seen.push(['current', delta.oomKill]));
    fresh.on('memory', (delta) => seen.push(['fresh', delta.oomKill]));
    current.check();
    fresh.check();
    expect(seen).toEqual([['fresh', 1]]);
    current.close();
    fresh.close();
  });

  it('v2: reacts to file modifications without polling (inotify)', async () => {
    const { tree, self } = v2(files);
    const watcher = self.watch({ pollInterval: 0 });
    try {
      const event = nextEvent<[{ oomKill: number }]>(watcher, 'memory', 5000);
      tree.write('cg/a/memory.events', 'low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n');
      const [delta] = await event;
      expect(delta.oomKill).toBe(1);
    } finally {
      watcher.close();
    }
  });

  it('v1: polls (no kernel file events there)', async () => {
    const { tree, self } = v1({
      'v1/memory/a/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
      'v1/memory/a/cgroup.procs': '42\n',
    });
    const watcher = self.watch({ pollInterval: 10 });
    try {
      const event = nextEvent<[{ oomKill: number }]>(watcher, 'memory', 5000);
      const empty = nextEvent(watcher, 'empty', 5000);
      tree.write('v1/memory/a/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
      expect((await event)[0].oomKill).toBe(2);
      tree.write('v1/memory/a/cgroup.procs', '');
      await empty;
    } finally {
      watcher.close();
    }
  });

  it('emits "error" for a garbled file, and nothing at all after close()', async () => {
    const { tree, self } = v2(files);
    const watcher = self.watch({ pollInterval: 10 });
    const errors: Error[] = [];
    watcher.on('error', (e) => errors.push(e));
    tree.write('cg/a/memory.events', 'oom_kill ?\n');
    await waitFor(() => errors.length > 0, { timeout: 5000 });
    expect(errors[0]).toMatchObject({ code: ErrorCode.CGROUP_PARSE, file: tree.path('cg/a/memory.events') });
    watcher.close();
    expect(watcher.listenerCount('error')).toBe(0);
    watcher.close(); // idempotent
  });
});

describe('reads in place: the watcher and sampler over files kept open (fake cgroupfs)', () => {
  it('v1: "empty" only once every hierarchy\'s cgroup.procs is empty; max is the larger failcnt', () => {
    const { tree, self } = v1({
      'v1/memory/a/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
      'v1/memory/a/memory.failcnt': '0\n',
      'v1/memory/a/memory.memsw.failcnt': '0\n',
      'v1/memory/a/cgroup.procs': '42\n',
      'v1/pids/a/cgroup.procs': '42\n',
      'v1/freezer/a/cgroup.procs': '',
    });
    const watcher = self.watch({ pollInterval: 0 });
    const seen: unknown[] = [];
    watcher.on('memory', (delta) => seen.push(delta));
    watcher.on('empty', () => seen.push('empty'));
    tree.write('v1/memory/a/memory.failcnt', '3\n');
    tree.write('v1/memory/a/memory.memsw.failcnt', '5\n');
    tree.write('v1/memory/a/cgroup.procs', '');
    watcher.check();
    expect(seen).toEqual([{ low: 0, high: 0, max: 5, oom: 0, oomKill: 0 }]);
    tree.write('v1/pids/a/cgroup.procs', '0\n');
    watcher.check();
    watcher.check();
    expect(seen).toEqual([{ low: 0, high: 0, max: 5, oom: 0, oomKill: 0 }, 'empty']);
    watcher.close();
  });

  it('sampler.read(into): the same objects while nothing changed, new ones (the old ones kept) when something did', () => {
    const { tree, self } = v2({
      'cg/a/memory.current': '4096\n',
      'cg/a/memory.events': 'low 0\nhigh 1\nmax 0\noom 0\noom_kill 0\n',
      'cg/a/memory.pressure': 'some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=2\n',
    });
    const sampler = self.sampler();
    const into = { current: 0, events: { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 }, pressure: undefined } as Parameters<typeof sampler.read>[0];
    expect(sampler.read(into)).toBe(true);
    const { events, pressure } = into;
    expect(into).toEqual(sampler.sample());
    tree.write('cg/a/memory.current', '8192\n');
    sampler.read(into);
    expect(into.current).toBe(8192);
    expect(into.events).toBe(events);
    expect(into.pressure).toBe(pressure);
    tree.write('cg/a/memory.events', 'low 0\nhigh 2\nmax 0\noom 0\noom_kill 0\n');
    tree.write('cg/a/memory.pressure', 'some avg10=1.25 avg60=0.00 avg300=0.00 total=9\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=4\n');
    sampler.read(into);
    expect(into.events).toEqual({ low: 0, high: 2, max: 0, oom: 0, oomKill: 0 });
    expect(events.high).toBe(1);
    expect(into.pressure).toEqual({ some: { avg10: 1.25, avg60: 0, avg300: 0, total: 9 }, full: { avg10: 0.5, avg60: 0, avg300: 0, total: 4 } });
    expect(pressure?.some.total).toBe(5);
    tree.write('cg/a/memory.events', 'low x\n');
    expect(() => sampler.read(into)).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE, file: tree.path('cg/a/memory.events') }));
    sampler.close();
  });
});

describe('fromSystemError', async () => {
  const { fromSystemError } = await import('../../../src/errors.js');
  it.each([
    ['EACCES', ErrorCode.CGROUP_PERMISSION],
    ['EPERM', ErrorCode.CGROUP_PERMISSION],
    ['EROFS', ErrorCode.CGROUP_PERMISSION],
    ['EBUSY', ErrorCode.CGROUP_BUSY],
    ['ENOTEMPTY', ErrorCode.CGROUP_BUSY],
    ['ENOENT', ErrorCode.CGROUP_NOT_FOUND],
    ['EEXIST', ErrorCode.CGROUP_EXISTS],
    ['EINVAL', ErrorCode.CGROUP_IO],
    ['ENOSPC', ErrorCode.CGROUP_IO],
  ])('%s → %s, naming the file and the cgroup', (code, expected) => {
    const error = fromSystemError(errno(code), 'write "1" to', '/cg/a/memory.max', '/cg/a');
    expect(error).toMatchObject({ code: expected, file: '/cg/a/memory.max', cgroup: '/cg/a' });
    expect(error.message).toBe(`cannot write "1" to /cg/a/memory.max (cgroup /cg/a): ${code}: fake`);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('passes an AgentHostError through unchanged', () => {
    const original = new AgentHostError(ErrorCode.CGROUP_BUSY, 'x');
    expect(fromSystemError(original, 'read', '/f')).toBe(original);
  });

  it('real fs errors: reading a directory as a file is ERR_CGROUP_IO naming it', async () => {
    const { readFile } = await import('../../../src/cgroup/files.js');
    const tree = fakeTree({ 'cg/a/memory.max/': '' });
    mkdirSync(tree.path('cg/a/x'), { recursive: true });
    expect(catchError(() => readFile(tree.path('cg/a'), 'memory.max'))).toMatchObject({
      code: ErrorCode.CGROUP_IO,
      file: tree.path('cg/a/memory.max'),
      cgroup: tree.path('cg/a'),
    });
  });
});

function catchError(fn: () => unknown): AgentHostError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentHostError);
    return error as AgentHostError;
  }
  throw new Error('expected an error');
}
