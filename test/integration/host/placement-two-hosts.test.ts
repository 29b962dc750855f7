/**
 * Two orchestrators on one cgroup v1 machine, each in its own memory cgroup but sharing one pids
 * and one freezer cgroup (as every process at "/" of those hierarchies does on a hybrid host):
 * both run agents agent-1…agent-3, neither sees nor touches the other's, both dispose, nothing of
 * either is left. v1 only: on v2 a process has one cgroup, so two hosts in two cgroups never share.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/index.js';
import { leftovers, testParent } from '../../helpers/cgroups.js';
import { skipIf } from '../../helpers/kernel.js';
import { finishOrchestrator } from './fixtures/client.js';
import type { OrchestratorConfig } from './fixtures/orchestrator.js';
import { parseProcCgroup, startOrchestrator, tempDir } from './harness.js';

const parent = testParent('two-hosts');
const AGENTS: OrchestratorConfig['agents'] = ['agent-1', 'agent-2', 'agent-3'].map((id) => ({ id, command: 'sleep', args: ['60'] }));

/** Wraps the orchestrator's command so it starts in `memory` (memory hierarchy) and `shared` (the others). */
const inside = (memory: Cgroup, shared: Cgroup) => (command: string[]): string[] => {
  const writes = [`echo $$ > ${join(memory.location.memory!, 'cgroup.procs')}`, ...(['pids', 'freezer'] as const).map((key) => `echo $$ > ${join(shared.location[key]!, 'cgroup.procs')}`)];
  return ['sh', '-c', `${writes.join(' && ')} && exec "$@"`, 'sh', ...command];
};

const subdirs = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

describe('two hosts side by side on cgroup v1', () => {
  it('each with agent-1…agent-3: both run, neither sees the other, both dispose, nothing is left', async (ctx) => {
    skipIf(ctx, Cgroup.self().version !== 1 && 'two hosts share a cgroup only on v1 (one cgroup per hierarchy)');
    const shared = Cgroup.create(parent, 'shared');
    const memoryA = Cgroup.create(parent, 'host-a');
    const memoryB = Cgroup.create(parent, 'host-b');
    const a = await startOrchestrator({ agents: AGENTS, stateDir: join(tempDir('a'), 'state'), untilStdinEnds: true }, inside(memoryA, shared));
    const b = await startOrchestrator({ agents: AGENTS, stateDir: join(tempDir('b'), 'state'), untilStdinEnds: true }, inside(memoryB, shared));

    // Each host's root in the shared pids and freezer cgroup is its own, holding only its agents.
    expect(a.report.root).toBe(join(memoryA.location.memory!, 'nova-agents'));
    expect(b.report.root).toBe(join(memoryB.location.memory!, 'nova-agents'));
    for (const key of ['pids', 'freezer'] as const) {
      const roots = subdirs(shared.location[key]!);
      expect(roots).toHaveLength(2);
      for (const root of roots) expect(subdirs(join(shared.location[key]!, root))).toEqual(['agent-1', 'agent-2', 'agent-3']);
    }
    const pidsOf = (report: typeof a.report): string[] => Object.values(report.agents).map((agent) => parseProcCgroup(agent.procCgroup).pids!);
    expect(new Set([...pidsOf(a.report), ...pidsOf(b.report)]).size).toBe(6);
    expect(Object.keys(a.report.agents)).toEqual(['agent-1', 'agent-2', 'agent-3']);
    expect(Object.keys(b.report.agents)).toEqual(['agent-1', 'agent-2', 'agent-3']);

    // B goes first: A's agents run on, untouched.
    const doneB = await finishOrchestrator(b.child, b.lines);
    expect(doneB).toMatchObject({ code: 0, done: { rootExists: false, agentsLeft: [] } });
    expect(subdirs(shared.location.pids!)).toHaveLength(1);
    for (const agent of Object.values(a.report.agents)) expect(() => process.kill(agent.pid!, 0)).not.toThrow();
    const doneA = await finishOrchestrator(a.child, a.lines);
    expect(doneA).toMatchObject({ code: 0, done: { rootExists: false, agentsLeft: [] } });

    for (const cgroup of [shared, memoryA, memoryB]) {
      for (const key of ['memory', 'pids', 'freezer'] as const) expect(subdirs(cgroup.location[key]!), `${key} of ${cgroup.path}`).toEqual([]);
    }
    expect(leftovers(shared).pids).toEqual([]);
  });
});
