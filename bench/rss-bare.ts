/**
 * The bare orchestrator bench/rss.ts measures beside the library's: a plain node process (bundled,
 * started with --expose-gc, like bench/rss-child.ts) that does the same work with nothing but
 * `child_process.spawn`: it starts N `sleep` children (same command, detached, stdio ignored, as
 * the library starts agents), keeps them and their exit listeners, kills and reaps them, then runs
 * the same spawn/exit cycles of /bin/true. What the library's orchestrator uses beyond this one is
 * the library's own share; node's binary, its heap floor and V8's sizing for a burst of spawns are
 * common to both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LABELS, MemoryMeter, type OrchestratorConfig } from './lib/memory.js';

interface Child {
  process: ChildProcess;
  exited: Promise<number | null>;
}

/** Spawns `command` and resolves once it runs; `exited` settles with its exit code. */
async function start(command: string, args: string[]): Promise<Child> {
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return { process: child, exited };
}

const config = JSON.parse(process.argv[2]!) as OrchestratorConfig;
const meter = new MemoryMeter(config.settle);

meter.checkpoint(LABELS.alone);
const children = await Promise.all(Array.from({ length: config.agents }, () => start('sleep', ['600'])));
meter.checkpoint(LABELS.managing(config.agents));
await meter.settled(LABELS.managing(config.agents));
meter.sample();
for (const child of children) child.process.kill('SIGKILL');
await Promise.all(children.map((child) => child.exited));
meter.checkpoint(LABELS.killed(config.agents));

const cyclesMs = await meter.cycles(config.cycles, config.concurrency, config.samples, async () => {
  const code = await (await start('/bin/true', [])).exited;
  if (code !== 0) throw new Error(`cycle child exited ${code}`);
});
meter.checkpoint(LABELS.after(config.cycles), config.cycles);
await meter.settled(LABELS.afterSettled(config.cycles), config.cycles);
meter.report(cyclesMs);
