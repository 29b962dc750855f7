import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import {
  parseFlatKeyed,
  parseList,
  parseMeminfo,
  parseMountinfo,
  parseNumber,
  parsePids,
  parseProcCgroup,
  parsePsi,
} from '../../../src/cgroup/parse.js';

describe('parseProcCgroup', () => {
  it('reads the v2 line, v1 lines with several controllers and named hierarchies', () => {
    const text = [
      '12:pids:/user.slice/user-1000.slice',
      '4:cpu,cpuacct:/',
      '1:name=systemd:/user.slice/session-2.scope',
      '0::/user.slice/user-1000.slice/session-2.scope',
      '',
    ].join('\n');
    expect(parseProcCgroup(text)).toEqual([
      { id: 12, controllers: ['pids'], path: '/user.slice/user-1000.slice' },
      { id: 4, controllers: ['cpu', 'cpuacct'], path: '/' },
      { id: 1, controllers: ['name=systemd'], path: '/user.slice/session-2.scope' },
      { id: 0, controllers: [], path: '/user.slice/user-1000.slice/session-2.scope' },
    ]);
  });

  it('keeps colons inside the path and skips malformed lines', () => {
    expect(parseProcCgroup('0::/a:b:c\ngarbage\n5:memory\n')).toEqual([{ id: 0, controllers: [], path: '/a:b:c' }]);
  });

  it('reads a path outside the namespace root as the kernel prints it', () => {
    expect(parseProcCgroup('0::/../../system.slice/x.service\n')[0]!.path).toBe('/../../system.slice/x.service');
  });
});

describe('parseMountinfo', () => {
  const v1 = '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory';
  const v2 = '41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate';
  const other = '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro';

  it('keeps only cgroup and cgroup2 mounts, with root, mount point, super options and read-only flag', () => {
    expect(parseMountinfo([other, v1, v2, ''].join('\n'))).toEqual([
      { root: '/', mountPoint: '/sys/fs/cgroup/memory', fsType: 'cgroup', superOptions: ['rw', 'memory'], readOnly: false },
      { root: '/', mountPoint: '/sys/fs/cgroup/unified', fsType: 'cgroup2', superOptions: ['rw', 'nsdelegate'], readOnly: false },
    ]);
  });

  it('handles zero or several optional fields before the separator', () => {
    const none = '35 31 0:32 / /cg rw - cgroup2 cgroup2 rw';
    const many = '35 31 0:32 / /cg rw shared:1 master:2 propagate_from:3 - cgroup2 cgroup2 rw';
    expect(parseMountinfo(none)[0]!.mountPoint).toBe('/cg');
    expect(parseMountinfo(many)[0]!.mountPoint).toBe('/cg');
  });

  it('unescapes octal escapes (space, tab, newline, backslash) in root and mount point', () => {
    const line = '35 31 0:32 /a\\040b /mnt/with\\040space\\011tab\\012nl\\134bs rw - cgroup2 cgroup2 rw';
    const [mount] = parseMountinfo(line);
    expect(mount!.root).toBe('/a b');
    expect(mount!.mountPoint).toBe('/mnt/with space\ttab\nnl\\bs');
  });

  it('reads a bind-mounted sub-cgroup and a read-only mount (a container)', () => {
    const line = '600 590 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:14 - cgroup cgroup rw,memory';
    expect(parseMountinfo(line)[0]).toMatchObject({ root: '/docker/abc', mountPoint: '/sys/fs/cgroup/memory', readOnly: true });
  });

  it('skips lines without the separator', () => {
    expect(parseMountinfo('35 31 0:32 / /cg rw cgroup2 cgroup2 rw\n')).toEqual([]);
  });
});

describe('parseFlatKeyed', () => {
  it('reads memory.events, pids.events, cgroup.events and v1 memory.oom_control', () => {
    expect(parseFlatKeyed('low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n')).toEqual({
      low: 0,
      high: 12,
      max: 3,
      oom: 1,
      oom_kill: 1,
      oom_group_kill: 0,
    });
    expect(parseFlatKeyed('populated 1\nfrozen 0\n')).toEqual({ populated: 1, frozen: 0 });
    expect(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n')).toMatchObject({ oom_kill: 2 });
  });

  it('reads memory.stat with big counters', () => {
    const stat = parseFlatKeyed('anon 4096\nfile 123456789012\ninactive_file 8192\n');
    expect(stat).toEqual({ anon: 4096, file: 123456789012, inactive_file: 8192 });
  });

  it('maps "max" values (v2 pids.max-like keyed files) to Infinity', () => {
    expect(parseFlatKeyed('limit max\n')).toEqual({ limit: Infinity });
  });

  it('throws ERR_CGROUP_PARSE on a value that is not a number', () => {
    expect(() => parseFlatKeyed('low zero\n')).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE }));
  });
});

describe('parseNumber', () => {
  it.each([
    ['0\n', 0],
    ['67108864\n', 67108864],
    ['  42  ', 42],
    ['max\n', Infinity],
    // v1 "unlimited": PAGE_COUNTER_MAX pages, 2^63 - 4096 with 4K pages, or 2^63 - 65536 with 64K pages.
    ['9223372036854771712\n', Infinity],
    ['9223372036854710272\n', Infinity],
    ['-1', -1],
  ])('%j → %d', (text, expected) => {
    expect(parseNumber(text)).toBe(expected);
  });

  it.each(['', '\n', 'abc', 'max2', '1 2', 'NaN', '1e999'])('rejects %j with ERR_CGROUP_PARSE', (text) => {
    expect(() => parseNumber(text)).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE }));
  });
});

describe('parsePsi', () => {
  it('reads the some and full lines of memory.pressure', () => {
    const text = 'some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=789\n';
    expect(parsePsi(text)).toEqual({
      some: { avg10: 1.5, avg60: 0.25, avg300: 0, total: 123456 },
      full: { avg10: 0.5, avg60: 0, avg300: 0, total: 789 },
    });
  });

  it('accepts a file without a full line (cpu.pressure on older kernels)', () => {
    const psi = parsePsi('some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
    expect(psi.full).toBeUndefined();
    expect(psi.some.total).toBe(0);
  });

  it('throws ERR_CGROUP_PARSE without a some line', () => {
    expect(() => parsePsi('')).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE }));
    expect(() => parsePsi('full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')).toThrow(
      expect.objectContaining({ code: ErrorCode.CGROUP_PARSE }),
    );
  });
});

describe('parsePids, parseList, parseMeminfo', () => {
  it('reads cgroup.procs, skipping blank and junk lines', () => {
    expect(parsePids('12\n345\n\n0\n-1\nx\n6789\n')).toEqual([12, 345, 6789]);
    expect(parsePids('')).toEqual([]);
  });

  it('reads cgroup.controllers and cgroup.subtree_control', () => {
    expect(parseList('cpuset cpu io memory hugetlb pids rdma misc\n')).toEqual([
      'cpuset',
      'cpu',
      'io',
      'memory',
      'hugetlb',
      'pids',
      'rdma',
      'misc',
    ]);
    expect(parseList('\n')).toEqual([]);
  });

  it('reads /proc/meminfo into bytes', () => {
    const info = parseMeminfo('MemTotal:       24683236 kB\nMemAvailable:   24380000 kB\nHugePages_Total:       0\n');
    expect(info).toEqual({ MemTotal: 24683236 * 1024, MemAvailable: 24380000 * 1024, HugePages_Total: 0 });
  });
});
