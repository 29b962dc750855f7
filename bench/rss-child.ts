/**
 * The orchestrator whose memory bench/rss.ts measures: a plain node process (bundled, no loader)
 * started with --expose-gc. It manages N `sleep` agents at once, then runs spawn/exit cycles of
 * /bin/true, and prints its memory at each checkpoint as one JSON line.
 */
import type { Location } from '../src/index.js';

interface Config {
  /** The library, bundled on its own (imported at run time, so 'node alone' is measured first). */
  lib: string;
  /** The agents' root: a location (one directory per v1 hierarchy). */
  root: Location;
  stateDir: string;
  agents: number;
  cycles: number;
  concurrency: number;
  samples: number;
}

interface Checkpoint {
  label: string;
  cycles: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

const config = JSON.parse(process.argv[2]!) as Config;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const checkpoints: Checkpoint[] = [];
const checkpoint = (label: string, cycles = 0): void => {
  gc();
  gc();
  const m = process.memoryUsage();
  checkpoints.push({ label, cycles, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external });
};

checkpoint('node alone');
// execa first, on its own: it is most of what loading the library costs.
await import('execa');
checkpoint('+ execa imported');
const { AgentHost, Cgroup } = (await import(config.lib)) as typeof import('../src/index.js');
checkpoint('+ the library imported');
const host = new AgentHost({ cgroupRoot: new Cgroup(config.root), stateDir: config.stateDir });
await host.start();
checkpoint('host started');

const agents = await Promise.all(Array.from({ length: config.agents }, (_, i) => host.spawn(`m${i}`, { command: 'sleep', args: ['600'] })));
checkpoint(`managing ${config.agents} agents`);
let peakRss = process.memoryUsage().rss;
await Promise.all(agents.map((a) => a.kill({ force: true })));
checkpoint(`${config.agents} agents killed and removed`);

let done = 0;
let next = 0;
const every = Math.max(1, Math.floor(config.cycles / config.samples));
let nextSample = every;
const worker = async (): Promise<void> => {
  while (next < config.cycles) {
    const agent = await host.spawn(`c${next++}`, { command: '/bin/true' });
    const result = await agent.result;
    if (result.exitCode !== 0) throw new Error(`cycle agent ended: ${JSON.stringify(result)}`);
    done++;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }
};
const sampler = async (): Promise<void> => {
  while (done < config.cycles) {
    if (done >= nextSample) {
      checkpoint('cycles', done);
      nextSample += every;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const started = performance.now();
await Promise.all([...Array.from({ length: config.concurrency }, worker), sampler()]);
const cyclesMs = performance.now() - started;
checkpoint(`after ${config.cycles} spawn/exit cycles`, done);
await host.dispose();
process.stdout.write(`${JSON.stringify({ checkpoints, peakRss, cyclesMs })}\n`);
