/** Plain child processes for the comparisons (bare spawn, libcgroup tools, systemd-run). */
import { spawn, spawnSync } from 'node:child_process';

/** Spawns `command` with stdio ignored and resolves with its exit status once it is reaped. */
export function run(command: string, args: readonly string[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : 9)));
  });
}

/** Like {@link run}, but a non-zero status is an error that shows the tool's own message. */
export async function runOk(command: string, args: readonly string[] = []): Promise<void> {
  const status = await run(command, args);
  if (status === 0) return;
  const again = spawnSync(command, args, { encoding: 'utf8' });
  throw new Error(`${command} ${args.join(' ')} exited with ${status}: ${(again.stderr || again.stdout || '').trim()}`);
}

/** Whether `command` can be found on PATH. */
export function available(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
