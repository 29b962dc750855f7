/**
 * applySetup() over a fake host. The fake runner plays the kernel for swapoff and mount, and a
 * spy on files.ts plays cgroupfs: a new cgroup gets its interface files, and "+memory +pids"
 * written to cgroup.subtree_control reads back as "memory pids".
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { applySetup, type ApplySetupOptions, type SetupResult } from '../../../src/setup/apply.js';
import { formatSetup } from '../../../src/setup/format.js';
import { preflight } from '../../../src/setup/preflight.js';
import { fakeHost, type FakeHost } from './fake-host.js';

vi.mock('../../../src/cgroup/files.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/cgroup/files.js')>();
  const fs = await import('node:fs');
  const path = await import('node:path');
  return {
    ...real,
    makeDir(dir: string) {
      real.makeDir(dir);
      const offered = fs.readFileSync(path.join(dir, '..', 'cgroup.subtree_control'), 'utf8');
      for (const [file, content] of Object.entries({ 'cgroup.controllers': offered, 'cgroup.subtree_control': '', 'cgroup.procs': '', 'cgroup.type': 'domain\n', 'memory.max': 'max\n', 'memory.swap.max': 'max\n' })) {
        fs.writeFileSync(path.join(dir, file), content);
      }
    },
    writeFile(dir: string, file: string, value: string) {
      if (file !== 'cgroup.subtree_control') return real.writeFile(dir, file, value);
      const current = real.readFile(dir, file).split(/\s+/).filter(Boolean);
      const added = value.split(/\s+/).filter((v) => v.startsWith('+')).map((v) => v.slice(1));
      fs.writeFileSync(path.join(dir, file), `${[...new Set([...current, ...added])].join(' ')}\n`);
    },
  };
});

interface Call {
  file: string;
  args: readonly string[];
}
let calls: Call[];
beforeEach(() => {
  calls = [];
});

/** A runner that acts like the kernel on the fake tree. */
function kernelRunner(host: FakeHost, fail?: string): ApplySetupOptions['run'] {
  return async (file, args) => {
    calls.push({ file, args });
    if (file === fail) throw Object.assign(new Error(`Command failed: ${file}`), { shortMessage: `Command failed with exit code 1: ${file} ${args.join(' ')}`, stderr: `${file}: permission denied\n` });
    if (file === 'swapoff') host.tree.write('proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n');
    if (file === 'mount') host.setMounts([host.tmpfsLine(args[args.length - 1]!)]);
  };
}

/** A host needing every step: swap on, no root cgroup, low sysctls, THP always, no scratch, no pool. */
function untidyHost(): FakeHost {
  const host = fakeHost('v2', {
    'proc/swaps': 'Filename Type Size Used Priority\n/dev/sda2 partition 1024 0 -2\n',
    'proc/sys/kernel/pid_max': '32768\n',
    'proc/sys/fs/inotify/max_user_instances': '128\n',
    'proc/sys/vm/panic_on_oom': '2\n',
    'sys/kernel/mm/transparent_hugepage/enabled': '[always] madvise never\n',
    'etc/fstab': 'UUID=abc / ext4 defaults 0 1\n/dev/sda2 none swap sw 0 0\n#/dev/sdb1 none swap sw 0 0\n',
  });
  rmSync(host.tree.path('cg/nova-agents'), { recursive: true });
  rmSync(host.tree.path('active'), { recursive: true });
  host.setMounts();
  return host;
}

const changedIds = (result: SetupResult): string[] => result.actions.filter((a) => a.changed).map((a) => a.id);

describe('applySetup', () => {
  it('dry run: lists every action with its command, runs nothing, changes nothing', async () => {
    const host = untidyHost();
    const before = host.tree.read('proc/sys/kernel/pid_max');
    const result = await applySetup({ ...host.options, dryRun: true, run: kernelRunner(host) });
    expect(result.dryRun).toBe(true);
    expect(result.ok).toBe(true);
    expect(calls).toEqual([]);
    expect(changedIds(result)).toEqual([
      'swap',
      'cgroup-root',
      'sysctl:kernel.pid_max',
      'sysctl:fs.inotify.max_user_instances',
      'sysctl:vm.panic_on_oom',
      'transparent-hugepages',
      'scratch',
      'workspaces',
    ]);
    expect(result.actions.find((a) => a.id === 'sysctl:kernel.pid_max')).toMatchObject({
      description: 'kernel.pid_max: 32768 → 4194304',
      command: 'sysctl -w kernel.pid_max=4194304',
    });
    expect(result.actions.find((a) => a.id === 'swap')?.command).toBe('swapoff -a');
    expect(host.tree.read('proc/sys/kernel/pid_max')).toBe(before);
    expect(existsSync(host.tree.path('cg/nova-agents'))).toBe(false);
    expect(existsSync(host.tree.path('active'))).toBe(false);
    expect(formatSetup(result)).toMatch(/^host setup \(dry run: nothing changed\): 8 of 15 action\(s\) to do\n\nwould {2}turn swap off/);
  });

  it('applies every step, then preflight is all ok, and a second run changes nothing', async () => {
    const host = untidyHost();
    const result = await applySetup({ ...host.options, run: kernelRunner(host) });
    expect(result.actions.filter((a) => a.error)).toEqual([]);
    expect(result.ok).toBe(true);
    expect(calls).toEqual([
      { file: 'swapoff', args: ['-a'] },
      { file: 'mount', args: ['-t', 'tmpfs', '-o', 'size=10%,mode=1777,nosuid,nodev', 'tmpfs', host.tree.path('scratch')] },
    ]);
    expect(host.tree.read('proc/sys/kernel/pid_max')).toBe('4194304');
    expect(host.tree.read('proc/sys/vm/panic_on_oom')).toBe('0');
    expect(host.tree.read('sys/kernel/mm/transparent_hugepage/enabled')).toBe('madvise');
    expect(host.tree.read('cg/nova-agents/cgroup.subtree_control').split(/\s+/)).toEqual(expect.arrayContaining(['memory', 'pids']));
    for (let i = 1; i <= 5; i++) expect(statSync(host.tree.path(`active/ws-00${i}`)).mode & 0o777).toBe(0o700);

    // The fake sysfs file holds what was written; the kernel would show the choice list.
    host.tree.write('sys/kernel/mm/transparent_hugepage/enabled', 'always [madvise] never\n');
    const report = preflight(host.options);
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);

    calls = [];
    const again = await applySetup({ ...host.options, run: kernelRunner(host) });
    expect(changedIds(again)).toEqual([]);
    expect(again.ok).toBe(true);
    expect(calls).toEqual([]);
  });

  it('persistence hints: fstab swap lines commented out, a sysctl.d snippet, the tmpfs line, the THP option', async () => {
    const host = untidyHost();
    const result = await applySetup({ ...host.options, dryRun: true });
    const byDescription = Object.fromEntries(result.persist.map((p) => [p.description.split(' ').slice(0, 2).join(' '), p]));
    expect(byDescription['comment out']).toEqual({
      file: host.options.fstab,
      description: 'comment out these swap lines (swap stays off after a reboot)',
      text: '# /dev/sda2 none swap sw 0 0\n',
    });
    const sysctl = result.persist.find((p) => p.file === '/etc/sysctl.d/90-nova-agents.conf')!;
    expect(sysctl.text).toContain('kernel.pid_max = 4194304\n');
    expect(sysctl.text).toContain('vm.panic_on_oom = 0\n');
    // Already above the recommendation (systemd's LONG_MAX): never written down lower.
    expect(sysctl.text).not.toContain('fs.file-max');
    // Its default is the RAM cap already.
    expect(sysctl.text).not.toContain('threads-max');
    expect(byDescription['add the']?.text).toBe(`tmpfs ${host.tree.path('scratch')} tmpfs size=10%,mode=1777,nosuid,nodev 0 0\n`);
    expect(result.persist.find((p) => p.file === '/etc/default/grub')?.text).toBe('transparent_hugepage=madvise\n');
  });

  it('the tmpfs line is left out when fstab already has the mount point; swap from elsewhere → mask hint', async () => {
    const host = untidyHost();
    writeFileSync(host.options.fstab, `tmpfs ${host.tree.path('scratch')} tmpfs size=1G 0 0\n`);
    const result = await applySetup({ ...host.options, dryRun: true });
    expect(result.persist.some((p) => p.text.startsWith('tmpfs'))).toBe(false);
    expect(result.persist.find((p) => p.file === 'systemd')?.text).toContain('systemctl mask');
  });

  it('a failing command is reported in its action; the other steps still run', async () => {
    const host = untidyHost();
    const result = await applySetup({ ...host.options, run: kernelRunner(host, 'swapoff') });
    expect(result.ok).toBe(false);
    const swap = result.actions.find((a) => a.id === 'swap')!;
    expect(swap.error).toBe('Command failed with exit code 1: swapoff -a: swapoff: permission denied');
    expect(host.tree.read('proc/sys/kernel/pid_max')).toBe('4194304');
    expect(existsSync(host.tree.path('active/ws-005'))).toBe(true);
    expect(formatSetup(result)).toContain('ERROR  turn swap off (/dev/sda2)');
  });

  it('a parameter the kernel lacks (or hides) is skipped, not an error', async () => {
    const host = fakeHost('v2', { 'proc/sys/kernel/pid_max': '100\n' });
    rmSync(host.tree.path('proc/sys/fs/nr_open'));
    // Not a file: unreadable, so treated as missing.
    rmSync(host.tree.path('proc/sys/kernel/pid_max'));
    host.tree.add({ 'proc/sys/kernel/pid_max/': '' });
    const result = await applySetup({ ...host.options, run: kernelRunner(host) });
    expect(result.actions.find((a) => a.id === 'sysctl:fs.nr_open')).toMatchObject({ changed: false, description: 'fs.nr_open: not available on this kernel, skipped' });
    expect(result.actions.find((a) => a.id === 'sysctl:fs.nr_open')?.error).toBeUndefined();
    expect(result.actions.find((a) => a.id === 'sysctl:kernel.pid_max')?.changed).toBe(false);
    expect(result.ok).toBe(true);
  });

  it('never mounts over a non-empty directory or another mount', async () => {
    const host = untidyHost();
    writeFileSync(join(host.tree.path('scratch'), 'keep.txt'), 'data');
    const result = await applySetup({ ...host.options, run: kernelRunner(host) });
    expect(result.actions.find((a) => a.id === 'scratch')?.error).toContain('is not empty');
    expect(calls.some((c) => c.file === 'mount')).toBe(false);

    const other = untidyHost();
    other.setMounts([`99 22 0:99 / ${other.tree.path('scratch')} rw - ext4 /dev/sdb1 rw`]);
    const second = await applySetup({ ...other.options, run: kernelRunner(other) });
    expect(second.actions.find((a) => a.id === 'scratch')?.error).toContain('ext4 is already mounted');
  });

  it('a workspace slot replaced by a file is reported, not repaired', async () => {
    const host = fakeHost('v2');
    rmSync(host.tree.path('active/ws-002'), { recursive: true });
    host.tree.write('active/ws-002', 'x');
    const result = await applySetup({ ...host.options, run: kernelRunner(host) });
    expect(result.actions.find((a) => a.id === 'workspaces')?.error).toContain('not directories');
    expect(readFileSync(host.tree.path('active/ws-002'), 'utf8')).toBe('x');
  });
});
