/**
 * Dynamic uid leases on a temp lease directory, a fake user database and a fake /proc: allocation
 * in order, ids of accounts skipped, exhaustion as a typed error, release, adoption, and crash
 * recovery (a dead orchestrator's lease reclaimed only once no process runs with that uid).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { DynamicUsers, type DynamicUsersOptions } from '../../../src/users/dynamic.js';
import { fakeTree, type FakeTree } from '../../helpers/fake-tree.js';

function deadPid(): number {
  return Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
}
const status = (uid: number): string => `Name:\tagent\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\n`;

function pool(options: DynamicUsersOptions = {}, spec: Record<string, string> = {}): { users: DynamicUsers; tree: FakeTree } {
  const tree = fakeTree({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\n', 'etc/group': 'root:x:0:\n', 'proc/1/status': status(0), 'leases/': '', ...spec });
  const users = new DynamicUsers({
    first: 300_000,
    count: 3,
    leaseDir: tree.path('leases'),
    database: { passwd: tree.path('etc/passwd'), group: tree.path('etc/group') },
    procRoot: tree.path('proc'),
    ...options,
  });
  return { users, tree };
}

describe('DynamicUsers options', () => {
  it('defaults to 500 ids from 200000', () => {
    const users = new DynamicUsers();
    expect([users.first, users.count]).toEqual([200_000, 500]);
    expect([users.includes(200_000), users.includes(200_499), users.includes(200_500), users.includes(199_999)]).toEqual([true, true, false, false]);
  });

  it.each([
    ['a system uid', { first: 999 }],
    ['a fractional first', { first: 2000.5 }],
    ['no ids', { count: 0 }],
    ['a range past (uid_t)-2', { first: 0xffff_fff0, count: 100 }],
    ['NaN', { count: NaN }],
  ])('refuses %s', (_what, options) => {
    expect(() => new DynamicUsers(options)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});

describe('leases', () => {
  it('one uid per agent, in order, gid = uid; exhausted is ERR_USERS_EXHAUSTED; a released uid is leased again', () => {
    const { users, tree } = pool();
    expect([users.lease('a'), users.lease('b'), users.lease('c')]).toEqual([
      { uid: 300_000, gid: 300_000 },
      { uid: 300_001, gid: 300_001 },
      { uid: 300_002, gid: 300_002 },
    ]);
    expect(JSON.parse(readFileSync(tree.path('leases', '300001.lock'), 'utf8'))).toEqual({ pid: process.pid, agent: 'b' });
    expect(() => users.lease('d')).toThrow(expect.objectContaining({ code: ErrorCode.USERS_EXHAUSTED, file: tree.path('leases') }));
    expect([...users.leases()].map(([uid, lease]) => [uid, lease.agent])).toEqual([
      [300_000, 'a'],
      [300_001, 'b'],
      [300_002, 'c'],
    ]);
    users.release(300_001, 'a'); // not a's lease: kept
    expect(users.leases().get(300_001)?.agent).toBe('b');
    users.release(300_001, 'b');
    users.release(300_001, 'b'); // twice is harmless
    expect(users.lease('d')).toEqual({ uid: 300_001, gid: 300_001 });
  });

  it('skips ids an account or a group of the user database has', () => {
    const { users } = pool({}, { 'etc/passwd': 'svc:x:300000:5::/:/bin/sh\n', 'etc/group': 'grp:x:300001:\n' });
    expect(users.lease('a')).toEqual({ uid: 300_002, gid: 300_002 });
    expect(() => users.lease('b')).toThrow(expect.objectContaining({ code: ErrorCode.USERS_EXHAUSTED }));
  });

  it('two pools on one lease directory (two hosts) never hand out the same uid', () => {
    const { users, tree } = pool();
    const other = new DynamicUsers({ first: 300_000, count: 3, leaseDir: tree.path('leases'), database: { passwd: tree.path('etc/passwd') }, procRoot: tree.path('proc') });
    expect([users.lease('a').uid, other.lease('b').uid, users.lease('c').uid]).toEqual([300_000, 300_001, 300_002]);
  });

  it('release and adopt refuse uids outside the range', () => {
    const { users } = pool();
    expect(() => users.release(0, 'x')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    expect(() => users.adopt(300_003, 'x')).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});

describe('user namespaces', () => {
  it('skips ids outside the uid and gid maps (setuid would fail); none mapped: exhausted, saying why', () => {
    const { users } = pool({}, { 'proc/self/uid_map': '         0     100000      300001\n', 'proc/self/gid_map': '0 100000 4294967295\n' });
    expect(users.lease('a')).toEqual({ uid: 300_000, gid: 300_000 });
    expect(() => users.lease('b')).toThrow(expect.objectContaining({ code: ErrorCode.USERS_EXHAUSTED, message: expect.stringContaining('uid_map') }));
  });
});

describe('crash recovery', () => {
  it('reclaims a dead orchestrator’s lease (or an unreadable one) once nothing runs with that uid; never a live one’s', () => {
    const { users, tree } = pool({}, { 'proc/4242/status': status(300_001) });
    const dead = deadPid();
    writeFileSync(tree.path('leases', '300000.lock'), JSON.stringify({ pid: process.ppid, agent: 'live-owner' }));
    // A dead owner, but a process still runs as 300001 (an agent the crash left behind): kept.
    writeFileSync(tree.path('leases', '300001.lock'), JSON.stringify({ pid: dead, agent: 'orphan-running' }));
    writeFileSync(tree.path('leases', '300002.lock'), 'half-written');
    expect(users.lease('x')).toEqual({ uid: 300_002, gid: 300_002 });
    expect(() => users.lease('y')).toThrow(expect.objectContaining({ code: ErrorCode.USERS_EXHAUSTED }));

    // The orphan ended: its uid is free again.
    tree.write('proc/4242/status', status(0));
    expect(users.lease('y')).toEqual({ uid: 300_001, gid: 300_001 });
    expect(users.leases().get(300_000)?.agent).toBe('live-owner');
  });

  it('a process counts by any of its uids (a setuid helper keeps the saved one)', () => {
    const { users, tree } = pool({ count: 1 }, { 'proc/77/status': 'Uid:\t0\t0\t300000\t0\n' });
    writeFileSync(join(tree.path('leases'), '300000.lock'), JSON.stringify({ pid: deadPid(), agent: 'old' }));
    expect(() => users.lease('x')).toThrow(expect.objectContaining({ code: ErrorCode.USERS_EXHAUSTED }));
  });

  it('releasing a crashed orchestrator’s agent leaves the uid alone if another live host took it over meanwhile', () => {
    const { users, tree } = pool();
    writeFileSync(tree.path('leases', '300000.lock'), JSON.stringify({ pid: deadPid(), agent: 'old' }));
    writeFileSync(tree.path('leases', '300001.lock'), JSON.stringify({ pid: process.ppid, agent: 'old2' }));
    users.release(300_000, 'old'); // the dead owner's own lease: released
    users.release(300_001, 'old2'); // a live orchestrator holds it now: kept
    expect([...users.leases().keys()]).toEqual([300_001]);
  });

  it('adopt() takes a lease over for this process', () => {
    const { users } = pool();
    users.lease('a');
    users.adopt(300_000, 'a-adopted');
    expect(users.leases().get(300_000)).toEqual({ pid: process.pid, agent: 'a-adopted' });
  });
});
