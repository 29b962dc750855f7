/**
 * The `user` option: validation and resolution (names through a fake /etc/passwd), the defaults of
 * root and non-root orchestrators, and AgentUsers giving an agent its uid and HOME and taking them back.
 */
import { existsSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { AgentUsers, userSpawnOptions } from '../../../src/users/agent-users.js';
import { defaultUser, resolveUser, type AgentUser } from '../../../src/users/user.js';
import { fakeTree } from '../../helpers/fake-tree.js';

const PASSWD = 'root:x:0:0::/root:/bin/sh\nbuilder:x:1500:1600::/home/builder:/bin/sh\n';
const root = process.getuid?.() === 0;

describe('resolveUser', () => {
  const database = (): { passwd: string } => ({ passwd: fakeTree({ passwd: PASSWD }).path('passwd') });

  it('root orchestrators default to dynamic users, others to their own user', () => {
    expect(defaultUser(0)).toBe('dynamic');
    expect(defaultUser(1000)).toBe('root');
  });

  it('as root: dynamic, ids, names (uid and primary gid), and root (no change)', () => {
    expect(resolveUser('dynamic', database(), 0)).toBe('dynamic');
    expect(resolveUser({ uid: 1234, gid: 5678 }, database(), 0)).toEqual({ uid: 1234, gid: 5678 });
    expect(resolveUser('builder', database(), 0)).toEqual({ uid: 1500, gid: 1600 });
    expect(resolveUser('root', database(), 0)).toBeUndefined();
  });

  it.each<[string, unknown]>([
    ['a negative uid', { uid: -1, gid: 0 }],
    ['(uid_t)-1, which setuid reads as "unchanged"', { uid: 0xffff_ffff, gid: 1 }],
    ['a fractional gid', { uid: 1, gid: 1.5 }],
    ['a uid without a gid', { uid: 1000 }],
    ['a string uid', { uid: '1000', gid: 1000 }],
    ['null', null],
    ['a number', 1000],
    ['a name with a slash', 'a/b'],
    ['a name with a colon', 'a:b'],
    ['an empty name', ''],
    ['a 33-character name', 'a'.repeat(33)],
  ])('refuses %s', (_what, user) => {
    expect(() => resolveUser(user as AgentUser, database(), 0)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });

  it('an unknown name is ERR_USER_NOT_FOUND', () => {
    expect(() => resolveUser('nobody-here', database(), 0)).toThrow(expect.objectContaining({ code: ErrorCode.USER_NOT_FOUND }));
  });

  it('a non-root orchestrator cannot change users: dynamic, names and other ids are refused, saying why', () => {
    for (const user of ['dynamic', 'builder', { uid: 1234, gid: 1234 }] as AgentUser[]) {
      expect(() => resolveUser(user, database(), 1000)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION, message: expect.stringContaining('not root') }));
    }
    expect(resolveUser('root', database(), 1000)).toBeUndefined();
  });

  it('asking for the orchestrator’s own ids changes nothing', () => {
    const own = { uid: process.getuid!(), gid: process.getgid!() };
    expect(resolveUser(own, database(), own.uid)).toBeUndefined();
  });
});

describe.skipIf(!root)('AgentUsers (root)', () => {
  function users(): { users: AgentUsers; homeRoot: string; leaseDir: string } {
    const tree = fakeTree({ passwd: PASSWD, 'proc/': '' });
    const options = { first: 300_100, count: 2, leaseDir: tree.path('leases'), homeRoot: tree.path('homes'), database: { passwd: tree.path('passwd') }, procRoot: tree.path('proc') };
    return { users: new AgentUsers(undefined, options), homeRoot: options.homeRoot, leaseDir: options.leaseDir };
  }

  it('defaults to dynamic users: a uid leased and a HOME of its own (0700, its user’s, below a 0711 root); release undoes both', () => {
    const { users: u, homeRoot, leaseDir } = users();
    expect(u.default).toBe('dynamic');
    const record = u.acquire('agent-1', undefined, true)!;
    expect(record).toMatchObject({ uid: 300_100, gid: 300_100, dynamic: true });
    expect(statSync(homeRoot).mode & 0o7777).toBe(0o711);
    expect(statSync(record.home!)).toMatchObject({ uid: 300_100, gid: 300_100 });
    expect(statSync(record.home!).mode & 0o7777).toBe(0o700);
    expect(record.home!.startsWith(join(homeRoot, 'agent-1-'))).toBe(true);
    expect(userSpawnOptions(record, undefined)).toEqual({ uid: 300_100, gid: 300_100, env: { HOME: record.home } });
    expect(userSpawnOptions(record, '/ws/ws-001').env.HOME).toBe('/ws/ws-001');

    // What the agent left in its HOME goes with it; a link is removed, never followed.
    const outside = fakeTree({ 'keep.txt': 'keep' });
    writeFileSync(join(record.home!, 'cache'), 'x');
    symlinkSync(outside.root, join(record.home!, 'link'));
    u.release('agent-1', record);
    expect(existsSync(record.home!)).toBe(false);
    expect(outside.read('keep.txt')).toBe('keep');
    expect(readdirSync(leaseDir)).toEqual([]);
  });

  it('no HOME of its own when its workspace is its HOME; a fixed user leases nothing; root is no user change', () => {
    const { users: u, homeRoot, leaseDir } = users();
    expect(u.acquire('a', 'dynamic', false)).toEqual({ uid: 300_100, gid: 300_100, dynamic: true });
    expect(existsSync(homeRoot)).toBe(false);
    const fixed = u.acquire('b', 'builder', false)!;
    expect(fixed).toEqual({ uid: 1500, gid: 1600, dynamic: false });
    expect(readdirSync(leaseDir)).toEqual(['300100.lock']);
    expect(u.acquire('c', 'root', true)).toBeUndefined();
    u.release('b', fixed);
    expect(readdirSync(leaseDir)).toEqual(['300100.lock']);
  });

  it('adopt() re-leases an adopted agent’s dynamic uid for this process', () => {
    const { users: u } = users();
    u.adopt('old', { uid: 300_101, gid: 300_101, dynamic: true });
    expect(u.dynamic.leases().get(300_101)).toEqual({ pid: process.pid, agent: 'old' });
    expect(u.acquire('new', undefined, false)?.uid).toBe(300_100);
    expect(() => u.acquire('newer', undefined, false)).toThrow(expect.objectContaining({ code: ErrorCode.USERS_EXHAUSTED }));
  });

  it('validates the host’s own user option when constructed', () => {
    expect(() => new AgentUsers({ uid: -5, gid: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    expect(() => new AgentUsers('dynamic', { count: 0 })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});
