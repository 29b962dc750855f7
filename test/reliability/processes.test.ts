/**
 * Scenarios 2 and 3: agents that misbehave with processes.
 * 2. A fork bomb is capped at pids.max (pids.events `max` > 0); the host and the neighbours
 *    keep forking; the bomb is still killable.
 * 3. Escape attempts — setsid, double fork, daemonizing, nohup, ignoring SIGTERM, a sub-cgroup
 *    of its own — all die with the agent, whichever way it ends; no process is left, by its pid,
 *    by its command line, or by /proc/<pid>/cgroup.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_CGROUP_ENV } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { alive, IN_VM, kernelKey, processesIn, processesWith, readPids, startHost, untilFile, v2 } from './helpers.js';

describe('2. fork bomb', () => {
  it('is capped at pids.max; neighbours and the host still fork; the bomb is killed, nothing left', async () => {
    const pidsMax = 32;
    const { host, dir } = await startHost({}, 'forkbomb');
    const stop = join(dir, 'stop');
    const waiting = await host.spawn('waiting', { command: 'sh', args: untilFile(stop) });
    // The classic bomb: each function call pipes two more into the background. `exec` keeps the
    // main process alive without forking (a failed fork would end a shell).
    const bomb = await host.spawn('bomb', { command: 'sh', args: ['-c', 'b() { b | b & }; b; exec sleep 300'], limits: { pidsMax } });
    const pidsDir = bomb.cgroup!.location[v2() ? 'unified' : 'pids']!;
    await waitFor(() => kernelKey(pidsDir, 'pids.events', 'max') > 0, { timeout: 30_000, message: 'pids.events max > 0' });
    const stats = bomb.stats()!;
    expect(stats.pids.max).toBe(pidsMax);
    expect(stats.pids.current).toBeLessThanOrEqual(pidsMax);
    expect(stats.pids.events.max).toBeGreaterThan(0);

    // While the bomb sits at its cap: the orchestrator forks, new agents start and fork freely.
    expect(execFileSync('sh', ['-c', 'echo forked'], { encoding: 'utf8' }).trim()).toBe('forked');
    const forks = IN_VM ? 10 : 40;
    const neighbours = await Promise.all(
      [0, 1, 2].map((i) =>
        host.spawn(`neighbour-${i}`, { command: 'sh', args: ['-c', `i=0; while [ $i -lt ${forks} ]; do /bin/true || exit 9; i=$((i+1)); done`] }),
      ),
    );
    for (const result of await Promise.all(neighbours.map((n) => n.result))) expect(result).toMatchObject({ reason: 'exit', exitCode: 0 });
    expect(waiting.state).toBe('running');
    expect(kernelKey(waiting.cgroup!.location[v2() ? 'unified' : 'pids']!, 'pids.events', 'max')).toBe(0);

    // Killable, gracefully (SIGTERM while it forks, then the cgroup kill), leaving nothing.
    const cgroup = bomb.cgroup!;
    const result = await host.kill('bomb');
    expect(result.reason).toBe('killed');
    expect(processesIn(cgroup)).toEqual([]);
    expect(cgroup.exists()).toBe(false);
    writeFileSync(stop, '');
    expect((await waiting.result).reason).toBe('exit');
  });
});

describe('3. escape attempts', () => {
  /** An agent that hides processes every way a shell can, each writing its pid and carrying a unique marker. */
  function escapist(dir: string, nested: boolean): { args: string[]; markers: string[]; pids: string } {
    const pids = join(dir, 'pids');
    const markers = Array.from({ length: 7 }, (_, i) => `${3000 + i}.${randomInt(100_000, 999_999)}`);
    const [m0, m1, m2, m3, m4, m5, m6] = markers;
    // Temp paths hold no spaces or quotes: the pid file needs no quoting at any nesting level.
    const hide = (marker: string): string => `echo $$ >> ${pids}; exec sleep ${marker}`;
    const script = [
      // A sub-cgroup of its own (root agents can make one): moves its next process there.
      nested
        ? `sub="$${AGENT_CGROUP_ENV}/hideout"; mkdir "$sub" && sh -c 'echo $$ > "$1/cgroup.procs"; ${hide(m6!)}' sh "$sub" &`
        : `sh -c '${hide(m6!)}' &`,
      `setsid -f sh -c '${hide(m0!)}'`,
      `nohup sh -c '${hide(m1!)}' >/dev/null 2>&1 &`,
      `( sh -c '${hide(m2!)}' & ) &`,
      // Double fork through another shell: $ escaped so that the innermost shell expands $$.
      `sh -c "( sh -c '${hide(m3!).replace(/\$/g, '\\$')}' & ) &"`,
      `setsid sh -c '${hide(m4!)}' </dev/null >/dev/null 2>&1 &`,
      // Ignores the graceful kill's SIGTERM (ignored dispositions survive exec).
      `sh -c 'trap "" TERM HUP INT; ${hide(m5!)}' &`,
    ].join('\n');
    return { args: ['-c', `${script}\nwhile [ ! -e '${join(dir, 'stop')}' ]; do sleep 0.1; done`], markers, pids };
  }

  const endings = [
    ['a graceful kill', false],
    ['a forced kill', false],
    ['the main process exiting on its own', false],
    ['a graceful kill, with a process hidden in a sub-cgroup the agent made', true],
  ] as const;

  it.each(endings)('all die with %s; no process left', async (ending, nested) => {
    const { host, dir } = await startHost({}, 'escape');
    const { args, markers, pids } = escapist(dir, nested);
    // Making a sub-cgroup takes the agent's user owning its cgroup: root (the opt-out), or a delegated
    // orchestrator's user, which its agents share. Running as its own user, mkdir there is refused.
    const agent = await host.spawn('escapist', { command: 'sh', args, ...(nested && { user: 'root' }) });
    const cgroup = agent.cgroup!;
    // Each wrote its pid, then exec'd its marked sleep.
    await waitFor(() => readPids(pids).length === markers.length && markers.every((m) => processesWith(m).length === 1), {
      message: 'every hidden process started',
    });
    const hidden = readPids(pids);
    expect(alive(hidden)).toEqual(hidden);
    // Every one of them is still inside the agent's cgroup (or below it), whatever it did.
    expect(processesIn(cgroup)).toEqual(expect.arrayContaining([agent.pid!, ...hidden]));

    const result =
      ending === 'a forced kill'
        ? await host.kill('escapist', { force: true })
        : ending === 'the main process exiting on its own'
          ? (writeFileSync(join(dir, 'stop'), ''), await agent.result)
          : await host.kill('escapist');
    expect(result.reason).toBe(ending === 'the main process exiting on its own' ? 'exit' : 'killed');
    expect(alive([agent.pid!, ...hidden])).toEqual([]);
    for (const marker of markers) expect(processesWith(marker), marker).toEqual([]);
    expect(processesIn(cgroup)).toEqual([]);
    expect(cgroup.exists()).toBe(false);
    expect(host.agents()).toEqual([]);
  });
});

describe('3b. a process started into an agent while it is being killed', () => {
  it('run() racing a kill: the late joiner dies too (or never runs), the cgroup is removed, no error', async () => {
    const { host } = await startHost({}, 'latejoin');
    const errors: Error[] = [];
    host.on('error', (error) => errors.push(error));
    for (let i = 0; i < (IN_VM ? 5 : 20); i++) {
      const holder = await host.spawn(`holder-${i}`, { command: 'sleep', args: ['300'] });
      const cgroup = holder.cgroup!;
      // Its join-before-exec shim is still on its way into the cgroup when the kill comes.
      const late = host.run(`holder-${i}`, 'sleep', ['300']);
      await holder.kill({ force: true });
      const outcome = await late;
      // Killed with the agent, or refused by the removed cgroup before its command ran (exit 125).
      expect([outcome.signal ?? `exit ${outcome.exitCode}`]).toEqual([expect.stringMatching(/^(SIGKILL|exit 125)$/)]);
      expect(processesIn(cgroup)).toEqual([]);
      expect(cgroup.dirs.filter((d) => existsSync(d))).toEqual([]);
    }
    expect(errors).toEqual([]);
  });
});
