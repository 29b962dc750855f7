/**
 * Nothing left over: 100 agents spawned and reaped, and dispose() with agents running, queued and
 * in a graceful kill — no cgroups, no records, no processes, no handles or timers.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, ErrorCode, type AgentResult } from '../../../src/index.js';
import { leftovers } from '../../helpers/cgroups.js';
import { waitFor } from '../../helpers/wait.js';
import { alive, childNames, defer, readPids, SMALL, tempDir, testRoot } from './harness.js';

/** Active handles and requests by type, e.g. { Timeout: 2, FSEventWrap: 1 }. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Resolves once no resource type is above the baseline (exited children close their handles a tick later). */
async function backToBaseline(baseline: Record<string, number>): Promise<void> {
  await waitFor(() => Object.entries(resources()).every(([type, n]) => n <= (baseline[type] ?? 0)), {
    timeout: 5_000,
    message: 'resources back to baseline',
  }).catch((error: Error) => {
    throw new Error(`${error.message}: baseline ${JSON.stringify(baseline)}, now ${JSON.stringify(resources())}`);
  });
}

function records(stateDir: string): string[] {
  return existsSync(stateDir) ? readdirSync(stateDir) : [];
}

describe('nothing left over', () => {
  it('100 agents spawned at once and reaped: no cgroups, no records, no processes, no handles', async () => {
    const baseline = resources();
    const root = testRoot('scale');
    const stateDir = join(tempDir('scale'), 'state');
    const host = new AgentHost({ cgroupRoot: root, stateDir, limits: SMALL });
    defer(() => host.dispose());
    await host.start();
    const ids = Array.from({ length: 100 }, (_, i) => `agent-${String(i).padStart(3, '0')}`);
    const exits: string[] = [];
    host.on('exit', (agent) => exits.push(agent.id));
    const agents = await Promise.all(
      ids.map((id, i) => host.spawn(id, i % 2 === 0 ? { command: 'true' } : { command: 'sleep', args: ['0.1'] })),
    );
    const pids = agents.map((a) => a.pid!);
    expect(new Set(pids).size).toBe(100);
    const results: AgentResult[] = await Promise.all(agents.map((a) => a.result));
    expect(results.filter((r) => r.reason !== 'exit' || r.exitCode !== 0)).toEqual([]);
    expect(exits.sort()).toEqual(ids);

    expect(host.agents()).toEqual([]);
    for (const dir of root.dirs) expect(readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
    expect(leftovers(root)).toEqual({ cgroups: root.dirs, pids: [] });
    expect(records(stateDir)).toEqual(['host.pid']);
    await host.dispose();
    expect(records(stateDir)).toEqual([]);
    expect(alive(pids)).toEqual([]);
    await backToBaseline(baseline);
  });

  it('dispose() kills what runs (even mid graceful kill), drops what waits, removes records, stops every timer', async () => {
    const baseline = resources();
    const root = testRoot('dispose');
    const dir = tempDir('dispose');
    const stateDir = join(dir, 'state');
    const agentsRoot = root.child('agents');
    const host = new AgentHost({ cgroupRoot: agentsRoot, stateDir, limits: SMALL, killGrace: '20s', maxConcurrent: 3 });
    defer(() => host.dispose());
    await host.start();
    // The host made the missing root it was given, and keeps it on dispose (it is the caller's).
    expect(agentsRoot.exists()).toBe(true);

    // A graceful kill whose agent ends at once: its 20 s grace timer must not outlive it.
    const polite = await host.spawn('polite', { command: 'sleep', args: ['60'] });
    expect((await polite.kill()).signal).toBe('SIGTERM');

    const pids = join(dir, 'pids');
    const stubborn = await host.spawn('stubborn', { command: 'sh', args: ['-c', `trap '' TERM; setsid sleep 60 & echo $! > '${pids}'; exec sleep 60`] });
    const plain = await host.spawn('plain', { command: 'sleep', args: ['60'] });
    const third = await host.spawn('third', { command: 'sleep', args: ['60'] });
    // Settled handlers attached at once, so a failing assertion below leaves no unhandled rejection.
    const waiting = host.spawn('waiting', { command: 'sleep', args: ['60'] }).catch((error: unknown) => error);
    const also = host.spawn('also-waiting', { command: 'sleep', args: ['60'], signal: new AbortController().signal }).catch((error: unknown) => error);
    await waitFor(() => readPids(pids).length === 1);
    // A graceful kill still in its grace period when dispose() comes.
    const stubbornKill = host.kill('stubborn');
    await waitFor(() => stubborn.state === 'stopping');
    expect(childNames(agentsRoot)).toEqual(['plain', 'stubborn', 'third']);
    expect(host.status().counts).toMatchObject({ running: 2, stopping: 1, queued: 2 });

    const started = Date.now();
    await host.dispose();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await waiting).toMatchObject({ code: ErrorCode.HOST_DISPOSED });
    expect(await also).toMatchObject({ code: ErrorCode.HOST_DISPOSED });
    expect((await stubbornKill).reason).toBe('killed');
    expect((await plain.result).reason).toBe('killed');
    expect((await third.result).reason).toBe('killed');
    expect(alive([stubborn.pid!, plain.pid!, third.pid!, polite.pid!, ...readPids(pids)])).toEqual([]);
    expect(leftovers(agentsRoot)).toEqual({ cgroups: agentsRoot.dirs, pids: [] });
    expect(records(stateDir)).toEqual([]);
    expect(host.listenerCount('exit')).toBe(0);
    await host.dispose();
    await expect(host.spawn('late', { command: 'true' })).rejects.toMatchObject({ code: ErrorCode.HOST_DISPOSED });
    await backToBaseline(baseline);
  });
});
