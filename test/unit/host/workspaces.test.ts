/**
 * WorkspacePool on a temp directory: slot layout and modes, leases (exclusive, stale ones
 * reclaimed, corrupt ones too), release, and cleaning that never follows a symlink out of a slot.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { WorkspacePool } from '../../../src/host/workspaces.js';

let dir: string;
let root: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-ws-unit-'));
  root = join(dir, 'active');
  outside = join(dir, 'outside');
  mkdirSync(join(outside, 'tree'), { recursive: true });
  writeFileSync(join(outside, 'precious.txt'), 'keep');
  writeFileSync(join(outside, 'tree', 'deep.txt'), 'keep');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o7777;
const lockOf = (slot: string): { pid: number; agent: string } =>
  JSON.parse(readFileSync(join(root, '.leases', `${slot}.lock`), 'utf8')) as { pid: number; agent: string };
function outsideIntact(): void {
  expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep');
  expect(readFileSync(join(outside, 'tree', 'deep.txt'), 'utf8')).toBe('keep');
}
function deadPid(): number {
  return Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
}

describe('WorkspacePool options', () => {
  it.each([
    ['an empty root', { root: '' }],
    ['no root', {} as { root: string }],
    ['zero slots', { root: '/x', slots: 0 }],
    ['too many slots', { root: '/x', slots: 100_001 }],
    ['fractional slots', { root: '/x', slots: 1.5 }],
    ['NaN slots', { root: '/x', slots: NaN }],
  ])('refuses %s', (_what, options) => {
    expect(() => new WorkspacePool(options)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });

  it('defaults to the seed’s 500 slots, named ws-001 … ws-500; wider names for bigger pools', () => {
    const pool = new WorkspacePool({ root });
    expect(pool.slots).toBe(500);
    expect([pool.slotName(0), pool.slotName(499)]).toEqual(['ws-001', 'ws-500']);
    expect(new WorkspacePool({ root, slots: 1000 }).slotName(999)).toBe('ws-1000');
    expect(new WorkspacePool({ root, slots: 10_000 }).slotName(0)).toBe('ws-00001');
  });
});

describe('prepare', () => {
  it('creates the root (0711: agents pass, but cannot list), the lease directory and every slot (0700), and fixes an existing slot’s mode', () => {
    mkdirSync(join(root, 'ws-002'), { recursive: true, mode: 0o777 });
    chmodSync(join(root, 'ws-002'), 0o777);
    const pool = new WorkspacePool({ root, slots: 3 });
    pool.prepare();
    expect(readdirSync(root).sort()).toEqual(['.leases', 'ws-001', 'ws-002', 'ws-003']);
    for (const name of ['ws-001', 'ws-002', 'ws-003', '.leases']) expect(mode(join(root, name))).toBe(0o700);
    expect(mode(root)).toBe(0o711);
    pool.prepare();
    expect(readdirSync(root)).toHaveLength(4);
  });
});

describe('leases', () => {
  it('one agent per slot, in order; exhausted pool is a typed error; release frees and empties the slot', () => {
    const pool = new WorkspacePool({ root, slots: 2 });
    pool.prepare();
    const a = pool.lease('a');
    const b = pool.lease('b');
    expect([a, b]).toEqual([join(root, 'ws-001'), join(root, 'ws-002')]);
    expect(lockOf('ws-001')).toEqual({ pid: process.pid, agent: 'a' });
    expect(mode(join(root, '.leases', 'ws-001.lock'))).toBe(0o600);
    expect(() => pool.lease('c')).toThrow(expect.objectContaining({ code: ErrorCode.WORKSPACE_EXHAUSTED }));
    expect(new Map([...pool.leases()].map(([k, v]) => [k, v.agent]))).toEqual(new Map([[a, 'a'], [b, 'b']]));

    writeFileSync(join(a, 'work.txt'), 'x');
    pool.release(a);
    expect(readdirSync(a)).toEqual([]);
    expect(existsSync(join(root, '.leases', 'ws-001.lock'))).toBe(false);
    expect(pool.lease('c')).toBe(a);
    // Releasing twice is harmless.
    pool.release(b);
    pool.release(b);
  });

  it('reclaims a lease whose owner is dead (or unreadable), emptying the slot; never a live owner’s', () => {
    const pool = new WorkspacePool({ root, slots: 3 });
    pool.prepare();
    writeFileSync(join(root, '.leases', 'ws-001.lock'), JSON.stringify({ pid: process.ppid, agent: 'live' }));
    writeFileSync(join(root, '.leases', 'ws-002.lock'), JSON.stringify({ pid: deadPid(), agent: 'dead' }));
    writeFileSync(join(root, 'ws-002', 'stale.txt'), 'old');
    writeFileSync(join(root, '.leases', 'ws-003.lock'), 'not json');
    writeFileSync(join(root, 'ws-003', 'stale.txt'), 'old');

    expect(pool.lease('x')).toBe(join(root, 'ws-002'));
    expect(readdirSync(join(root, 'ws-002'))).toEqual([]);
    expect(lockOf('ws-002')).toEqual({ pid: process.pid, agent: 'x' });
    expect(pool.lease('y')).toBe(join(root, 'ws-003'));
    expect(readdirSync(join(root, 'ws-003'))).toEqual([]);
    expect(() => pool.lease('z')).toThrow(expect.objectContaining({ code: ErrorCode.WORKSPACE_EXHAUSTED }));
    expect(lockOf('ws-001').agent).toBe('live');
  });

  it('adopt() takes a lease over for this process', () => {
    const pool = new WorkspacePool({ root, slots: 1 });
    pool.prepare();
    writeFileSync(join(root, '.leases', 'ws-001.lock'), JSON.stringify({ pid: deadPid(), agent: 'a' }));
    pool.adopt(join(root, 'ws-001'), 'a');
    expect(lockOf('ws-001')).toEqual({ pid: process.pid, agent: 'a' });
  });

  it('re-creates a pool whose directory vanished when leasing', () => {
    const pool = new WorkspacePool({ root, slots: 1 });
    pool.prepare();
    rmSync(root, { recursive: true });
    expect(pool.lease('a')).toBe(join(root, 'ws-001'));
    expect(mode(join(root, 'ws-001'))).toBe(0o700);
  });

  it.each([
    ['a path outside the pool', () => '/etc'],
    ['the lease directory', () => join(root, '.leases')],
    ['a path escaping a slot', () => join(root, 'ws-001', '..', '..', 'outside')],
    ['a path inside a slot', () => join(root, 'ws-001', 'sub')],
    ['a sibling with the root as prefix', () => `${root}-other/ws-001`],
  ])('release() refuses %s', (_what, path) => {
    const pool = new WorkspacePool({ root, slots: 1 });
    pool.prepare();
    expect(() => pool.release(path())).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    outsideIntact();
  });
});

describe.skipIf(process.getuid?.() !== 0)('slots of agents running as their own users (root)', () => {
  it('a slot leased to a user is theirs (0700); released, it is root’s again and empty', () => {
    const pool = new WorkspacePool({ root, slots: 1 });
    pool.prepare();
    const slot = pool.lease('a', { uid: 200_123, gid: 200_123 });
    expect(statSync(slot)).toMatchObject({ uid: 200_123, gid: 200_123 });
    expect(mode(slot)).toBe(0o700);
    writeFileSync(join(slot, 'work.txt'), 'x');
    chownSync(join(slot, 'work.txt'), 200_123, 200_123);
    pool.release(slot);
    expect(statSync(slot)).toMatchObject({ uid: 0, gid: 0 });
    expect(readdirSync(slot)).toEqual([]);
  });

  it('clean: false hands what an earlier agent left to the next agent’s user, links untouched', () => {
    const pool = new WorkspacePool({ root, slots: 1, clean: false });
    pool.prepare();
    const slot = pool.lease('a', { uid: 200_001, gid: 200_001 });
    mkdirSync(join(slot, 'cache'));
    writeFileSync(join(slot, 'cache', 'warm'), 'x');
    symlinkSync(join(outside, 'precious.txt'), join(slot, 'link'));
    pool.release(slot);
    pool.lease('b', { uid: 200_002, gid: 200_002 });
    for (const path of ['', 'cache', 'cache/warm', 'link']) expect(lstatSync(join(slot, path)).uid).toBe(200_002);
    expect(statSync(join(outside, 'precious.txt')).uid).toBe(0);
  });
});

describe('cleaning never follows a symlink out of a slot', () => {
  it('removes links to /, to a file and to a directory outside (nested too), never their targets', () => {
    const pool = new WorkspacePool({ root, slots: 1 });
    pool.prepare();
    const slot = pool.lease('a');
    symlinkSync('/', join(slot, 'root-link'));
    symlinkSync(join(outside, 'precious.txt'), join(slot, 'file-link'));
    symlinkSync(join(outside, 'tree'), join(slot, 'dir-link'));
    mkdirSync(join(slot, 'a', 'b'), { recursive: true });
    symlinkSync('/', join(slot, 'a', 'b', 'root-link'));
    symlinkSync(join(outside, 'tree'), join(slot, 'a', 'dir-link'));
    symlinkSync('../../outside', join(slot, 'relative-link'));
    writeFileSync(join(slot, 'a', 'own.txt'), 'mine');
    chmodSync(join(slot, 'a', 'b'), 0o500); // a read-only directory the agent left
    pool.release(slot);
    expect(readdirSync(slot)).toEqual([]);
    outsideIntact();
    for (const path of ['/etc', '/bin', '/usr']) expect(existsSync(path)).toBe(true);
  });

  it('a slot replaced by a link to a directory outside (or by a file) becomes an empty 0700 directory again', () => {
    const pool = new WorkspacePool({ root, slots: 2 });
    pool.prepare();
    const [one, two] = [pool.lease('a'), pool.lease('b')];
    rmSync(one, { recursive: true });
    symlinkSync(outside, one);
    rmSync(two, { recursive: true });
    writeFileSync(two, 'not a directory');
    pool.release(one);
    pool.release(two);
    for (const slot of [one, two]) {
      expect(lstatSync(slot).isDirectory()).toBe(true);
      expect(readdirSync(slot)).toEqual([]);
      expect(mode(slot)).toBe(0o700);
    }
    outsideIntact();
  });

  it('clean: false keeps a slot’s contents across leases', () => {
    const pool = new WorkspacePool({ root, slots: 1, clean: false });
    pool.prepare();
    const slot = pool.lease('a');
    writeFileSync(join(slot, 'cache'), 'warm');
    pool.release(slot);
    expect(pool.lease('b')).toBe(slot);
    expect(readFileSync(join(slot, 'cache'), 'utf8')).toBe('warm');
  });
});
