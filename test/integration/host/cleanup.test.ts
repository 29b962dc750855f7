/**
 * Nothing left over, nothing orphaned: 100 agents spawned and reaped; dispose() with agents running,
 * queued and in a graceful kill (no cgroups, no records, no processes, no handles or timers); and
 * reattach — an orchestrator process spawns agents and dies by SIGKILL, a new AgentHost on the same
 * root and state directory adopts the live agents (status, kill, exit noticed) and cleans up the
 * dead ones: cgroups, records and workspace leases.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, DynamicUsers, ErrorCode, type Agent, type AgentResult, type AgentUserRecord } from '../../../src/index.js';
import { leftovers } from '../../helpers/cgroups.js';
import { waitFor } from '../../helpers/wait.js';
import { alive, anyDirExists, childNames, defer, kernelProcs, readPids, SMALL, startOrchestrator, tempDir, testRoot, untilFile } from './harness.js';

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

/** What the state directory holds but the learned peaks (`profiles/`), which are meant to outlive the agents. */
function records(stateDir: string): string[] {
  return existsSync(stateDir) ? readdirSync(stateDir).filter((name) => name !== 'profiles') : [];
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

describe('reattach', () => {
  it('a new host adopts what a SIGKILLed orchestrator left running, kills it, notices its exit, and cleans the dead', async () => {
    const root = testRoot('reattach');
    const dir = tempDir('reattach');
    const stateDir = join(dir, 'state');
    const wsRoot = join(dir, 'ws');
    const flag = (name: string): string => join(dir, name);
    const forkerPids = flag('forker-pids');
    const { child, report } = await startOrchestrator({
      cgroupRoot: root.location,
      stateDir,
      workspaces: { root: wsRoot, slots: 4 },
      limits: SMALL,
      agents: [
        { id: 'keeper', command: 'sleep', args: ['300'], workspace: true },
        { id: 'finisher', command: 'sh', args: untilFile(flag('stop-finisher')), workspace: true },
        { id: 'short', command: 'sh', args: untilFile(flag('stop-short')), workspace: true },
        {
          id: 'forker',
          command: 'sh',
          args: ['-c', `setsid sleep 300 & echo $! > '${forkerPids}'; sleep 300 & echo $! >> '${forkerPids}'; wait`],
        },
      ],
    });
    const ids = ['finisher', 'forker', 'keeper', 'short'];
    expect(Object.keys(report.agents).sort()).toEqual(ids);
    await waitFor(() => readPids(forkerPids).length === 2);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The agents outlive their orchestrator, in their cgroups, with their records.
    for (const id of ids) {
      expect(alive([report.agents[id]!.pid!]), id).toHaveLength(1);
      expect(kernelProcs(root.child(id))).toContain(report.agents[id]!.pid);
    }
    expect(readdirSync(stateDir).filter((f) => f.endsWith('.json')).sort()).toEqual(ids.map((id) => `${id}.json`));
    // As root, each ran as a dynamic user of its own, kept in its record (the one without a workspace with a HOME).
    const users = new DynamicUsers();
    const userOf = (id: string): AgentUserRecord | undefined => (JSON.parse(readFileSync(join(stateDir, `${id}.json`), 'utf8')) as { user?: AgentUserRecord }).user;
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      for (const id of ids) {
        const user = userOf(id)!;
        expect(user, id).toMatchObject({ dynamic: true, gid: user.uid });
        expect(readFileSync(`/proc/${report.agents[id]!.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${user.uid}\\s`, 'm'));
        expect(users.leases().get(user.uid)?.agent).toBe(id);
      }
      expect(existsSync(userOf('forker')!.home!)).toBe(true);
    }
    const forkerHome = userOf('forker')?.home;
    const uids = new Map(ids.map((id) => [id, userOf(id)?.uid]));

    // One dies while no orchestrator watches.
    writeFileSync(flag('stop-short'), '');
    await waitFor(() => kernelProcs(root.child('short')).length === 0, { message: 'short ended' });
    expect(childNames(root)).toEqual(ids);

    const host = new AgentHost({ cgroupRoot: root, stateDir, workspaces: { root: wsRoot, slots: 4 }, limits: SMALL, killGrace: 200, pollInterval: 100 });
    defer(() => host.dispose());
    const adopted: Agent[] = [];
    host.on('adopt', (agent) => adopted.push(agent));
    await host.start();

    const live = ['finisher', 'forker', 'keeper'];
    expect(adopted.map((a) => a.id).sort()).toEqual(live);
    // The dead one is cleaned up: cgroup, record, lease.
    expect(anyDirExists(root.child('short'))).toBe(false);
    expect(childNames(root)).toEqual(live);
    expect(existsSync(join(stateDir, 'short.json'))).toBe(false);
    const leases = host.workspaces!.leases();
    expect([...leases.values()].map((l) => l.agent).sort()).toEqual(['finisher', 'keeper']);
    for (const lease of leases.values()) expect(lease.pid).toBe(process.pid);
    // The live ones' uid leases are this host's now; the dead one's uid is free.
    if (asRoot) {
      for (const id of live) expect(users.leases().get(uids.get(id)!)).toEqual({ pid: process.pid, agent: id });
      expect(users.leases().has(uids.get('short')!)).toBe(false);
    }

    // They appear in status() with the kernel's figures.
    const status = host.status();
    expect(status.counts.running).toBe(3);
    for (const id of live) {
      const row = status.agents.find((r) => r.id === id)!;
      expect(row).toMatchObject({ state: 'running', pid: report.agents[id]!.pid });
      expect(row.pids).toBeGreaterThanOrEqual(1);
      expect(row.current).toBeGreaterThan(0);
      expect(host.get(id)!.workspace).toBe(report.agents[id]!.workspace);
    }

    // Killed through the new host: every process, including a setsid escapee, and the cgroup.
    const forker = host.get('forker')!;
    const forced = await host.kill('forker', { force: true });
    expect(forced.reason).toBe('killed');
    expect(alive([report.agents.forker!.pid!, ...readPids(forkerPids)])).toEqual([]);
    expect(anyDirExists(forker.cgroup!)).toBe(false);
    const graceful = await host.kill('keeper');
    expect(graceful.reason).toBe('killed');
    expect(alive([report.agents.keeper!.pid!])).toEqual([]);

    // An exit on its own is noticed: cgroup, record and lease go.
    const finisher = host.get('finisher')!;
    writeFileSync(flag('stop-finisher'), '');
    const result = await finisher.result;
    expect(result).toMatchObject({ id: 'finisher', reason: 'exit' });
    expect(anyDirExists(finisher.cgroup!)).toBe(false);

    expect(childNames(root)).toEqual([]);
    expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toEqual([]);
    expect(host.workspaces!.leases().size).toBe(0);
    // Their users went with them: no uid lease of this host, the forker's HOME removed.
    if (asRoot) {
      expect([...users.leases().values()].filter((lease) => lease.pid === process.pid)).toEqual([]);
      expect(existsSync(forkerHome!)).toBe(false);
    }
    expect(host.agents()).toEqual([]);
    await host.dispose();
    expect(records(stateDir)).toEqual([]);
  }, 180_000);
});
