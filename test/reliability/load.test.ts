/**
 * Scenario 11: load. Hundreds of short agents (300 natively; fewer under the VM's emulation),
 * through the queue, with the memory monitor sampling them, workspaces, exits, failures and
 * kills mixed in. After dispose(): no agent cgroup, no child process, no open descriptor, no
 * active handle and no listener beyond what was there before.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, type AgentResult } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { agentsRoot, childProcesses, defer, IN_VM, processesIn, scratch, SMALL } from './helpers.js';

const AGENTS = IN_VM ? 24 : 300;

/** Active handles and requests by type, e.g. { Timeout: 2, FSEventWrap: 1 }. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
}

describe('11. load', () => {
  it(`${AGENTS} short agents with the monitor running: afterwards no cgroup, process, fd, handle or listener is left`, { timeout: 180_000 }, async () => {
    const root = agentsRoot('load');
    const dir = scratch('load');
    // Warm-up: one host, one agent. What the process creates once and keeps (libuv's inotify
    // descriptor on v2, its thread pool) is part of the baseline; anything per agent is not.
    const warm = new AgentHost({ cgroupRoot: root, stateDir: join(dir, 'warm'), limits: SMALL, monitor: { interval: 100 } });
    await warm.start();
    await (await warm.spawn('warm-up', { command: 'true' })).result;
    await warm.dispose();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const baseline = { resources: resources(), children: childProcesses(), fds: openFds() };
    const host = new AgentHost({
      cgroupRoot: root,
      stateDir: join(dir, 'state'),
      workspaces: { root: join(dir, 'ws'), slots: 32 },
      limits: SMALL,
      killGrace: 100,
      maxConcurrent: IN_VM ? 8 : 32,
      monitor: { interval: 100 },
    });
    defer(() => host.dispose());
    await host.start();
    let samples = 0;
    host.monitor!.on('sample', () => samples++);
    const errors: Error[] = [];
    host.on('error', (error) => errors.push(error));

    const kinds = ['true', 'sleep', 'fail', 'workspace', 'killed'] as const;
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: AGENTS }, async (_, i): Promise<[string, AgentResult]> => {
        const kind = kinds[i % kinds.length]!;
        const id = `load-${String(i).padStart(3, '0')}`;
        const agent = await host.spawn(id, {
          command: 'sh',
          args: ['-c', kind === 'fail' ? 'exit 3' : kind === 'sleep' || kind === 'workspace' ? 'sleep 0.05' : kind === 'killed' ? 'sleep 60' : 'true'],
          workspace: kind === 'workspace',
        });
        if (kind === 'killed') void agent.kill({ force: true });
        return [kind, await agent.result];
      }),
    );
    const elapsed = Date.now() - started;
    expect(host.monitor!.running).toBe(true);
    expect(samples).toBeGreaterThan(0);

    for (const [kind, result] of results) {
      const expected = kind === 'fail' ? { reason: 'exit', exitCode: 3 } : kind === 'killed' ? { reason: 'killed' } : { reason: 'exit', exitCode: 0 };
      expect(result, `${result.id} (${kind})`).toMatchObject(expected);
    }
    expect(errors).toEqual([]);
    expect(host.agents()).toEqual([]);
    expect(root.children()).toEqual([]);

    await host.dispose();
    expect(processesIn(root)).toEqual([]);
    expect(host.eventNames()).toEqual([]);
    expect(host.monitor?.eventNames() ?? []).toEqual([]);
    expect(host.monitor?.running ?? false).toBe(false);
    // Child processes are reaped, handles closed and descriptors released a tick or two later.
    await waitFor(() => childProcesses().length <= baseline.children.length, { timeout: 10_000, message: 'no child process left' });
    await waitFor(() => Object.entries(resources()).every(([type, n]) => n <= (baseline.resources[type] ?? 0)), {
      timeout: 10_000,
      message: `active resources back to ${JSON.stringify(baseline.resources)} (now ${JSON.stringify(resources())})`,
    });
    await waitFor(() => openFds() <= baseline.fds, { timeout: 10_000, message: 'open fds back to the baseline' }).catch((error: Error) => {
      const fds = readdirSync('/proc/self/fd').map((fd) => `${fd}:${safeReadlink(`/proc/self/fd/${fd}`)}`);
      throw new Error(`${error.message}: ${baseline.fds} before, now ${fds.join(' ')}`);
    });
    console.log(`${AGENTS} agents in ${elapsed} ms (${Math.round((AGENTS * 1000) / elapsed)}/s), ${samples} monitor ticks`);
  });
});
