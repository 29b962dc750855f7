/**
 * Scenario 5: the orchestrator is SIGKILLed mid-run — while it spawns and reaps short agents —
 * and a new process reattaches: it adopts every live agent ('adopt', status()), kills them on
 * demand (escaped processes included), cleans up the dead ones, and leaves no cgroup, no record,
 * no workspace lease and no process behind.
 */
import { randomInt } from 'node:crypto';
import { readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AgentHost, Cgroup, type Agent } from '../../src/index.js';
import { skipIf } from '../helpers/kernel.js';
import { waitFor } from '../helpers/wait.js';
import type { OrchestratorConfig, OrchestratorReady } from './fixtures/orchestrator.js';
import { agentsRoot, alive, cgroupTree, defer, IN_VM, processesIn, processesWith, readPids, runFixture, scratch, SMALL, v2 } from './helpers.js';

const ROUNDS = IN_VM ? 1 : 3;

describe('5. orchestrator killed with SIGKILL mid-run', () => {
  it(`a new host adopts the live agents, kills them on demand and cleans the dead (${ROUNDS} rounds, random kill moments)`, { timeout: 180_000 }, async () => {
    for (let round = 0; round < ROUNDS; round++) await crashAndReattach(round);
  });
});

describe('5b. a cgroup half removed by a crash', () => {
  it('v1: gone from the memory hierarchy but still in pids/freezer, it is found and removed on reattach', async (ctx) => {
    skipIf(ctx, v2() && 'cgroup v2 removes a cgroup with one rmdir: nothing can be half removed');
    const root = agentsRoot('halfgone');
    const stateDir = join(scratch('halfgone'), 'state');
    const half = Cgroup.create(root, 'half-removed', { limits: SMALL });
    // What an orchestrator killed between its rmdirs leaves behind.
    rmdirSync(half.location.memory!);
    expect(cgroupTree(root).filter((d) => d.includes('half-removed')).length).toBeGreaterThan(0);
    const host = new AgentHost({ cgroupRoot: root, stateDir, limits: SMALL });
    defer(() => host.dispose());
    const adopted: string[] = [];
    host.on('adopt', (agent) => adopted.push(agent.id));
    await host.start();
    expect(adopted).toEqual([]);
    expect(cgroupTree(root).filter((d) => !d.endsWith(':.'))).toEqual([]);
    await host.dispose();
  });
});

async function crashAndReattach(round: number): Promise<void> {
  const root = agentsRoot(`crash${round}`);
  const dir = scratch('crash');
  const stateDir = join(dir, 'state');
  const workspaces = { root: join(dir, 'ws'), slots: 6 };
  const flag = (name: string): string => join(dir, name);
  const marker = `${4000 + round}.${randomInt(100_000, 999_999)}`;
  const escaped = flag('escaped');
  const config: OrchestratorConfig = {
    cgroupRoot: root.location,
    stateDir,
    workspaces,
    limits: SMALL,
    churn: true,
    agents: [
      { id: 'keeper', command: 'sleep', args: ['300'], workspace: true },
      {
        id: 'escaper',
        command: 'sh',
        args: ['-c', `setsid -f sh -c 'echo $$ > ${escaped}; exec sleep ${marker}'; while :; do sleep 0.2; done`],
        workspace: true,
      },
      { id: 'finisher', command: 'sh', args: ['-c', `while [ ! -e '${flag('stop-finisher')}' ]; do sleep 0.1; done`], workspace: true },
    ],
  };
  const orchestrator = runFixture('orchestrator.ts', config);
  const ready = await orchestrator.line<OrchestratorReady>('READY');
  await waitFor(() => readPids(escaped).length === 1, { message: 'the escaper hid a process' });
  // Mid-run: after a few churn rounds, at a random moment within one.
  await waitFor(() => orchestrator.lines.some((l) => l === `CHURN ${IN_VM ? 2 : 6}`), { timeout: 60_000, message: 'churn started' });
  await sleep(randomInt(0, 40));
  orchestrator.child.kill('SIGKILL');
  await orchestrator.exited;

  // Its agents outlive it, in their cgroups.
  const long = ['keeper', 'escaper'];
  for (const id of [...long, 'finisher']) expect(alive([ready.agents[id]!.pid!]), id).toHaveLength(1);
  // One ends while nobody watches; a churn agent caught mid-start finishes too (it runs `true`).
  writeFileSync(flag('stop-finisher'), '');
  await waitFor(() => root.children().every((c) => long.includes(c.name) || processesIn(c).length === 0), {
    message: 'only the long agents still hold processes',
  });

  const host = new AgentHost({ cgroupRoot: root, stateDir, workspaces, limits: SMALL, killGrace: 200, pollInterval: 100 });
  defer(() => host.dispose());
  const adopted: Agent[] = [];
  host.on('adopt', (agent) => adopted.push(agent));
  const errors: Error[] = [];
  host.on('error', (error) => errors.push(error));
  await host.start();

  // Every live agent adopted, every dead one cleaned: cgroup, record and workspace lease.
  expect(adopted.map((a) => a.id).sort()).toEqual([...long].sort());
  expect(root.children().map((c) => c.name).sort()).toEqual([...long].sort());
  expect(readdirSync(stateDir).filter((f) => f.endsWith('.json')).sort()).toEqual(long.map((id) => `${id}.json`).sort());
  const leases = host.workspaces!.leases();
  expect([...leases.values()].map((l) => `${l.agent}:${l.pid}`).sort(), 'leases after reattach').toEqual(
    long.map((id) => `${id}:${process.pid}`).sort(),
  );
  const status = host.status();
  for (const id of long) {
    expect(status.agents.find((row) => row.id === id), id).toMatchObject({ state: 'running', pid: ready.agents[id]!.pid });
    expect(host.get(id)!.workspace).toBe(ready.agents[id]!.workspace);
  }

  // Killed on demand: gracefully and forcibly; the setsid escapee goes with its agent.
  expect((await host.kill('keeper')).reason).toBe('killed');
  expect((await host.kill('escaper', { force: true })).reason).toBe('killed');
  expect(alive([...long.map((id) => ready.agents[id]!.pid!), ...readPids(escaped)])).toEqual([]);
  expect(processesWith(marker)).toEqual([]);
  expect(processesIn(root)).toEqual([]);
  expect(root.children()).toEqual([]);
  expect(host.workspaces!.leases().size).toBe(0);
  expect(readdirSync(stateDir).filter((f) => f.endsWith('.json'))).toEqual([]);
  await host.dispose();
  // The learned peaks (`profiles/`) are meant to outlive the agents.
  expect(readdirSync(stateDir).filter((name) => name !== 'profiles')).toEqual([]);
  expect(errors).toEqual([]);
}
