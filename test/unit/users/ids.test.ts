/** The /proc readers of agent users: a process's uids (`status`) and a user namespace's id map. */
import { describe, expect, it } from 'vitest';
import { parseIdMap, parseStatusUids } from '../../../src/users/ids.js';

describe('parseStatusUids', () => {
  it('reads real, effective, saved and filesystem uids; none without a Uid line', () => {
    expect(parseStatusUids('Name:\tsh\nUmask:\t0022\nUid:\t200001\t200001\t0\t200001\nGid:\t5\t5\t5\t5\n')).toEqual([200_001, 200_001, 0, 200_001]);
    expect(parseStatusUids('Name:\tsh\n')).toEqual([]);
  });
});

describe('parseIdMap', () => {
  it('reads each extent as [first inside id, count]; skips malformed lines', () => {
    expect(parseIdMap('         0          0 4294967295\n')).toEqual([[0, 4_294_967_295]]);
    expect(parseIdMap('0 100000 65536\n65536 300000 1000\nbad line\n')).toEqual([
      [0, 65_536],
      [65_536, 1000],
    ]);
  });
});
