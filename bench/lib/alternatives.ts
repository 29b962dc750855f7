/**
 * The exec-notify join wait, tried in commit 393f0b3 and reverted in 8d87cb0: the shim closes an
 * extra pipe (fd 3) as it execs the command, and the parent awaits that pipe's EOF instead of
 * polling cgroup.procs. Kept here so the bench shows why: through execa the extra pipe costs more
 * CPU per spawn than the polling it saves, which a burst pays 300 times.
 */
import type { Readable } from 'node:stream';
import { join } from 'node:path';
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
