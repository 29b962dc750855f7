/**
 * Join waits the library tried, kept so the bench can show them beside the current one:
 *
 * - `countSpinJoined`: Cgroup.joined() up to commit 64b64a9 — poll cgroup.procs on 20 event-loop
 *   turns, then every 1 ms. On a quiet loop the 20 turns last ~0.3 ms, less than the shim needs,
 *   so most spawns paid a 1 ms timer. Now joined() spins for 2 ms of wall time instead.
 * - `notifySpawn` + `notifyJoined`: the exec-notify pipe, tried in 393f0b3 and reverted in 8d87cb0 —
 *   the shim closes a 4th stdio pipe as it execs and the parent awaits its EOF. As fast as the
 *   timed spin in a sequential lifecycle, but a pipe and execa's stream machinery per spawn cost
 *   CPU that a burst on a loaded machine pays 300 times.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { whenSpawned, type Cgroup, type Subprocess } from '../../src/index.js';

/** The library's shim (src/cgroup/join.ts), closing fd 3 as it execs. */
export const NOTIFY_SHIM = `while [ "$1" != -- ]; do echo $$ >"$1" || { echo "nova-agent-host: cannot join cgroup ($1)" >&2; exit 125; }; shift; done; shift; exec "$@" 3>&-`;

export function procsFiles(cgroup: Cgroup): string[] {
  return cgroup.dirs.map((dir) => join(dir, 'cgroup.procs'));
}

/** spawnJoined() with the notify pipe: the same execa options plus a 4th stdio 'pipe'. */
export function notifySpawn(cgroup: Cgroup, command: string, args: readonly string[] = []): Subprocess {
  return execa('/bin/sh', ['-c', NOTIFY_SHIM, 'nova-join', ...procsFiles(cgroup), '--', command, ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG },
    extendEnv: false,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    detached: true,
    reject: false,
    buffer: false,
    cleanup: false,
  }) as unknown as Subprocess;
}

/** joined() with the notify pipe: the pid once the shim has exec'd the command (or ended). */
export async function notifyJoined(subprocess: Subprocess): Promise<number> {
  const pid = await whenSpawned(subprocess);
  const pipe = (subprocess.stdio as unknown as Readable[])[3]!;
  if (!pipe.readableEnded && !pipe.destroyed) {
    await new Promise<void>((resolve) => {
      pipe.once('end', resolve).once('close', resolve).once('error', () => resolve());
      pipe.resume();
    });
  }
  return pid;
}

/** Cgroup.joined() as it was: poll the last hierarchy's cgroup.procs on 20 turns, then every 1 ms. */
export async function countSpinJoined(cgroup: Cgroup, subprocess: Subprocess): Promise<number> {
  const pid = await whenSpawned(subprocess);
  const file = procsFiles(cgroup).at(-1)!;
  for (let round = 0; subprocess.exitCode === null && subprocess.signalCode === null; round++) {
    if (readFileSync(file, 'utf8').split('\n').includes(String(pid))) return pid;
    await (round < 20 ? new Promise((resolve) => setImmediate(resolve)) : sleep(1));
  }
  return pid;
}
