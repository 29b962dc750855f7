/**
 * The join path as it was before the exec-notify change (commit 7f79737 and earlier), kept so the
 * bench can measure before and after side by side in one run: execa runs the `sh` shim, which
 * joins and execs; the parent learns of the join by polling cgroup.procs (setImmediate 20 times,
 * then every 1 ms).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { whenSpawned, type Cgroup, type Subprocess } from '../../src/index.js';

export const POLLING_SHIM = `while [ "$1" != -- ]; do echo $$ >"$1" || { echo "nova-agent-host: cannot join cgroup ($1)" >&2; exit 125; }; shift; done; shift; exec "$@"`;

export function procsFiles(cgroup: Cgroup): string[] {
  return cgroup.dirs.map((dir) => join(dir, 'cgroup.procs'));
}

/** spawnJoined() as it was: the same execa options, the same shim, no notify pipe. */
export function legacySpawn(cgroup: Cgroup, command: string, args: readonly string[] = []): Subprocess {
  return execa('/bin/sh', ['-c', POLLING_SHIM, 'nova-join', ...procsFiles(cgroup), '--', command, ...args], {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG },
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'ignore',
    detached: true,
    reject: false,
    buffer: false,
    cleanup: false,
  }) as unknown as Subprocess;
}

/** Cgroup.joined() as it was: poll the last hierarchy's cgroup.procs until the pid shows. */
export async function legacyJoined(cgroup: Cgroup, subprocess: Subprocess): Promise<number> {
  const pid = await whenSpawned(subprocess);
  const file = procsFiles(cgroup).at(-1)!;
  for (let round = 0; subprocess.exitCode === null && subprocess.signalCode === null; round++) {
    if (readFileSync(file, 'utf8').split('\n').includes(String(pid))) return pid;
    await (round < 20 ? new Promise((resolve) => setImmediate(resolve)) : sleep(1));
  }
  return pid;
}
