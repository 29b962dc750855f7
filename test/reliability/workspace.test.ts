/**
 * Scenario 7: whatever an agent leaves in its workspace slot — links to `/` and to files and
 * directories outside, hard links, link loops, unreadable directories, FIFOs, odd names, a
 * process still writing links when the agent ends — cleanup removes the entries, never what
 * they point at. The same holds for a dirty slot reclaimed from an owner that died.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { processesIn, scratch, startHost } from './helpers.js';

/** A tree outside the pool that no cleanup may touch, and a check that it is intact. */
function sentinel(): { dir: string; file: string; intact: () => void } {
  const dir = scratch('outside');
  const file = join(dir, 'precious.txt');
  writeFileSync(file, 'keep me');
  mkdirSync(join(dir, 'tree', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'tree', 'deeper', 'leaf.txt'), 'keep me too');
  const before = readdirSync(dir, { recursive: true }).map(String).sort();
  return {
    dir,
    file,
    intact: () => {
      expect(readdirSync(dir, { recursive: true }).map(String).sort()).toEqual(before);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
      expect(readFileSync(join(dir, 'tree', 'deeper', 'leaf.txt'), 'utf8')).toBe('keep me too');
      // Hard links in the slot were only names: the file keeps its one remaining link.
      expect(statSync(file).nlink).toBe(1);
    },
  };
}

function rootIntact(): void {
  for (const path of ['/etc/passwd', '/bin', '/usr/bin/env', '/proc/self', '/tmp']) expect(existsSync(path), path).toBe(true);
}

describe('7. workspace slot cleanup never follows a link', () => {
  it('links to /, to files and dirs outside, hard links, loops, unreadable dirs, FIFOs, odd names, a writer still running', async () => {
    const outside = sentinel();
    const wsRoot = join(scratch('ws'), 'pool');
    const { host, dir } = await startHost({ workspaces: { root: wsRoot, slots: 1 } }, 'slot');
    const stop = join(dir, 'stop');
    const o = outside.dir;
    const script = [
      'ln -s / root-link',
      `ln -s '${outside.file}' file-link`,
      `ln -s '${o}/tree' dir-link`,
      `ln '${outside.file}' hard-link`,
      'ln -s loop-b loop-a && ln -s loop-a loop-b',
      `mkdir -p locked/inner && ln -s / locked/inner/root && ln -s '${o}' locked/outside && chmod 000 locked/inner locked`,
      'mkfifo fifo',
      `touch -- "$(printf 'new\\nline')" ' leading space' '-rf' '*' '..."'`,
      `mkdir -p deep/a/b/c/d/e && ln -s '${o}/tree/deeper' deep/a/b/c/d/e/link`,
      // A process that outlives the main one, still making links: KillMode kills it before the clean.
      `( while :; do ln -sf '${o}' "churn-$$-$(date +%N)" 2>/dev/null; sleep 0.05; done ) &`,
      // The main process ends when the test says so; the churner is still at work then.
      `while [ ! -e '${stop}' ]; do sleep 0.05; done`,
    ].join('\n');
    // As root, the strongest agent: running as its own user (the default) it could not even hard-link
    // a file it does not own (protected_hardlinks), nor swap its slot below the root-owned pool.
    const agent = await host.spawn('linker', { command: 'sh', args: ['-c', script], workspace: true, user: 'root' });
    const slot = agent.workspace!;
    await waitFor(() => readdirSync(slot).some((name) => name.startsWith('churn-')), { message: 'the churner made links' });
    // Everything was made (the churner starts last).
    expect(readdirSync(slot)).toEqual(
      expect.arrayContaining(['root-link', 'file-link', 'dir-link', 'hard-link', 'loop-a', 'loop-b', 'locked', 'fifo', 'new\nline', ' leading space', '-rf', '*', '..."', 'deep']),
    );
    expect(statSync(outside.file).nlink).toBe(2);
    writeFileSync(stop, '');
    const result = await agent.result;
    expect(result).toMatchObject({ reason: 'exit', exitCode: 0 });
    expect(processesIn(agent.cgroup!)).toEqual([]);

    expect(readdirSync(slot)).toEqual([]);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    expect(statSync(slot).mode & 0o7777).toBe(0o700);
    outside.intact();
    rootIntact();
    expect(host.workspaces!.leases().size).toBe(0);
  });

  it('a slot replaced by a link (to a dir outside) is recreated as a directory; the target is left alone', async () => {
    const outside = sentinel();
    const wsRoot = join(scratch('ws'), 'pool');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 1 } }, 'slot');
    const slot = join(wsRoot, 'ws-001');
    const swap = ['-c', `cd / && rm -rf '${slot}' && ln -s '${outside.dir}' '${slot}'`];
    // Running as its own user (the default as root), the agent cannot touch the root-owned pool...
    const confined = await host.spawn('confined', { command: 'sh', args: swap, workspace: true });
    expect((await confined.result).exitCode).not.toBe(0);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    // ...as root it can, and the slot is recreated all the same.
    const agent = await host.spawn('swapper', { command: 'sh', args: swap, workspace: true, user: 'root' });
    expect((await agent.result).exitCode).toBe(0);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    expect(readdirSync(slot)).toEqual([]);
    outside.intact();
  });

  it('a dirty slot whose lease owner died is reclaimed: emptied without following its links', async () => {
    const outside = sentinel();
    const wsRoot = join(scratch('ws'), 'pool');
    const slot = join(wsRoot, 'ws-001');
    mkdirSync(join(wsRoot, '.leases'), { recursive: true, mode: 0o700 });
    mkdirSync(slot, { mode: 0o700 });
    symlinkSync('/', join(slot, 'root-link'));
    symlinkSync(outside.dir, join(slot, 'dir-link'));
    linkSync(outside.file, join(slot, 'hard-link'));
    // A lease held by a process that has exited: the orchestrator that took it is gone.
    const dead = Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
    writeFileSync(join(wsRoot, '.leases', 'ws-001.lock'), JSON.stringify({ pid: dead, agent: 'ghost' }));

    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 1 } }, 'slot');
    // Released at start (its owner is dead), emptied then or at the next lease.
    expect([...host.workspaces!.leases().values()].map((l) => l.agent)).not.toContain('ghost');
    // The heir finds its slot empty (exit 0) and nothing outside changed.
    const agent = await host.spawn('heir', { command: 'sh', args: ['-c', 'test -z "$(ls -A)"'], workspace: true });
    expect(agent.workspace).toBe(slot);
    expect((await agent.result).exitCode).toBe(0);
    expect(readdirSync(slot)).toEqual([]);
    outside.intact();
    rootIntact();
  });
});
