/**
 * Cgroup.spawn with `uid`/`gid` on the real kernel (root only): both ways in — forked from inside
 * an empty cgroup, and the gated shim of a busy one — run the command as the user, with no
 * supplementary groups, inside the cgroup from its first instruction, while the cgroup's files
 * stay root's and refuse the process.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Cgroup, type Subprocess } from '../../src/index.js';
import { leftovers, procCgroupPath, testParent, uniqueName } from '../helpers/cgroups.js';

const self = Cgroup.self();
const root = process.getuid?.() === 0;
const parent = testParent('cguser');
const USER = { uid: 200_477, gid: 200_477 };
const made: Cgroup[] = [];
const started: Subprocess[] = [];

afterEach(async () => {
  for (const cgroup of made.splice(0).reverse()) {
    await cgroup.delete();
    expect(leftovers(cgroup)).toEqual({ cgroups: [], pids: [] });
  }
  await Promise.all(started.splice(0));
});

function create(): Cgroup {
  const cgroup = Cgroup.create(parent, uniqueName('user'), { limits: { memoryMax: '64M', pidsMax: 16 } });
  made.push(cgroup);
  return cgroup;
}

/** What the process itself sees: its ids, groups, cgroup, and whether it may raise its limit. */
const PROBE = [
  '-c',
  `grep -E '^(Uid|Gid|Groups):' /proc/self/status; cat /proc/self/cgroup | grep -E 'memory|^0::' | head -1; ` +
    `{ echo 1073741824 > "$1"; } 2>/dev/null && echo raised || echo refused`,
  'probe',
];

describe.skipIf(!root)('a process started as another user', () => {
  it.each([
    ['forked from inside an empty cgroup', true],
    ['through the gated shim', false],
  ])('%s: runs as the user, no supplementary groups, in the cgroup, cannot raise its limit', async (_how, forkInside) => {
    const cg = create();
    const limitFile = `${cg.path}/${self.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'}`;
    const child = cg.spawn('sh', [...PROBE, limitFile], { ...USER, forkInside, stdio: ['ignore', 'pipe', 'pipe'], buffer: true });
    started.push(child);
    await cg.joined(child);
    const result = await child;
    expect(result.stderr).toBe('');
    const lines = result.stdout!.split('\n');
    expect(lines[0]).toMatch(/^Uid:\s+200477\s+200477\s+200477\s+200477$/);
    expect(lines[1]).toMatch(/^Gid:\s+200477\s+200477\s+200477\s+200477$/);
    expect(lines[2]).toMatch(/^Groups:\s*$/);
    expect(lines[3]).toContain(procCgroupPath(cg, self.version === 2 ? 'unified' : 'memory'));
    expect(lines[4]).toBe('refused');
    expect(cg.stats().memory.max).toBe(64 * 2 ** 20);
  });

  it('the gated shim never lets the command run outside: it is already in the cgroup when it starts', async () => {
    const cg = create();
    const first = cg.spawn('sleep', ['30'], { ...USER });
    started.push(first);
    await cg.joined(first);
    // Busy now: a second process takes the shim, and its cgroup is the agent's from its first line.
    const second = cg.spawn('cat', ['/proc/self/cgroup'], { ...USER, stdio: ['ignore', 'pipe', 'ignore'], buffer: true });
    started.push(second);
    expect(cg.procs()).toContain(second.pid);
    expect((await second).stdout).toContain(procCgroupPath(cg, self.version === 2 ? 'unified' : 'memory'));
    await cg.kill();
  });

  it('refuses a uid without a gid (the process would keep root’s group)', () => {
    const cg = create();
    expect(() => cg.spawn('true', [], { uid: 200_477 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(readFileSync('/proc/self/status', 'utf8')).toMatch(/^Uid:\s+0\s/m);
  });
});
