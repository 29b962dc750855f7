/** The user database parsers and name lookup, on temp files standing in for /etc/passwd and /etc/group. */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { lookupUser, parseGroupIds, parsePasswd, readUserDatabase } from '../../../src/users/passwd.js';
import { fakeTree } from '../../helpers/fake-tree.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  '# a comment',
  '',
  'builder:x:1500:1600:Build user,,,:/home/builder:/bin/sh',
  '+nisuser::::::',
  '-excluded:x:1:1::/:/bin/sh',
  'broken:x:notanumber:1::/:/bin/sh',
  'short:x:1700:1700',
  'huge:x:4294967295:1::/:/bin/sh',
  'nohome:x:1800:1800:::/usr/sbin/nologin',
].join('\n');

describe('parsePasswd', () => {
  it('reads name, uid, primary gid and home; skips comments, NIS entries, malformed lines and (uid_t)-1', () => {
    expect(parsePasswd(PASSWD)).toEqual([
      { name: 'root', uid: 0, gid: 0, home: '/root' },
      { name: 'builder', uid: 1500, gid: 1600, home: '/home/builder' },
      { name: 'nohome', uid: 1800, gid: 1800, home: '' },
    ]);
  });
});

describe('parseGroupIds', () => {
  it('collects every gid, skipping malformed lines', () => {
    expect(parseGroupIds('root:x:0:\nstaff:x:50:a,b\n#c:x:9:\nbad:x::\nshort:x:7\n')).toEqual(new Set([0, 50]));
  });
});

describe('lookupUser', () => {
  it('resolves a name to its uid and primary gid', () => {
    const tree = fakeTree({ passwd: PASSWD });
    expect(lookupUser('builder', { passwd: tree.path('passwd') })).toEqual({ name: 'builder', uid: 1500, gid: 1600, home: '/home/builder' });
  });

  it('an unknown name is ERR_USER_NOT_FOUND naming the file; so is one only a skipped line has', () => {
    const tree = fakeTree({ passwd: PASSWD });
    for (const name of ['nobody-here', 'broken', 'nisuser']) {
      expect(() => lookupUser(name, { passwd: tree.path('passwd') })).toThrow(
        expect.objectContaining({ code: ErrorCode.USER_NOT_FOUND, file: tree.path('passwd') }),
      );
    }
  });

  it('missing files count as empty databases', () => {
    const tree = fakeTree({});
    expect(readUserDatabase({ passwd: tree.path('none'), group: tree.path('none') })).toEqual({ users: [], groups: new Set() });
  });
});
