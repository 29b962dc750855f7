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

// Type only: the child is a program of its own (importing it would run it).
import type { Checkpoint } from './rss-child.js';

const LIMIT = 60 * 2 ** 20;
const SEMI_SPACE = '--max-semi-space-size=1';
/**
 * The orchestrator's memory is read again this long after the burst and after the cycles: V8 grows
 * its young generation for a burst of allocation (semi-spaces up to 16 MB) and may shrink it once
 * allocation calms down (its memory reducer). Both readings count: the verdict takes the larger.
 */
const SETTLE_SECONDS = 30;

/** The library and the child, bundled apart (dependencies stay in node_modules, as for a user). */
async function bundle(): Promise<{ child: string; lib: string }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // Inside the project, so the bundles' imports of dependencies resolve from its node_modules.
  const dir = join(root, 'node_modules', '.cache', 'nova-bench');
  mkdirSync(dir, { recursive: true });
  const child = join(dir, 'rss-child.mjs');
  const lib = join(dir, 'nova-agent-host.mjs');
  const common = { bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error' } as const;
  await build({ ...common, entryPoints: [join(root, 'src', 'index.ts')], outfile: lib });
  await build({ ...common, entryPoints: [join(root, 'bench', 'rss-child.ts')], outfile: child });
  return { child, lib };
}

function runChild(file: string, config: object, flags: string[] = []): Promise<{ checkpoints: Checkpoint[]; peakRss: number; cyclesMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...flags, file, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
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

/** The readings of the run with V8's young generation capped, in one line: every one must be ≤ 60 MB. */
function cappedHeadline(checkpoints: Checkpoint[]): SectionResult['headlines'][number] {
  const pick = (prefix: string, later: boolean): Checkpoint | undefined =>
    checkpoints.find((c) => c.label.startsWith(prefix) && c.label.endsWith('later') === later);
  const readings = [pick('managing', false), pick('managing', true), pick('after', false), checkpoints.findLast((c) => c.label.endsWith('later') && !c.label.startsWith('managing'))];
  const known = readings.filter((c): c is Checkpoint => c !== undefined);
  return {
    metric: `… with node ${SEMI_SPACE}: 300 agents (right after / ${SETTLE_SECONDS} s later); cycles (right after / ${SETTLE_SECONDS} s later)`,
    result: readings.map((c) => (c === undefined ? '–' : mb(c.rss))).join(' / '),
    target: '≤ 60 MB',
    verdict: known.every((c) => c.rss <= LIMIT) ? 'met' : 'missed',
  };
}

export async function rss(env: BenchEnv): Promise<SectionResult> {
  const { rssAgents, cycles, cycleConcurrency } = env.scale;
  const { child, lib } = await bundle();
  const config = { lib, stateDir: join(env.dir, 'rss-state'), agents: rssAgents, concurrency: cycleConcurrency, samples: 10, settle: SETTLE_SECONDS };
  const result = await runChild(child, { ...config, root: env.cgroup('rss').location, cycles });
  // The same with V8's young generation capped: how much of the RSS is heap V8 grew for spawn churn.
  const capped = env.scale.rssCapped
    ? await runChild(child, { ...config, root: env.cgroup('rss-capped').location, cycles: Math.min(cycles, 2000), samples: 2 }, [SEMI_SPACE])
    : undefined;
  const { checkpoints } = result;
  const series = checkpoints.filter((c) => c.label === 'cycles');
  const afterSettled = checkpoints.at(-1)!;
  const after = checkpoints.findLast((c) => c.label.startsWith('after'))!;
  const burst = checkpoints.find((c) => c.label.startsWith('managing'))!;
  const managing = checkpoints.find((c) => c.label.startsWith('managing') && c.label.endsWith('later')) ?? burst;
  // Growth: from the first sample of the cycles (warm) to the end, per 1000 cycles.
  const first = series[0] ?? after;
  const span = Math.max(1, after.cycles - first.cycles) / 1000;
  const heapGrowth = (after.heapUsed - first.heapUsed) / span;
  const rssGrowth = (after.rss - first.rss) / span;
  const rows = checkpoints.map((c) => [c.label === 'cycles' ? `… after ${c.cycles} cycles` : c.label, mb(c.rss), mb(c.rssAnon), mb(c.rssFile), mb(c.heapUsed), mb(c.heapTotal), mb(c.external)]);
  return {
    id: 'rss',
    title: `(6) Orchestrator memory: ${rssAgents} agents, then ${cycles} spawn/exit cycles`,
    headlines: [
      {
        metric: `orchestrator RSS managing ${rssAgents} agents: right after their burst / ${SETTLE_SECONDS} s later`,
        result: `${mb(burst.rss)} / ${mb(managing.rss)}`,
        target: '≤ 60 MB',
        verdict: Math.max(burst.rss, managing.rss) <= LIMIT ? 'met' : 'missed',
      },
      ...(capped ? [cappedHeadline(capped.checkpoints)] : []),
      {
        metric: `RSS after ${after.cycles} cycles: right after / ${SETTLE_SECONDS} s later; heap; growth per 1000 (RSS / heap)`,
        result: `${mb(after.rss)} / ${mb(afterSettled.rss)}; ${mb(afterSettled.heapUsed)}; ${mb(rssGrowth)} / ${mb(heapGrowth)}`,
        target: '≤ 60 MB, no growth',
        verdict: Math.max(after.rss, afterSettled.rss) <= LIMIT && heapGrowth < 0.25 * 2 ** 20 ? 'met' : 'missed',
      },
    ],
    tables: [
      { columns: ['checkpoint (after gc())', 'RSS', '… anonymous', '… file-backed', 'heap used', 'heap total', 'external'], rows },
      ...(capped
        ? [
            {
              title: `The same with \`node ${SEMI_SPACE}\` (V8's young generation capped at 1 MB per semi-space)`,
              columns: ['checkpoint (after gc())', 'RSS', '… anonymous', '… file-backed', 'heap used', 'heap total'],
              rows: capped.checkpoints.filter((c) => c.label !== 'cycles').map((c) => [c.label, mb(c.rss), mb(c.rssAnon), mb(c.rssFile), mb(c.heapUsed), mb(c.heapTotal)]),
            },
          ]
        : []),
    ],
    notes: [
      `peak RSS seen during the run (sampled, not after GC): ${mb(result.peakRss)}; ${after.cycles} cycles of /bin/true, ${cycleConcurrency} at a time, took ${(result.cyclesMs / 1000).toFixed(1)} s (${(result.cyclesMs / after.cycles).toFixed(2)} ms per cycle, ${((after.cycles / result.cyclesMs) * 1000).toFixed(0)} agents/s).`,
      `Growth is measured from the first sample during the cycles (${first.cycles} cycles) to the end.${capped ? ` With ${SEMI_SPACE}: ${capped.checkpoints.at(-1)!.cycles} cycles took ${(capped.cyclesMs / 1000).toFixed(1)} s; peak RSS ${mb(capped.peakRss)}.` : ''}`,
    ],
    data: result,
  };
}
