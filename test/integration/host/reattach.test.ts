/**
 * Reattach: an orchestrator process spawns agents and dies by SIGKILL; a new AgentHost on the
 * same root and state directory adopts the live agents (status, kill, exit noticed) and cleans
 * up the dead ones — cgroups, records and workspace leases.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, type Agent } from '../../../src/index.js';
import { waitFor } from '../../helpers/wait.js';
import { alive, anyDirExists, childNames, defer, kernelProcs, readPids, SMALL, startOrchestrator, tempDir, testRoot, untilFile } from './harness.js';

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
    expect(host.agents()).toEqual([]);
    await host.dispose();
    expect(readdirSync(stateDir)).toEqual([]);
  }, 180_000);
});
