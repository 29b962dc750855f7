/**
 * The orchestrator whose memory bench/rss.ts measures: a plain node process (bundled, no loader)
 * started with --expose-gc. It manages N `sleep` agents at once, then runs spawn/exit cycles of
 * /bin/true, and prints its memory at each checkpoint as one JSON line.
 */
import { readFileSync } from 'node:fs';
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
  /**
   * Seconds to wait before a second checkpoint after the burst and after the cycles: V8 sizes its
   * young generation for the allocation rate and shrinks it once allocation calms down (0: none).
   */
  settle: number;
  /** More AgentHost options (experiments: e.g. `{ monitor: false }`). */
  hostOptions?: Record<string, unknown>;
}

/** One reading of the orchestrator's memory, after two full GCs. */
export interface Checkpoint {
  label: string;
  cycles: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Anonymous (heap, malloc) and file-backed (node's own binary and libraries, paged in as code runs) parts of the RSS. */
  rssAnon: number;
  rssFile: number;
}

/** RssAnon and RssFile from /proc/self/status, in bytes. */
function rssParts(): { rssAnon: number; rssFile: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile') + kb('RssShmem') };
}

const config = JSON.parse(process.argv[2]!) as Config;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const checkpoints: Checkpoint[] = [];
const checkpoint = (label: string, cycles = 0): void => {
  gc();
  gc();
  const m = process.memoryUsage();
  checkpoints.push({ label, cycles, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, ...rssParts() });
};

/** The same checkpoint `config.settle` seconds later (the orchestrator idle but for its monitor). */
const settled = async (label: string, cycles = 0): Promise<void> => {
  if (config.settle <= 0) return;
  await new Promise((resolve) => setTimeout(resolve, config.settle * 1000));
  checkpoint(`${label}, ${config.settle} s later`, cycles);
};

checkpoint('node alone');
const { AgentHost, Cgroup } = (await import(config.lib)) as typeof import('../src/index.js');
checkpoint('+ the library imported');
const host = new AgentHost({ cgroupRoot: new Cgroup(config.root), stateDir: config.stateDir, ...config.hostOptions });
await host.start();
checkpoint('host started');

const agents = await Promise.all(Array.from({ length: config.agents }, (_, i) => host.spawn(`m${i}`, { command: 'sleep', args: ['600'] })));
checkpoint(`managing ${config.agents} agents`);
await settled(`managing ${config.agents} agents`);
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
await settled(`${config.cycles} cycles`, done);
await host.dispose();
process.stdout.write(`${JSON.stringify({ checkpoints, peakRss, cyclesMs })}\n`);
