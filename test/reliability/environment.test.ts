/**
 * Scenario 9: a hostile environment. cgroupfs missing or read-only (a private mount namespace
 * of our own: the host's mounts are never touched), not delegated (another user: setpriv),
 * half delegated, controllers not available or not enableable, rmdir failing with EBUSY (a
 * fake cgroupfs tree). Each ends in a clear typed error or a documented degraded mode — never a
 * crash, never a half-made cgroup.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, Cgroup, ErrorCode, isAgentHostError, type CgroupHierarchy } from '../../src/index.js';
import { hasCommand, skipIf } from '../helpers/kernel.js';
import type { Attempt, AttemptResult } from './fixtures/start-host.js';
import { agentsRoot, cgroupTree, defer, processesIn, runFixture, scratch, v2, type NodeChild } from './helpers.js';

const NOBODY = 65534;

/** Every RESULT line of a start-host fixture run, by attempt name, once it printed DONE. */
async function results(run: NodeChild): Promise<Record<string, AttemptResult>> {
  await run.line('DONE');
  const { code, stderr } = await run.exited;
  expect(code, stderr).toBe(0);
  return Object.fromEntries(
    run.lines.filter((l) => l.startsWith('RESULT ')).map((l) => {
      const result = JSON.parse(l.slice('RESULT '.length)) as AttemptResult;
      return [result.name, result];
    }),
  );
}

/** The cgroup mount points of this process (v1 controllers and/or the v2 mount). */
function cgroupMounts(): Array<{ mountPoint: string; options: string }> {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 8 && /^cgroup2?$/.test(f[f.indexOf('-') + 1]!))
    .map((f) => ({ mountPoint: f[4]!, options: f[5]! }));
}

/** Runs the start-host fixture in a private mount namespace after `setup` (shell) ran there. */
function inMountNamespace(setup: string, attempts: Attempt[]): NodeChild {
  return runFixture('start-host.ts', attempts, ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `set -e; ${setup}; exec "$0" "$@"`]);
}

function writableStateDir(): string {
  const dir = join(scratch('env'), 'state');
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  chmodSync(join(dir, '..'), 0o755);
  return dir;
}

describe('9. hostile environment', () => {
  it('cgroupfs not mounted: ERR_CGROUP_UNAVAILABLE (preflight: ERR_PREFLIGHT_FAILED), nothing created', async (ctx) => {
    skipIf(ctx, !hasCommand('unshare') && 'unshare(1) is missing');
    const root = agentsRoot('nocgfs');
    const stateDir = writableStateDir();
    const run = inMountNamespace('umount -R /sys/fs/cgroup', [
      { name: 'default placement', stateDir, preflight: 'off' },
      { name: 'given root', cgroupRoot: root.child('agents').location, stateDir, preflight: 'off' },
      { name: 'with preflight', stateDir },
    ]);
    const seen = await results(run);
    expect(seen['default placement']).toMatchObject({ phase: 'start', code: ErrorCode.CGROUP_UNAVAILABLE, typed: true });
    expect(seen['given root']).toMatchObject({ phase: 'construct', code: ErrorCode.CGROUP_UNAVAILABLE, typed: true });
    expect(seen['with preflight']).toMatchObject({ phase: 'start', code: ErrorCode.PREFLIGHT_FAILED, typed: true });
    expect(cgroupTree(root)).toEqual(root.dirs.map((_, i) => `${Object.keys(root.location)[i]}:.`).sort());
    // The host's own mounts were never touched.
    expect(cgroupMounts().length).toBeGreaterThan(0);
  });

  it('cgroupfs read-only (a container without a writable cgroupfs): ERR_CGROUP_PERMISSION at start or spawn, nothing created', async (ctx) => {
    skipIf(ctx, !hasCommand('unshare') && 'unshare(1) is missing');
    const root = agentsRoot('rocgfs');
    const stateDir = writableStateDir();
    const mounts = cgroupMounts();
    // remount,bind,ro changes only this namespace's copy of each mount, never the superblock.
    const run = inMountNamespace(mounts.map((m) => `mount -o remount,bind,ro '${m.mountPoint}'`).join('; '), [
      { name: 'root to create', cgroupRoot: root.child('agents').location, stateDir, preflight: 'off' },
      { name: 'existing root, spawn', cgroupRoot: root.location, stateDir, preflight: 'off', spawn: { id: 'a', command: 'sleep', args: ['30'] } },
      { name: 'with preflight', cgroupRoot: root.child('agents').location, stateDir },
    ]);
    const seen = await results(run);
    expect(seen['root to create']).toMatchObject({ phase: 'start', code: ErrorCode.CGROUP_PERMISSION, typed: true });
    expect(seen['existing root, spawn']).toMatchObject({ phase: 'spawn', code: ErrorCode.CGROUP_PERMISSION, typed: true });
    expect(seen['with preflight']).toMatchObject({ phase: 'start', code: ErrorCode.PREFLIGHT_FAILED, typed: true });
    expect(cgroupTree(root).filter((d) => !d.endsWith(':.'))).toEqual([]);
    expect(processesIn(root)).toEqual([]);
    // Still read-write here, as before.
    expect(cgroupMounts()).toEqual(mounts);
    for (const mount of mounts) expect(mount.options.split(',')).toContain('rw');
  });

  it('another user, not delegated: ERR_CGROUP_PERMISSION naming the way out; a half delegation leaves no half-made cgroup', async (ctx) => {
    skipIf(ctx, !hasCommand('setpriv') && 'setpriv(1) is missing');
    skipIf(ctx, process.getuid?.() !== 0 && 'needs root to switch to another user');
    const root = agentsRoot('nobody');
    const stateDir = writableStateDir();
    const ownDefault = Cgroup.self().child('nova-agents');
    const defaultExisted = ownDefault.exists();
    // v1: the memory directory handed over, the pids one not (a half delegation).
    const half = v2() ? undefined : agentsRoot('half');
    if (half) chownSync(half.location.memory!, NOBODY, NOBODY);
    const attempts: Attempt[] = [
      { name: 'root to create', cgroupRoot: root.child('agents').location, stateDir, preflight: 'off' },
      { name: 'existing root, spawn', cgroupRoot: root.location, stateDir, preflight: 'off', spawn: { id: 'a', command: 'sleep', args: ['30'] } },
      { name: 'with preflight', cgroupRoot: root.child('agents').location, stateDir },
      // Only where no other host's default root exists: a nobody host must not meet real agents.
      ...(defaultExisted ? [] : [{ name: 'default placement', stateDir, preflight: 'off' as const }]),
      ...(half ? [{ name: 'half delegated', cgroupRoot: half.location, stateDir, preflight: 'off' as const, spawn: { id: 'b', command: 'sleep', args: ['30'] } }] : []),
    ];
    const run = runFixture('start-host.ts', attempts, ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups']);
    const seen = await results(run);
    expect(seen['root to create']).toMatchObject({ phase: 'start', code: ErrorCode.CGROUP_PERMISSION, typed: true });
    expect(seen['root to create']!.message).toMatch(/Delegate=yes/);
    expect(seen['existing root, spawn']).toMatchObject({ phase: 'spawn', code: ErrorCode.CGROUP_PERMISSION, typed: true });
    expect(seen['with preflight']).toMatchObject({ phase: 'start', code: ErrorCode.PREFLIGHT_FAILED, typed: true });
    if (!defaultExisted) {
      expect(seen['default placement']).toMatchObject({ phase: 'start', code: ErrorCode.CGROUP_PERMISSION, typed: true });
      expect(ownDefault.exists()).toBe(false);
    }
    expect(cgroupTree(root).filter((d) => !d.endsWith(':.'))).toEqual([]);
    if (half) {
      expect(seen['half delegated']).toMatchObject({ phase: 'spawn', code: ErrorCode.CGROUP_PERMISSION, typed: true });
      // mkdir worked in memory, failed in pids: the memory directory was removed again.
      expect(cgroupTree(half).filter((d) => !d.endsWith(':.'))).toEqual([]);
    }
  });

  it('v2: controllers that cannot be enabled (the parent holds processes): ERR_CGROUP_BUSY explaining why, nothing created', async (ctx) => {
    skipIf(ctx, !v2() && 'cgroup v1 has no subtree_control (every controller is in every cgroup): see the fake-tree case');
    const parent = agentsRoot('busy');
    // A child made behind the library's back, so the parent enables nothing; then a process in the parent.
    mkdirSync(join(parent.path, 'q'));
    const squatter = parent.spawn('sleep', ['300']);
    defer(() => void squatter.kill('SIGKILL'));
    await parent.joined(squatter);
    const subtree = readFileSync(join(parent.path, 'cgroup.subtree_control'), 'utf8');
    const host = new AgentHost({ cgroupRoot: parent.child('q').child('agents'), stateDir: join(scratch('busy'), 'state'), preflight: 'off' });
    defer(() => host.dispose());
    const error = await host.start().then(() => undefined, (e: unknown) => e);
    expect(isAgentHostError(error, ErrorCode.CGROUP_BUSY), String(error)).toBe(true);
    expect(String(error)).toMatch(/no internal processes/);
    expect(existsSync(join(parent.path, 'q', 'agents'))).toBe(false);
    expect(readFileSync(join(parent.path, 'cgroup.subtree_control'), 'utf8')).toBe(subtree);
    squatter.kill('SIGKILL');
    await squatter;
  });

  describe('fake cgroupfs trees', () => {
    function fakeV2(controllers: string): { hierarchy: CgroupHierarchy; root: Cgroup; dir: string } {
      const dir = join(scratch('fakecg'), 'cgroup');
      mkdirSync(dir);
      writeFileSync(join(dir, 'cgroup.controllers'), `${controllers}\n`);
      writeFileSync(join(dir, 'cgroup.subtree_control'), '\n');
      const hierarchy: CgroupHierarchy = { mode: 'unified', version: 2, mounts: { unified: dir }, own: { unified: dir }, readOnly: [] };
      return { hierarchy, root: new Cgroup({ unified: dir }, { hierarchy }), dir };
    }

    it('controllers not delegated (no memory in cgroup.controllers): ERR_CGROUP_UNAVAILABLE naming the file, nothing created', async () => {
      const { root, dir } = fakeV2('cpu io');
      const host = new AgentHost({ cgroupRoot: root.child('agents'), stateDir: join(scratch('fake'), 'state'), preflight: 'off', monitor: false });
      const error = await host.start().then(() => undefined, (e: unknown) => e);
      expect(isAgentHostError(error, ErrorCode.CGROUP_UNAVAILABLE), String(error)).toBe(true);
      expect(String(error)).toMatch(/memory, pids are not available/);
      expect((error as { file?: string }).file).toBe(join(dir, 'cgroup.controllers'));
      expect(existsSync(join(dir, 'agents'))).toBe(false);
      await host.dispose();
    });

    it('rmdir failing with EBUSY: the agent still ends, an ERR_CGROUP_BUSY error event names the cgroup, the host carries on', async () => {
      const { root, dir } = fakeV2('cpu io memory pids');
      const host = new AgentHost({ cgroupRoot: root, stateDir: join(scratch('fake'), 'state'), preflight: 'off', monitor: false, pollInterval: 0, timeouts: false });
      defer(() => host.dispose());
      const errors: Error[] = [];
      host.on('error', (error) => errors.push(error));
      await host.start();
      // Plain directories: the limit files written into them make rmdir fail (ENOTEMPTY, as EBUSY).
      const agent = await host.spawn('stuck', { command: 'true' });
      const result = await agent.result;
      expect(result.reason).toBe('exit');
      expect(errors.map((e) => (isAgentHostError(e) ? `${e.code} ${e.cgroup}` : String(e)))).toEqual([`${ErrorCode.CGROUP_BUSY} ${join(dir, 'stuck')}`]);
      expect(host.agents()).toEqual([]);
      // It carries on: another agent, and a clean dispose.
      const next = await host.spawn('next', { command: 'true' });
      expect((await next.result).reason).toBe('exit');
      await host.dispose();
    });
  });
});
