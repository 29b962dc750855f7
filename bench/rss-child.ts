/**
 * The orchestrator whose memory bench/rss.ts measures: a plain node process (bundled, no loader)
 * started with --expose-gc. It manages N `sleep` agents at once, then runs spawn/exit cycles of
 * /bin/true, and prints its memory at each checkpoint as one JSON line. bench/rss-bare.ts does
 * the same without the library.
 */
import type { Location } from '../src/index.js';
import { LABELS, MemoryMeter, type OrchestratorConfig } from './lib/memory.js';

interface Config extends OrchestratorConfig {
  /** The library, bundled on its own (imported at run time, so 'node alone' is measured first). */
  lib: string;
  /** The agents' root: a location (one directory per v1 hierarchy). */
  root: Location;
  /** More AgentHost options (experiments: e.g. `{ monitor: false }`). */
  hostOptions?: Record<string, unknown>;
}

const config = JSON.parse(process.argv[2]!) as Config;
const meter = new MemoryMeter(config.settle);

meter.checkpoint(LABELS.alone);
const { AgentHost, Cgroup } = (await import(config.lib)) as typeof import('../src/index.js');
meter.checkpoint('+ the library imported');
const host = new AgentHost({ cgroupRoot: new Cgroup(config.root), stateDir: config.stateDir, ...config.hostOptions });
await host.start();
meter.checkpoint('host started');

const agents = await Promise.all(Array.from({ length: config.agents }, (_, i) => host.spawn(`m${i}`, { command: 'sleep', args: ['600'] })));
meter.checkpoint(LABELS.managing(config.agents));
await meter.settled(LABELS.managing(config.agents));
meter.sample();
await Promise.all(agents.map((a) => a.kill({ force: true })));
meter.checkpoint(LABELS.killed(config.agents));

const cyclesMs = await meter.cycles(config.cycles, config.concurrency, config.samples, async (i) => {
  const agent = await host.spawn(`c${i}`, { command: '/bin/true' });
  const result = await agent.result;
  if (result.exitCode !== 0) throw new Error(`cycle agent ended: ${JSON.stringify(result)}`);
});
meter.checkpoint(LABELS.after(config.cycles), config.cycles);
await meter.settled(LABELS.afterSettled(config.cycles), config.cycles);
await host.dispose();
meter.report(cyclesMs);
