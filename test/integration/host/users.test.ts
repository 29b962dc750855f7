/**
 * An agent with the defaults under a root orchestrator runs as its own dynamic user and cannot
 * leave its box (issue #17; the table is in docs/reliability.md): it cannot raise its own limits
 * (which hold: 200 MB under 64M is an OOM kill), move itself to its parent's or the root's
 * cgroup, signal a neighbour or the orchestrator, or read a neighbour's workspace or the state
 * directory; its own workspace, HOME and /tmp work (a file, `git init`, a `node` script).
 * Natively on cgroup v1 here, and on v2 in the VM.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Cgroup, DynamicUsers } from '../../../src/index.js';
import { hasCommand } from '../../helpers/kernel.js';
import { waitFor } from '../../helpers/wait.js';
import { SMALL, startHost, tempDir, untilFile } from './harness.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/escape-attempts.mjs', import.meta.url));
const root = process.getuid?.() === 0;
const v2 = Cgroup.self().version === 2;
const DENIED = ['EACCES', 'EPERM'];

describe.skipIf(!root || !hasCommand('git'))('agents of their own users (root orchestrator, defaults)', () => {
  it('cannot raise their limits, leave their cgroup, signal others or read their files; their own places work; the limit holds', async () => {
    const { host, root: agentsRoot, dir, stateDir } = await startHost({ workspaces: { root: join(tempDir('ws'), 'pool'), slots: 3 } });
    const stop = join(dir, 'stop');
    const neighbour = await host.spawn('neighbour', { command: 'sh', args: untilFile(stop, 'echo secret > secret.txt; '), workspace: true });
    await waitFor(() => neighbour.workspace !== undefined && statSync(join(neighbour.workspace, 'secret.txt'), { throwIfNoEntry: false }));

    const mount = (key: 'unified' | 'memory' | 'pids'): string => agentsRoot.hierarchy.mounts[key]!;
    const results = join(dir, 'results.json');
    const cgroupOf = (id: string): Cgroup => agentsRoot.child(id);
    const own = cgroupOf('prober');
    const limitFiles = v2
      ? ['memory.max', 'memory.high', 'memory.swap.max', 'pids.max'].map((f) => join(own.path, f))
      : ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes']
          // memsw exists only with swap accounting: as in the agents' root, so in the agent's own cgroup.
          .filter((f) => statSync(join(agentsRoot.location.memory!, f), { throwIfNoEntry: false }))
          .map((f) => join(own.location.memory!, f))
          .concat(join(own.location.pids!, 'pids.max'));
    const procsFiles = v2
      ? [join(agentsRoot.path, 'cgroup.procs'), join(mount('unified'), 'cgroup.procs')]
      : (['memory', 'pids'] as const).flatMap((key) => [
          join(agentsRoot.location[key]!, 'cgroup.procs'),
          join(agentsRoot.location[key]!, 'tasks'),
          join(mount(key), 'tasks'),
        ]);
    const plan = {
      limitFiles,
      procsFiles,
      neighbourPid: neighbour.pid,
      neighbourId: 'neighbour',
      orchestratorPid: process.pid,
      neighbourWorkspace: neighbour.workspace,
      stateDir,
      results,
    };
    const prober = await host.spawn('prober', { command: process.execPath, args: [FIXTURE, JSON.stringify(plan)], workspace: true, limits: SMALL });
    const result = await prober.result;
    const seen = JSON.parse(readFileSync(results, 'utf8')) as Record<string, string | number>;
    process.stderr.write(`[users] cgroup v${agentsRoot.version}: ${JSON.stringify(seen, null, 1)}\n`);

    // Denied: its limits, any way out of its cgroup, other processes, other files.
    expect(limitFiles.length).toBeGreaterThanOrEqual(3);
    for (const file of limitFiles) expect(DENIED, file).toContain(seen[`raise ${file}`]);
    for (const file of procsFiles) expect(DENIED, file).toContain(seen[`join ${file}`]);
    expect(seen['signal neighbour']).toBe('EPERM');
    expect(seen['signal orchestrator']).toBe('EPERM');
    for (const what of ['list neighbour workspace', 'read neighbour file', 'list state dir', 'read state record']) expect(seen[what], what).toBe('EACCES');
    // Allowed: its own places and tools.
    for (const what of ['write workspace', 'write home', 'write tmp', 'git init', 'node script']) expect(seen[what], what).toBe('ok');
    expect(seen.groups).toBe('');
    expect(seen.uid).toBeGreaterThanOrEqual(200_000);
    // The limit held: 200 MB under 64M was an OOM kill.
    expect(result.reason).toBe('oom');
    expect(result.peakMemory).toBeLessThanOrEqual(64 * 2 ** 20 + 2 ** 20);
    expect(neighbour.state).toBe('running');

    // An agent without a workspace has a HOME of its own (its user's, 0700), gone when it ends.
    const homed = await host.spawn('homed', { command: 'sh', args: ['-c', 'test "$(pwd)" = "$HOME" && echo x > "$HOME/f" && cat "$HOME/f" >/dev/null && echo "$HOME"'], stdio: ['ignore', 'pipe', 'ignore'] });
    let home = '';
    homed.stdout?.setEncoding('utf8').on('data', (chunk: string) => (home += chunk));
    expect((await homed.result).exitCode).toBe(0);
    expect(home.trim()).toMatch(/^\/run\/nova-agent-homes\/homed-/);
    expect(statSync(home.trim(), { throwIfNoEntry: false })).toBeUndefined();

    // exec() into a live agent runs as that agent's user, HOME its workspace: never a root process in its cgroup.
    expect(neighbour.user).toMatchObject({ dynamic: true, uid: expect.any(Number) });
    expect(neighbour.user!.uid).toBeGreaterThanOrEqual(200_000);
    const probe = await host.exec('neighbour', 'sh', ['-c', 'echo "$(id -u) $(id -g) $HOME"'], { stdio: ['ignore', 'pipe', 'ignore'], buffer: true });
    expect(probe.stdout).toBe(`${neighbour.user!.uid} ${neighbour.user!.gid} ${neighbour.workspace}`);

    await host.kill('neighbour', { force: true });
    // Every uid this orchestrator leased is free again (the lease directory is machine-wide).
    expect([...new DynamicUsers().leases().values()].filter((lease) => lease.pid === process.pid)).toEqual([]);
  });
});
