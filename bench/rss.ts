/**
 * (6) The orchestrator's memory: RSS and heap (after GC) of a plain node process managing 300
 * agents, then after 10,000 spawn/exit cycles of /bin/true, sampled along the way to show
 * whether anything grows. The orchestrator is bench/rss-child.ts bundled with esbuild and run
 * with `node --expose-gc`, so no TypeScript loader inflates the figures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { BenchEnv } from './lib/env.js';
import type { SectionResult } from './lib/report.js';
import { mb } from './lib/stats.js';

interface Checkpoint {
  label: string;
  cycles: number;
  rss: number;
  heapUsed: number;
  external: number;
}

const LIMIT = 60 * 2 ** 20;

async function bundle(): Promise<string> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // Inside the project, so the bundle's imports of dependencies resolve from its node_modules.
  const dir = join(root, 'node_modules', '.cache', 'nova-bench');
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'rss-child.mjs');
  await build({ entryPoints: [join(root, 'bench', 'rss-child.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error' });
  return outfile;
}

function runChild(file: string, config: object): Promise<{ checkpoints: Checkpoint[]; peakRss: number; cyclesMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', file, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`rss child exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!));
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

export async function rss(env: BenchEnv): Promise<SectionResult> {
  const { rssAgents, cycles, cycleConcurrency } = env.scale;
  const file = await bundle();
  const root = env.cgroup('rss');
  const result = await runChild(file, { root: root.location, stateDir: join(env.dir, 'rss-state'), agents: rssAgents, cycles, concurrency: cycleConcurrency, samples: 10 });
  const { checkpoints } = result;
  const series = checkpoints.filter((c) => c.label === 'cycles');
  const after = checkpoints.at(-1)!;
  const managing = checkpoints.find((c) => c.label.startsWith('managing'))!;
  // Growth: from the first sample of the cycles (warm) to the end, per 1000 cycles.
  const first = series[0] ?? after;
  const span = Math.max(1, after.cycles - first.cycles) / 1000;
  const heapGrowth = (after.heapUsed - first.heapUsed) / span;
  const rssGrowth = (after.rss - first.rss) / span;
  const maxRss = Math.max(...checkpoints.map((c) => c.rss));
  const rows = checkpoints.map((c) => [c.label === 'cycles' ? `… after ${c.cycles} cycles` : c.label, mb(c.rss), mb(c.heapUsed), mb(c.external)]);
  return {
    id: 'rss',
    title: `(6) Orchestrator memory: ${rssAgents} agents, then ${cycles} spawn/exit cycles`,
    headlines: [
      {
        metric: `orchestrator RSS managing ${rssAgents} agents`,
        result: mb(managing.rss),
        target: '≤ 60 MB',
        verdict: managing.rss <= LIMIT ? 'met' : 'missed',
      },
      {
        metric: `RSS / heap after ${after.cycles} cycles; growth per 1000`,
        result: `${mb(after.rss)} / ${mb(after.heapUsed)}; ${mb(rssGrowth)} / ${mb(heapGrowth)}`,
        target: '≤ 60 MB, no growth',
        verdict: maxRss <= LIMIT && heapGrowth < 0.25 * 2 ** 20 ? 'met' : 'missed',
      },
    ],
    tables: [{ columns: ['checkpoint (after gc())', 'RSS', 'heap used', 'external'], rows }],
    notes: [
      `peak RSS seen during the run (sampled, not after GC): ${mb(result.peakRss)}; ${after.cycles} cycles of /bin/true, ${cycleConcurrency} at a time, took ${(result.cyclesMs / 1000).toFixed(1)} s (${(result.cyclesMs / after.cycles).toFixed(2)} ms per cycle, ${((after.cycles / result.cyclesMs) * 1000).toFixed(0)} agents/s).`,
      `Growth is measured from the first sample during the cycles (${first.cycles} cycles) to the end.`,
    ],
    data: result,
  };
}
