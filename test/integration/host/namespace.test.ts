/**
 * cgroup v2 only: the whole host inside a new cgroup namespace with its own cgroup2 mount, as in a
 * container or a Kubernetes pod, where the pod's cgroup is the root the orchestrator sees. Without
 * `cgroupRoot` the host must take placement's delegated path: move itself into a `supervisor`
 * leaf (memory.min) and create its agents' root beside it — and agents are isolated there too.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/index.js';
import { hasCommand, kernelStackBytes, skipIf } from '../../helpers/kernel.js';
import { cgroupsOf, isAlive } from '../../helpers/procs.js';
import { calmAndHog, finishOrchestrator } from './fixtures/client.js';
import { anyDirExists, kernelFile, kernelOomKills, SMALL, startOrchestrator, tempDir, testRoot } from './harness.js';

describe('cgroup namespace', () => {
  it('a host in its own cgroup namespace (a pod) places agents below a supervisor leaf and isolates them', async (ctx) => {
    skipIf(ctx, Cgroup.self().version !== 2 && 'needs cgroup v2 (a cgroup2 mount of its own in the namespace); run it in the VM');
    skipIf(ctx, !hasCommand('unshare') && 'unshare(1) is not installed');
    const pod = testRoot('pod');
    const stateDir = join(tempDir('pod'), 'state');
    // Into the pod's cgroup first, then a new cgroup namespace rooted there, with its own mount (the
    // kernel refuses a second cgroup2 mount on top of the first: EBUSY, so the old one goes first).
    const wrap = [
      'sh',
      '-c',
      `echo $$ > '${pod.path}/cgroup.procs' && exec unshare --cgroup --mount sh -c 'umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' inner "$@"`,
      'outer',
    ];
    const { child, report, lines } = await startOrchestrator(
      {
        stateDir,
        limits: SMALL,
        agents: calmAndHog(),
        awaitResults: ['hog'],
        untilStdinEnds: true,
      },
      wrap,
    );
    const outside = (path: string): string => `/${pod.name}${path === '/' ? '' : path}`;

    // Inside, the pod's cgroup is the root: the host took the delegated path.
    expect(report.root).toBe('/sys/fs/cgroup/nova-agents');
    expect(report.supervisor).toBe('/sys/fs/cgroup/supervisor');
    expect(report.selfCgroup.trim()).toBe('0::/supervisor');
    expect(report.agents.calm!.procCgroup.trim()).toBe('0::/nova-agents/calm');
    expect(report.agents.calm!.memoryMax).toBe(String(64 * 1024 ** 2));

    // Outside, the kernel agrees: the orchestrator in <pod>/supervisor, the agent in <pod>/nova-agents/calm.
    expect(cgroupsOf(report.pid)?.unified).toBe(outside('/supervisor'));
    const calmPid = report.agents.calm!.pid!;
    expect(cgroupsOf(calmPid)?.unified).toBe(outside('/nova-agents/calm'));
    const supervisor = pod.child('supervisor');
    const agentsRoot = pod.child('nova-agents');
    expect(kernelFile(supervisor, 'memory.min')).toBe(String(128 * 1024 ** 2));
    expect(kernelFile(agentsRoot.child('calm'), 'memory.max')).toBe(String(64 * 1024 ** 2));
    // Forked from inside (the orchestrator stepped out of its supervisor leaf): the agent's kernel stack is charged to it.
    expect(kernelStackBytes(agentsRoot.child('calm').path)).toBeGreaterThan(0);
    // "No internal processes": the pod's cgroup itself holds none; its controllers reach the agents.
    expect(kernelFile(pod, 'cgroup.procs')).toBe('');
    expect(kernelFile(pod, 'cgroup.subtree_control').split(' ')).toEqual(expect.arrayContaining(['memory', 'pids']));

    // The hog was OOM-killed alone: the orchestrator and its neighbour live on.
    expect(report.results.hog).toMatchObject({ reason: 'oom' });
    expect(report.results.hog!.oomKills).toBeGreaterThanOrEqual(1);
    expect(anyDirExists(agentsRoot.child('hog'))).toBe(false);
    expect(kernelOomKills(agentsRoot)).toBe(report.results.hog!.oomKills);
    expect(kernelOomKills(agentsRoot.child('calm'))).toBe(0);
    expect(kernelOomKills(supervisor)).toBe(0);
    expect(isAlive(calmPid)).toBe(true);
    expect(isAlive(report.pid)).toBe(true);

    // Disposing inside the namespace removes what the host made there.
    const { code, done } = await finishOrchestrator(child, lines);
    expect(code).toBe(0);
    expect(done).toEqual({ rootExists: false, agentsLeft: [] });
    expect(isAlive(calmPid)).toBe(false);
    expect(anyDirExists(agentsRoot)).toBe(false);
  }, 180_000);
});
