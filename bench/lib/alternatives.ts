/**
 * The spawn path the library had up to 0.0.0's last commit, kept so the bench can show it beside
 * the current one: execa starting a `/bin/sh` shim that writes its pid to `cgroup.procs` and then
 * execs the command, and `joined()` polling `cgroup.procs` until the shim has joined (on every
 * event-loop turn for 2 ms, then every 1 ms). The library now forks from inside an empty cgroup
 * with `node:child_process`, and keeps a shim (without execa) only for busy cgroups.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { Cgroup } from '../../src/index.js';

/** The join shim (src/cgroup/join.ts). */
export const SHIM = `while [ "$1" != -- ]; do echo $$ >"$1" || { echo "nova-agent-host: cannot join cgroup ($1)" >&2; exit 125; }; shift; done; shift; exec "$@"`;

export function procsFiles(cgroup: Cgroup): string[] {
  return cgroup.dirs.map((dir) => join(dir, 'cgroup.procs'));
}

/** The previous `cgroup.spawn()`: execa + the shim, with the options join.ts passed. */
export function execaShimSpawn(cgroup: Cgroup, command: string, args: readonly string[] = []) {
  return execa('/bin/sh', ['-c', SHIM, 'nova-join', ...procsFiles(cgroup), '--', command, ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG },
    extendEnv: false,
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: true,
    reject: false,
    buffer: false,
    cleanup: false,
  });
}

/** The previous `joined()`: poll the last hierarchy's cgroup.procs until the pid shows or the process ends. */
export async function polledJoined(cgroup: Cgroup, subprocess: { pid?: number; exitCode: number | null; signalCode: string | null }): Promise<void> {
  const file = procsFiles(cgroup).at(-1)!;
  const spinUntil = performance.now() + 2;
  while (subprocess.exitCode === null && subprocess.signalCode === null) {
    if (readFileSync(file, 'utf8').split('\n').includes(String(subprocess.pid))) return;
    await (performance.now() < spinUntil ? new Promise((resolve) => setImmediate(resolve)) : sleep(1));
  }
}
