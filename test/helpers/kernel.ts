/**
 * What the kernel and the machine offer, for tests that skip (with a printed reason) only
 * where a feature is truly missing.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter, join } from 'node:path';

/** Whether `command` is an executable on PATH. */
export function hasCommand(command: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/**
 * Skips the running test when `reason` is a string, printing it (the reporter shows skip notes
 * only in some modes; the log always has it). Use: `skipIf(ctx, !feature && 'why')`.
 */
export function skipIf(ctx: { skip: (condition: boolean, note?: string) => void; task: { name: string } }, reason: string | false | undefined): void {
  if (!reason) return;
  process.stderr.write(`[skipped] ${ctx.task.name}: ${reason}\n`);
  ctx.skip(true, reason);
}

/**
 * The cgroup v2 test VM runs under software emulation here (node several times slower): timing
 * bounds that prove exactness natively get this much slack there. Exactness itself is asserted
 * on the native run.
 */
export const EMULATED = hostname() === 'cgroup2-vm';
export const TIME_SLACK = EMULATED ? 6 : 1;

/**
 * v2 `memory.stat` `kernel_stack` of a cgroup directory: bytes of kernel stacks charged to it. A
 * stack is charged where its task was forked, so it tells a process forked inside the cgroup from
 * one that joined after a fork elsewhere.
 */
export function kernelStackBytes(cgroupDir: string): number {
  return Number(/^kernel_stack (\d+)$/m.exec(readFileSync(join(cgroupDir, 'memory.stat'), 'utf8'))?.[1] ?? NaN);
}
