/**
 * The workspace pool through the host: slots 0700, one lease per agent (its cwd), released and
 * emptied on exit, stale leases of dead orchestrators reclaimed, and cleaning that never follows
 * a symlink out of a slot.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startHost, tempDir, untilFile } from './harness.js';

/** A pid that is certainly dead: a process we started and reaped. */
function deadPid(): number {
  const pid = Number(execFileSync('sh', ['-c', 'sh -c "echo \\$\\$"'], { encoding: 'utf8' }).trim());
  expect(existsSync(`/proc/${pid}`)).toBe(false);
  return pid;
}

describe('workspace pool', () => {
  it('slots are 0700; each agent leases its own as cwd; the lease ends (slot emptied) when the agent exits', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    const { host, dir } = await startHost({ workspaces: { root: wsRoot, slots: 3 } });
    const slots = readdirSync(wsRoot).filter((n) => n.startsWith('ws-')).sort();
    expect(slots).toEqual(['ws-001', 'ws-002', 'ws-003']);
    for (const slot of slots) expect(statSync(join(wsRoot, slot)).mode & 0o7777).toBe(0o700);

    const stop = join(dir, 'stop');
    const agents = await Promise.all(
      ['a', 'b'].map((id) => host.spawn(id, { command: 'sh', args: untilFile(stop, 'echo mine > own.txt; '), workspace: true })),
    );
    const [a, b] = agents as [(typeof agents)[0], (typeof agents)[0]];
    expect(a.workspace).not.toBe(b.workspace);
    for (const agent of agents) {
      // The kernel's view of the agent's working directory.
      expect(readlinkSync(`/proc/${agent.pid}/cwd`)).toBe(agent.workspace);
      const lease = host.workspaces!.leases().get(agent.workspace!);
      expect(lease).toEqual({ pid: process.pid, agent: agent.id });
    }
    await Promise.all(agents.map((agent) => waitForFile(join(agent.workspace!, 'own.txt'))));

    writeFileSync(stop, '');
    await Promise.all(agents.map((agent) => agent.result));
    expect(host.workspaces!.leases().size).toBe(0);
    expect(readdirSync(join(wsRoot, '.leases'))).toEqual([]);
    for (const agent of agents) expect(readdirSync(agent.workspace!)).toEqual([]);
  });

  it('a lease whose owner pid is dead is reclaimed (and its slot emptied); a live owner’s is not', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    mkdirSync(join(wsRoot, '.leases'), { recursive: true });
    mkdirSync(join(wsRoot, 'ws-001'));
    mkdirSync(join(wsRoot, 'ws-002'));
    writeFileSync(join(wsRoot, '.leases', 'ws-001.lock'), JSON.stringify({ pid: process.ppid, agent: 'theirs' }));
    writeFileSync(join(wsRoot, '.leases', 'ws-002.lock'), JSON.stringify({ pid: deadPid(), agent: 'crashed' }));
    writeFileSync(join(wsRoot, 'ws-002', 'stale.txt'), 'left by a crashed orchestrator');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 2 } });

    const agent = await host.spawn('reclaimer', { command: 'sleep', args: ['30'], workspace: true });
    expect(agent.workspace).toBe(join(wsRoot, 'ws-002'));
    expect(readdirSync(agent.workspace!)).toEqual([]);
    expect(JSON.parse(readFileSync(join(wsRoot, '.leases', 'ws-002.lock'), 'utf8'))).toEqual({ pid: process.pid, agent: 'reclaimer' });
    // The live owner keeps ws-001: the pool is full.
    await expect(host.spawn('extra', { command: 'true', workspace: true })).rejects.toMatchObject({ code: 'ERR_WORKSPACE_EXHAUSTED' });
    expect(JSON.parse(readFileSync(join(wsRoot, '.leases', 'ws-001.lock'), 'utf8')).agent).toBe('theirs');
    await agent.kill({ force: true });
  });

  it('cleaning a slot removes symlinks to / and to files outside, never their targets', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    mkdirSync(join(outside, 'tree'));
    writeFileSync(join(outside, 'tree', 'deep.txt'), 'keep me too');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 1 } });
    const agent = await host.spawn('linker', { command: 'sleep', args: ['60'], workspace: true });
    const slot = agent.workspace!;
    // What an agent might leave in its slot (made from here: every exec is slow in the VM).
    symlinkSync('/', join(slot, 'root-link'));
    symlinkSync(join(outside, 'precious.txt'), join(slot, 'file-link'));
    mkdirSync(join(slot, 'nested', 'more'), { recursive: true });
    symlinkSync(join(outside, 'tree'), join(slot, 'nested', 'more', 'dir-link'));
    symlinkSync('/', join(slot, 'nested', 'root-link'));
    writeFileSync(join(slot, 'nested', 'scratch.txt'), 'scratch');
    await agent.kill({ force: true });

    expect(readdirSync(slot)).toEqual([]);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(readFileSync(join(outside, 'tree', 'deep.txt'), 'utf8')).toBe('keep me too');
    for (const path of ['/etc', '/bin', '/usr', '/proc/self']) expect(existsSync(path)).toBe(true);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    expect(statSync(slot).mode & 0o7777).toBe(0o700);
  });

  it('a slot replaced by a symlink to a directory outside is recreated, the outside left alone', async () => {
    const wsRoot = join(tempDir('ws'), 'active');
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    const { host } = await startHost({ workspaces: { root: wsRoot, slots: 1 } });
    const slot = join(wsRoot, 'ws-001');
    const agent = await host.spawn('swapper', {
      command: 'sh',
      // The agent runs inside the slot, then swaps the slot itself for a link.
      args: ['-c', `cd .. && rmdir '${slot}' && ln -s '${outside}' '${slot}'`],
      workspace: true,
    });
    expect((await agent.result).exitCode).toBe(0);
    expect(lstatSync(slot).isDirectory()).toBe(true);
    expect(readdirSync(slot)).toEqual([]);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(host.workspaces!.leases().size).toBe(0);
  });
});

async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(existsSync(path)).toBe(true);
}
