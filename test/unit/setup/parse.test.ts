/** The kernel formats host setup reads (parsers live in src/cgroup/parse.ts). */
import { describe, expect, it } from 'vitest';
import { parseMounts, parseSelected, parseSwaps, parseSysctl } from '../../../src/cgroup/parse.js';
import { ErrorCode } from '../../../src/errors.js';

describe('parseMounts', () => {
  it('every filesystem, with escaped mount points and both option lists', () => {
    const text = [
      '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
      '99 22 0:99 / /var/nova\\040agents/scratch rw,nosuid,nodev shared:50 master:2 - tmpfs tmpfs rw,size=1048576k,mode=1777',
      'garbage',
    ].join('\n');
    expect(parseMounts(text)).toEqual([
      { mountPoint: '/', fsType: 'ext4', source: '/dev/sda1', mountOptions: ['rw', 'relatime'], superOptions: ['rw', 'errors=remount-ro'] },
      {
        mountPoint: '/var/nova agents/scratch',
        fsType: 'tmpfs',
        source: 'tmpfs',
        mountOptions: ['rw', 'nosuid', 'nodev'],
        superOptions: ['rw', 'size=1048576k', 'mode=1777'],
      },
    ]);
  });
});

describe('parseSwaps', () => {
  it('no swap: the header only', () => {
    expect(parseSwaps('Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n')).toEqual([]);
  });

  it('partitions and files, sizes in bytes, escaped names', () => {
    const text = 'Filename\tType\tSize\tUsed\tPriority\n/dev/sda2                               partition\t8388604\t\t0\t\t-2\n/swap\\040file file 1024 512 5\n';
    expect(parseSwaps(text)).toEqual([
      { filename: '/dev/sda2', type: 'partition', size: 8388604 * 1024, used: 0, priority: -2 },
      { filename: '/swap file', type: 'file', size: 1024 * 1024, used: 512 * 1024, priority: 5 },
    ]);
  });
});

describe('parseSysctl', () => {
  it('one or more integers; LONG_MAX as a large number', () => {
    expect(parseSysctl('32768\n')).toEqual([32768]);
    expect(parseSysctl('32768\t60999\n')).toEqual([32768, 60999]);
    expect(parseSysctl('-1\n')).toEqual([-1]);
    expect(parseSysctl('9223372036854775807\n')[0]).toBeGreaterThan(2 ** 62);
  });

  it.each(['', '\n', 'abc', '1.5', '12 x'])('refuses %j', (text) => {
    expect(() => parseSysctl(text)).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE }));
  });
});

describe('parseSelected', () => {
  it('the bracketed choice', () => {
    expect(parseSelected('always [madvise] never\n')).toBe('madvise');
    expect(parseSelected('[always] madvise never')).toBe('always');
    expect(() => parseSelected('always madvise never')).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE }));
  });
});
