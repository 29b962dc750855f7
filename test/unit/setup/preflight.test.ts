/**
 * preflight() over fake /proc, /sys and cgroupfs trees: every check in its ok, warn and fail
 * states. access(2) says "writable" to root for any file, so tests that need an unwritable
 * cgroup say so through a spy on files.ts.
 */
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { assertIsolation, failingChecks, preflight } from '../../../src/setup/preflight.js';
import type { PreflightCheck, PreflightReport } from '../../../src/setup/report.js';
import { formatPreflight } from '../../../src/setup/format.js';
import { SYSCTLS } from '../../../src/setup/sysctl.js';
import { fakeHost, type FakeHost } from './fake-host.js';

const spy = vi.hoisted(() => ({ notWritable: new Set<string>() }));
vi.mock('../../../src/cgroup/files.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/cgroup/files.js')>();
  const { join } = await import('node:path');
  return { ...real, writable: (dir: string, file = '') => !spy.notWritable.has(join(dir, file)) && real.writable(dir, file) };
});
beforeEach(() => spy.notWritable.clear());

function run(host: FakeHost, extra: Parameters<typeof preflight>[0] = {}): PreflightReport {
  return preflight({ ...host.options, ...extra });
}

function get(report: PreflightReport, id: string): PreflightCheck {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
}

describe('preflight on a well set-up v2 host', () => {
  it('every check is ok, with no fix, and the report is ok', () => {
    const host = fakeHost('v2');
    const report = run(host);
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.cgroupMode).toBe('unified');
    expect(report.cgroupRoot).toBe(host.tree.path('cg/nova-agents'));
    expect(report.checks.map((c) => c.id)).toEqual([
      'swap',
      'cgroup-mode',
      'cgroup-controllers',
      'cgroup-root',
      'swap-accounting',
      'psi',
      'memory-budget',
      'agents-root-limits',
      ...SYSCTLS.map((s) => `sysctl:${s.key}`),
      'transparent-hugepages',
      'agent-users',
      'scratch',
      'workspaces',
    ]);
    for (const c of report.checks) expect(c.fix).toBeUndefined();
    expect(() => assertIsolation(report)).not.toThrow();
  });

  it('layout: false leaves out the scratch and workspace checks', () => {
    const ids = run(fakeHost('v2'), { layout: false }).checks.map((c) => c.id);
    expect(ids).not.toContain('scratch');
    expect(ids).not.toContain('workspaces');
  });

  it('changes nothing in the tree', () => {
    const host = fakeHost('v2');
    const before = JSON.stringify(snapshot(host));
    run(host);
    expect(JSON.stringify(snapshot(host))).toBe(before);
  });
});

describe('swap', () => {
  it('on → warn with swapoff -a; accounting present keeps the report ok', () => {
    const host = fakeHost('v2', { 'proc/swaps': 'Filename\tType\tSize\tUsed\tPriority\n/swap\\040file file\t8388604\t1024\t-2\n' });
    const report = run(host);
    const swap = get(report, 'swap');
    expect(swap).toMatchObject({ status: 'warn', fix: 'swapoff -a' });
    expect(swap.found).toBe('on: /swap file (file, 8.0G, 1.0M used)');
    expect(get(report, 'swap-accounting').status).toBe('ok');
    expect(report.ok).toBe(true);
  });

  it('unreadable /proc/swaps → warn (unknown)', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('proc/swaps'));
    expect(get(run(host), 'swap')).toMatchObject({ status: 'warn', found: expect.stringContaining('unknown') });
  });
});

describe('cgroup mode', () => {
  it('v1 memory controller (hybrid) → warn with the kernel command line fix', () => {
    const c = get(run(fakeHost('v1')), 'cgroup-mode');
    expect(c.status).toBe('warn');
    expect(c.found).toMatch(/^hybrid: the memory controller is on cgroup v1/);
    expect(c.fix).toContain('systemd.unified_cgroup_hierarchy=1');
  });

  it('no cgroupfs at all → fail, and every cgroup check fails with it', () => {
    const report = run(fakeHost('none'));
    expect(get(report, 'cgroup-mode')).toMatchObject({ status: 'fail', found: 'no cgroup filesystem mounted', fix: 'mount -t cgroup2 cgroup2 /sys/fs/cgroup' });
    expect(get(report, 'cgroup-controllers').status).toBe('fail');
    expect(get(report, 'cgroup-root').status).toBe('fail');
    expect(report.ok).toBe(false);
    expect(report.cgroupRoot).toBeUndefined();
  });

  it('v2 without the memory controller → fail', () => {
    const host = fakeHost('v2', { 'cg/cgroup.controllers': 'cpu io pids\n' });
    const c = get(run(host), 'cgroup-mode');
    expect(c).toMatchObject({ status: 'fail', found: 'unified, but no memory controller is available' });
    expect(c.fix).toContain('cgroup_enable=memory');
  });
});

describe('cgroup controllers', () => {
  it('not enabled below the root → warn with the exact echo', () => {
    const host = fakeHost('v2', { 'cg/nova-agents/cgroup.subtree_control': 'memory\n' });
    const c = get(run(host), 'cgroup-controllers');
    expect(c.status).toBe('warn');
    expect(c.fix).toBe(`echo '+memory +pids' > ${host.tree.path('cg/nova-agents/cgroup.subtree_control')}`);
  });

  it('root not created yet: the fix makes it and enables them', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('cg/nova-agents'), { recursive: true });
    const c = get(run(host), 'cgroup-controllers');
    expect(c.status).toBe('ok');
    const root = host.tree.path('cg/nova-agents');
    const again = get(run(host, {}), 'cgroup-root');
    expect(again).toMatchObject({ status: 'warn', fix: `mkdir -p ${root} && echo '+memory +pids' > ${root}/cgroup.subtree_control` });
  });

  it('pids missing in a delegated subtree → fail; the fix enables it one level up', () => {
    const host = fakeHost('v2', {
      'proc/self/cgroup': '0::/user.slice/app.service\n',
      'cg/user.slice/cgroup.subtree_control': 'memory\n',
      'cg/user.slice/app.service/cgroup.type': 'domain\n',
      'cg/user.slice/app.service/cgroup.controllers': 'memory\n',
      'cg/user.slice/app.service/cgroup.subtree_control': '',
    });
    const report = run(host);
    expect(report.cgroupRoot).toBe(host.tree.path('cg/user.slice/app.service/nova-agents'));
    const c = get(report, 'cgroup-controllers');
    expect(c.status).toBe('fail');
    expect(c.fix).toBe(`echo '+pids' > ${host.tree.path('cg/user.slice/cgroup.subtree_control')}`);
    expect(c.detail).toContain('Delegate=yes');
    expect(() => assertIsolation(report)).toThrow(/cgroup-controllers/);
  });

  it('missing in the root cgroup itself → fail: the kernel lacks them', () => {
    const host = fakeHost('v2', { 'cg/cgroup.controllers': 'cpu io memory\n' });
    const c = get(run(host), 'cgroup-controllers');
    expect(c.status).toBe('fail');
    expect(c.fix).toContain('cgroup_disable');
  });

  it('a delegated parent whose subtree_control lacks them → warn, noting that AgentHost handles it', () => {
    const host = fakeHost('v2', {
      'proc/self/cgroup': '0::/app.service\n',
      'cg/app.service/cgroup.type': 'domain\n',
      'cg/app.service/cgroup.controllers': 'memory pids\n',
      'cg/app.service/cgroup.subtree_control': '',
    });
    const c = get(run(host), 'cgroup-controllers');
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('supervisor');
  });

  it('v1 without a pids hierarchy → warn', () => {
    const host = fakeHost('v1');
    host.tree.write('proc/self/cgroup', '4:memory:/svc\n6:freezer:/\n0::/\n');
    host.tree.write(
      'proc/self/mountinfo',
      host.tree
        .read('proc/self/mountinfo')
        .split('\n')
        .filter((line) => !line.includes('rw,pids'))
        .join('\n'),
    );
    const c = get(run(host), 'cgroup-controllers');
    expect(c.status).toBe('warn');
    expect(c.fix).toContain('mount -t cgroup -o pids');
  });
});

describe("agents' root", () => {
  it('exists but this user cannot write it → fail, delegating exactly the three files', () => {
    const host = fakeHost('v2');
    const root = host.tree.path('cg/nova-agents');
    spy.notWritable.add(`${root}/cgroup.procs`);
    const report = run(host);
    const c = get(report, 'cgroup-root');
    expect(c.status).toBe('fail');
    expect(c.fix).toMatch(new RegExp(`^chown \\S+ ${root} ${root}/cgroup.procs ${root}/cgroup.subtree_control ${root}/cgroup.threads$`));
    expect(report.ok).toBe(false);
  });

  it('missing, and the parent is not writable → fail', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('cg/nova-agents'), { recursive: true });
    spy.notWritable.add(host.tree.path('cg'));
    expect(get(run(host), 'cgroup-root')).toMatchObject({ status: 'fail', found: expect.stringContaining('cannot create it') });
  });

  it('read-only cgroupfs → fail', () => {
    const host = fakeHost('v2');
    host.tree.write('proc/self/mountinfo', host.tree.read('proc/self/mountinfo').replace(/(cg) rw,nosuid/, '$1 ro,nosuid'));
    expect(get(run(host), 'cgroup-root')).toMatchObject({ status: 'fail', found: expect.stringContaining('read-only') });
  });

  it('cgroupRoot option: a path relative to the mount', () => {
    const host = fakeHost('v2', { 'cg/elsewhere/cgroup.controllers': 'memory pids\n', 'cg/elsewhere/cgroup.subtree_control': 'memory pids\n' });
    const report = run(host, { cgroupRoot: 'elsewhere/agents' });
    expect(report.cgroupRoot).toBe(host.tree.path('cg/elsewhere/agents'));
    expect(get(report, 'cgroup-root').status).toBe('warn');
  });

  it('v1: one directory per hierarchy, named for this host where its own cgroup there is a shared one', () => {
    const host = fakeHost('v1');
    expect(get(run(host), 'cgroup-root').status).toBe('warn');
    // pids and freezer at "/" (shared by every process): the root there is this host's own.
    const pids = host.tree.path('v1/pids');
    const named = readdirSync(pids).find((name) => /^nova-agents-[0-9a-f]{8}$/.test(name));
    expect(named).toBeUndefined();
    const c0 = get(run(host), 'cgroup-root');
    const suffix = new RegExp(`${pids}/(nova-agents-[0-9a-f]{8})`).exec(c0.found)![1]!;
    host.tree.add({ [`v1/pids/${suffix}/cgroup.procs`]: '', [`v1/freezer/${suffix}/cgroup.procs`]: '' });
    const c = get(run(host), 'cgroup-root');
    expect(c.status).toBe('ok');
    expect(c.found).toContain(host.tree.path('v1/memory/svc/nova-agents'));
    expect(c.found).toContain(host.tree.path('v1/pids', suffix));
    expect(c.found).not.toContain(`${host.tree.path('v1/pids/nova-agents')},`);
  });
});

describe('swap accounting', () => {
  const noSwapMax = (host: FakeHost): void => {
    rmSync(host.tree.path('cg/nova-agents/memory.swap.max'));
    rmSync(host.tree.path('cg/init.scope/memory.swap.max'));
  };
  const swapOn = { 'proc/swaps': 'Filename Type Size Used Priority\n/dev/sda2 partition 1024 0 -2\n' };

  it('memory.swap.max missing and swap on → fail: isolation would be a lie', () => {
    const host = fakeHost('v2', swapOn);
    noSwapMax(host);
    const report = run(host);
    expect(get(report, 'swap-accounting')).toMatchObject({ status: 'fail', fix: 'swapoff -a' });
    expect(report.ok).toBe(false);
    expect(() => assertIsolation(report)).toThrow(expect.objectContaining({ code: ErrorCode.PREFLIGHT_FAILED }));
  });

  it('memory.swap.max missing but swap off → ok', () => {
    const host = fakeHost('v2');
    noSwapMax(host);
    expect(get(run(host), 'swap-accounting')).toMatchObject({ status: 'ok', found: expect.stringContaining('swap is off') });
  });

  it('no cgroup with memory to look in yet, swap on → warn (unknown)', () => {
    const host = fakeHost('v2', swapOn);
    rmSync(host.tree.path('cg/nova-agents'), { recursive: true });
    rmSync(host.tree.path('cg/init.scope'), { recursive: true });
    expect(get(run(host), 'swap-accounting')).toMatchObject({ status: 'warn', found: expect.stringContaining('unknown') });
  });

  it('found in another cgroup when the root does not exist yet', () => {
    const host = fakeHost('v2', swapOn);
    rmSync(host.tree.path('cg/nova-agents'), { recursive: true });
    expect(get(run(host), 'swap-accounting')).toMatchObject({ status: 'ok', found: expect.stringContaining('init.scope') });
  });

  it('v1: memory.memsw.limit_in_bytes in the memory mount', () => {
    const host = fakeHost('v1', swapOn);
    expect(get(run(host), 'swap-accounting').status).toBe('ok');
    rmSync(host.tree.path('v1/memory/memory.memsw.limit_in_bytes'));
    expect(get(run(host), 'swap-accounting').status).toBe('fail');
  });
});

describe('pressure stall information', () => {
  it('missing → warn with psi=1', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('proc/pressure'), { recursive: true });
    expect(get(run(host), 'psi')).toMatchObject({ status: 'warn', fix: expect.stringContaining('psi=1') });
  });
});

describe('kernel parameters', () => {
  it.each(SYSCTLS.filter((s) => s.kind === 'atLeast' && s.key !== 'kernel.threads-max').map((s) => [s.key]))('%s below the recommendation → warn with sysctl -w', (key) => {
    const host = fakeHost('v2', { [`proc/sys/${key.replaceAll('.', '/')}`]: '128\n' });
    const c = get(run(host), `sysctl:${key}`);
    expect(c.status).toBe('warn');
    expect(c.found).toBe('128');
    expect(c.fix).toMatch(new RegExp(`^sysctl -w ${key.replaceAll('.', '\\.')}=\\d+$`));
    expect(c.recommended).toMatch(/^≥ \d+$/);
  });

  it('kernel.pid_max: 32768 (the default) → warn; 4194304 → ok', () => {
    expect(get(run(fakeHost('v2', { 'proc/sys/kernel/pid_max': '32768\n' })), 'sysctl:kernel.pid_max')).toMatchObject({
      status: 'warn',
      recommended: '≥ 4194304',
      fix: 'sysctl -w kernel.pid_max=4194304',
    });
  });

  it('kernel.threads-max: judged against the RAM cap (RAM / 128 KiB), with 5% slack', () => {
    // 2 GiB → cap 16384; 95% of it is 15564.
    const at = (value: number) => get(run(fakeHost('v2', { 'proc/sys/kernel/threads-max': `${value}\n` })), 'sysctl:kernel.threads-max');
    expect(at(16384)).toMatchObject({ status: 'ok', recommended: '≥ 16384' });
    expect(at(15564)).toMatchObject({ status: 'ok' });
    expect(at(15563)).toMatchObject({ status: 'warn', fix: 'sysctl -w kernel.threads-max=16384' });
    const big = fakeHost('v2', { 'proc/meminfo': 'MemTotal:       1610612736 kB\n', 'proc/sys/kernel/threads-max': '12582912\n' });
    expect(get(run(big), 'sysctl:kernel.threads-max')).toMatchObject({ status: 'ok', recommended: '≥ 4194304' });
  });

  it('fs.file-max at LONG_MAX (systemd) → ok', () => {
    expect(get(run(fakeHost('v2')), 'sysctl:fs.file-max')).toMatchObject({ status: 'ok', found: '9223372036854776000' });
  });

  it('vm.overcommit_memory: 1 ok, 2 warn', () => {
    expect(get(run(fakeHost('v2', { 'proc/sys/vm/overcommit_memory': '1\n' })), 'sysctl:vm.overcommit_memory').status).toBe('ok');
    expect(get(run(fakeHost('v2', { 'proc/sys/vm/overcommit_memory': '2\n' })), 'sysctl:vm.overcommit_memory')).toMatchObject({
      status: 'warn',
      fix: 'sysctl -w vm.overcommit_memory=0',
    });
  });

  it('vm.panic_on_oom: 1 warn, 2 fail (a cgroup OOM would panic the machine)', () => {
    expect(get(run(fakeHost('v2', { 'proc/sys/vm/panic_on_oom': '1\n' })), 'sysctl:vm.panic_on_oom').status).toBe('warn');
    const report = run(fakeHost('v2', { 'proc/sys/vm/panic_on_oom': '2\n' }));
    expect(get(report, 'sysctl:vm.panic_on_oom')).toMatchObject({ status: 'fail', fix: 'sysctl -w vm.panic_on_oom=0' });
    expect(report.ok).toBe(false);
  });

  it('vm.oom_kill_allocating_task: 1 → warn', () => {
    expect(get(run(fakeHost('v2', { 'proc/sys/vm/oom_kill_allocating_task': '1\n' })), 'sysctl:vm.oom_kill_allocating_task').status).toBe('warn');
  });

  it('a parameter the kernel does not have → warn, not available', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('proc/sys/fs/nr_open'));
    expect(get(run(host), 'sysctl:fs.nr_open')).toMatchObject({ status: 'warn', found: expect.stringContaining('not available') });
  });

  it('unparseable text → ERR_CGROUP_PARSE naming the file', () => {
    const host = fakeHost('v2', { 'proc/sys/kernel/pid_max': 'lots\n' });
    expect(() => run(host)).toThrow(expect.objectContaining({ code: ErrorCode.CGROUP_PARSE, file: host.tree.path('proc/sys/kernel/pid_max') }));
  });
});

describe('transparent hugepages', () => {
  it('always → warn with echo madvise; never → ok; not built → ok', () => {
    const host = fakeHost('v2', { 'sys/kernel/mm/transparent_hugepage/enabled': '[always] madvise never\n' });
    expect(get(run(host), 'transparent-hugepages')).toMatchObject({
      status: 'warn',
      found: 'always',
      fix: `echo madvise > ${host.tree.path('sys/kernel/mm/transparent_hugepage/enabled')}`,
    });
    host.tree.write('sys/kernel/mm/transparent_hugepage/enabled', 'always madvise [never]\n');
    expect(get(run(host), 'transparent-hugepages').status).toBe('ok');
    rmSync(host.tree.path('sys/kernel'), { recursive: true });
    expect(get(run(host), 'transparent-hugepages')).toMatchObject({ status: 'ok', found: 'not available' });
  });
});

describe('scratch tmpfs', () => {
  it('a plain directory → warn with the exact mount command', () => {
    const host = fakeHost('v2');
    host.setMounts();
    const dir = host.tree.path('scratch');
    const c = get(run(host, { scratchSize: '2G' }), 'scratch');
    expect(c).toMatchObject({ status: 'warn', found: `${dir} is a plain directory, not a tmpfs mount` });
    expect(c.fix).toBe(`mkdir -p ${dir} && mount -t tmpfs -o size=2147483648,mode=1777,nosuid,nodev tmpfs ${dir}`);
  });

  it('missing → warn; another filesystem mounted there → warn', () => {
    const host = fakeHost('v2');
    host.setMounts();
    rmSync(host.tree.path('scratch'), { recursive: true });
    expect(get(run(host), 'scratch').found).toContain('does not exist');
    host.setMounts([`99 22 0:99 / ${host.tree.path('scratch')} rw - ext4 /dev/sdb1 rw`]);
    expect(get(run(host), 'scratch')).toMatchObject({ status: 'warn', found: expect.stringContaining('ext4 mounted') });
  });

  it('tmpfs mounted → ok with its size', () => {
    expect(get(run(fakeHost('v2')), 'scratch')).toMatchObject({ status: 'ok', found: expect.stringContaining('size=209716k') });
  });
});

describe('workspace pool', () => {
  it('missing slots and a wrong mode → warn', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('active/ws-005'), { recursive: true });
    chmodSync(host.tree.path('active/ws-001'), 0o755);
    const c = get(run(host), 'workspaces');
    expect(c.status).toBe('warn');
    expect(c.found).toBe(`${host.tree.path('active')}: 4 of 5 slots, 1 not mode 0700`);
    expect(c.fix).toBe(`for i in $(seq -f %03g 1 5); do install -d -m 0700 ${host.tree.path('active')}/ws-$i; done`);
  });

  it('no pool → warn (no slots); more slots than present → warn', () => {
    const host = fakeHost('v2');
    expect(get(run(host, { workspaceSlots: 6 }), 'workspaces').found).toContain('5 of 6 slots');
    rmSync(host.tree.path('active'), { recursive: true });
    expect(get(run(host), 'workspaces').found).toContain('no slots');
  });

  it('a slot that is a file, not a directory, counts as missing', () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('active/ws-003'), { recursive: true });
    host.tree.write('active/ws-003', 'not a dir');
    expect(get(run(host), 'workspaces').found).toContain('4 of 5');
  });
});

describe('assertIsolation', () => {
  const report = (): PreflightReport => run(fakeHost('v2', { 'proc/sys/vm/panic_on_oom': '2\n', 'proc/sys/kernel/pid_max': '32768\n' }));

  it('throws ERR_PREFLIGHT_FAILED listing each failing check with its fix', () => {
    let error: unknown;
    try {
      assertIsolation(report());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AgentHostError);
    expect((error as AgentHostError).code).toBe(ErrorCode.PREFLIGHT_FAILED);
    expect((error as Error).message).toContain('- sysctl:vm.panic_on_oom: 2 (recommended: 0); fix: sysctl -w vm.panic_on_oom=0');
    // Warnings do not make it throw.
    expect((error as Error).message).not.toContain('pid_max');
  });

  it('ignore accepts a failure; strict makes warnings fail', () => {
    expect(() => assertIsolation(report(), { ignore: ['sysctl:vm.panic_on_oom'] })).not.toThrow();
    expect(failingChecks(report(), { ignore: ['sysctl:vm.panic_on_oom'], strict: true }).map((c) => c.id)).toEqual(['sysctl:kernel.pid_max']);
  });
});

describe('formatPreflight', () => {
  it('one line per check; recommended, fix and why under the ones that are not ok', () => {
    const host = fakeHost('v2', { 'proc/sys/vm/panic_on_oom': '2\n' });
    const text = formatPreflight(run(host));
    expect(text.split('\n')[0]).toMatch(/^host preflight: FAILED — 1 failing, 0 warning\(s\), \d+ ok \(cgroups: unified; agents' root: /);
    expect(text).toMatch(/\nFAIL {2}vm\.panic_on_oom +2\n +recommended: 0\n +fix: sysctl -w vm\.panic_on_oom=0\n +why: /);
    expect(text).toMatch(/\nok {4}swap +off\n/);
  });
});

function snapshot(host: FakeHost): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(host.tree.path(rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const stat = statSync(host.tree.path(path));
      if (stat.isDirectory()) {
        files[`${path}/`] = (stat.mode & 0o777).toString(8);
        walk(path);
      } else files[path] = host.tree.read(path);
    }
  };
  walk('');
  return files;
}

describe('memory budget', () => {
  it('names the budget: MemTotal, or a limit above the agents\' root, or the option', () => {
    const host = fakeHost('v2');
    expect(get(run(host), 'memory-budget')).toMatchObject({ status: 'ok', found: expect.stringContaining('MemTotal') });
    host.tree.write('cg/init.scope/memory.max', `${2 ** 30}\n`);
    host.tree.write('cg/init.scope/cgroup.type', 'domain\n');
    const parent = run(host, { cgroupRoot: 'init.scope/agents' });
    expect(get(parent, 'memory-budget').found).toBe(`1.0G, the memory limit of ${host.tree.path('cg/init.scope')}, tighter than MemTotal (${get(parent, 'memory-budget').found.match(/MemTotal \((.*)\)/)![1]})`);
    expect(get(run(host, { budget: '512M' }), 'memory-budget').found).toMatch(/^512M, the budget option/);
  });
});

describe('kernel backstop', () => {
  it("says what start() writes on the agents' root, off with agentsMemoryMax: false, and when it cannot be written", () => {
    const host = fakeHost('v2');
    const c = get(run(host), 'agents-root-limits');
    expect(c).toMatchObject({ status: 'ok', found: expect.stringMatching(/^memory\.max .*, memory\.high .* on .*nova-agents \(written by start\(\)\)$/) });
    expect(get(run(host, { agentsMemoryMax: '2G' }), 'agents-root-limits').found).toMatch(/^memory\.max 2\.0G, memory\.high 1\.9G/);
    expect(get(run(host, { agentsMemoryMax: false }), 'agents-root-limits').found).toBe('off (agentsMemoryMax: false)');
    expect(get(run(host, { reserve: { system: '100%' } }), 'agents-root-limits')).toMatchObject({ status: 'warn', found: expect.stringContaining('leaves nothing for agents') });
  });
});
