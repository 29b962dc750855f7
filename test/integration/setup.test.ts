/**
 * Host setup against the real kernel. preflight() and a dry run anywhere (they change nothing);
 * a real applySetup() only inside the throw-away cgroup2-vm, where sysctls, mounts and the root
 * cgroup vanish with the VM:
 *   ../shared/vm/cgroup2-vm run -- npx vitest run --project integration test/integration/setup.test.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cgroup, hostHierarchy } from '../../src/cgroup/index.js';
import { applySetup, formatPreflight, formatSetup, preflight, type SetupOptions } from '../../src/setup/index.js';
import { uniqueName } from '../helpers/cgroups.js';
import { skipIf } from '../helpers/kernel.js';

/** Only the VM may be changed for real: its hostname, a pure v2 hierarchy, root. */
const IN_VM = hostname() === 'cgroup2-vm' && hostHierarchy().mode === 'unified' && process.getuid?.() === 0;

let dir: string;
let options: SetupOptions & { fstab: string; scratchDir: string; rootName: string };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-setup-'));
  options = {
    rootName: uniqueName('setup'),
    scratchDir: join(dir, 'scratch'),
    workspaceRoot: join(dir, 'active'),
    workspaceSlots: 20,
    fstab: join(dir, 'fstab'),
  };
  writeFileSync(options.fstab, '# test fstab\n');
  console.log(`cgroup mode ${hostHierarchy().mode}, host ${hostname()}, ${IN_VM ? 'in the VM: applying for real' : 'not the VM: read-only tests'}`);
});

afterAll(async () => {
  if (IN_VM) {
    await execa('umount', [options.scratchDir], { reject: false });
    const root = Cgroup.self().child(options.rootName);
    if (root.exists()) await root.delete();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('on the real kernel', () => {
  it('preflight() reads the host and returns a report, changing nothing', () => {
    const report = preflight(options);
    console.log(formatPreflight(report));
    expect(typeof report.ok).toBe('boolean');
    expect(report.ok).toBe(report.checks.every((c) => c.status !== 'fail'));
    expect(report.cgroupRoot).toBe(Cgroup.self().child(options.rootName).path);
    for (const c of report.checks) {
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(c.found).not.toBe('');
      if (c.status !== 'ok') expect(c.fix).toBeTruthy();
    }
    // Read-only: the root cgroup and the layout are still not there.
    expect(Cgroup.self().child(options.rootName).exists()).toBe(false);
    expect(report.checks.find((c) => c.id === 'workspaces')?.status).toBe('warn');
  });

  it('applySetup({ dryRun: true }) lists the actions and runs nothing', async () => {
    const result = await applySetup({
      ...options,
      dryRun: true,
      run: () => Promise.reject(new Error('a dry run must not run commands')),
    });
    console.log(formatSetup(result));
    expect(result.ok).toBe(true);
    expect(result.actions.map((a) => a.id)).toEqual(expect.arrayContaining(['swap', 'cgroup-root', 'scratch', 'workspaces']));
    expect(result.actions.find((a) => a.id === 'workspaces')?.changed).toBe(true);
    expect(Cgroup.self().child(options.rootName).exists()).toBe(false);
  });
});

describe('applySetup for real', () => {
  it('sets the host up; preflight then reports every check ok; a second run changes nothing', async (ctx) => {
    skipIf(ctx, !IN_VM && 'changes sysctls, mounts and cgroups for real: only inside the throw-away cgroup2-vm');
    const first = await applySetup(options);
    console.log(formatSetup(first));
    expect(first.actions.filter((a) => a.error)).toEqual([]);
    expect(first.actions.filter((a) => a.changed).map((a) => a.id)).toEqual(expect.arrayContaining(['cgroup-root', 'scratch', 'workspaces']));

    const report = preflight(options);
    const notOk = report.checks.filter((c) => c.status !== 'ok');
    if (notOk.length > 0) console.log(formatPreflight(report));
    expect(notOk).toEqual([]);
    expect(report.ok).toBe(true);

    const second = await applySetup(options);
    expect(second.actions.filter((a) => a.changed)).toEqual([]);
    expect(second.ok).toBe(true);
  });
});
