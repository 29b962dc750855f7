/**
 * (6) The orchestrator's memory: RSS and heap (after GC) of a plain node process managing 300
 * agents, then after 10,000 spawn/exit cycles of /bin/true, sampled along the way to show
 * whether anything grows. Side by side in the same run, a bare node orchestrator doing the same
 * with child_process.spawn alone (bench/rss-bare.ts): the difference is the library's own share.
 * Both orchestrators are bundled with esbuild and run with `node --expose-gc`, so no TypeScript
 * loader inflates the figures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { BenchEnv } from './lib/env.js';
import { LABELS, type Checkpoint, type MemoryReport, type OrchestratorConfig } from './lib/memory.js';
import type { Figure, Headline, SectionResult, Table } from './lib/report.js';
import { mb, median } from './lib/stats.js';

const MB = 2 ** 20;
const LIMIT = 60 * MB;
/** The library's own share of the orchestrator's RSS at 300 agents: beyond what a bare node orchestrator uses. */
const SHARE_LIMIT = 10 * MB;
const SEMI_SPACE = '--max-semi-space-size=1';

interface Bundles {
  child: string;
  bare: string;
  lib: string;
}

/** The library and the two orchestrators, bundled apart (dependencies stay in node_modules, as for a user). */
async function bundle(): Promise<Bundles> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  // Inside the project, so the bundles' imports of dependencies resolve from its node_modules.
  const dir = join(root, 'node_modules', '.cache', 'nova-bench');
  mkdirSync(dir, { recursive: true });
  const out = { child: join(dir, 'rss-child.mjs'), bare: join(dir, 'rss-bare.mjs'), lib: join(dir, 'nova-agent-host.mjs') };
  const common = { bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error' } as const;
  await build({ ...common, entryPoints: [join(root, 'src', 'index.ts')], outfile: out.lib });
  await build({ ...common, entryPoints: [join(root, 'bench', 'rss-child.ts')], outfile: out.child });
  await build({ ...common, entryPoints: [join(root, 'bench', 'rss-bare.ts')], outfile: out.bare });
  return out;
}

function runChild(file: string, config: object, flags: string[] = []): Promise<MemoryReport> {
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
function cappedHeadline(checkpoints: Checkpoint[], settle: number): Headline {
  const pick = (prefix: string, later: boolean): Checkpoint | undefined =>
    checkpoints.find((c) => c.label.startsWith(prefix) && c.label.endsWith('later') === later);
  const readings = [pick('managing', false), pick('managing', true), pick('after', false), checkpoints.findLast((c) => c.label.endsWith('later') && !c.label.startsWith('managing'))];
  const known = readings.filter((c): c is Checkpoint => c !== undefined);
  return {
    metric: `… with node ${SEMI_SPACE}: 300 agents (right after / ${settle} s later); cycles (right after / ${settle} s later)`,
    result: readings.map((c) => (c === undefined ? '–' : mb(c.rss))).join(' / '),
    target: '≤ 60 MB',
    verdict: known.every((c) => c.rss <= LIMIT) ? 'met' : 'missed',
  };
}

/** The library's share with V8's young generation capped on both sides: what remains once V8's sizing for churn is out. */
function cappedShare(pair: Pair, agents: number, settle: number): Headline {
  const managing = LABELS.managing(agents);
  const shares = [share(pair, managing), share(pair, LABELS.settled(managing, settle))].map((s) => s?.rss ?? NaN);
  return {
    metric: `… the library's share with node ${SEMI_SPACE} on both sides: right after / ${settle} s later`,
    result: shares.map(mb).join(' / '),
    target: '≤ 10 MB at 300',
    verdict: agents < 300 ? 'info' : shares.every((s) => s <= SHARE_LIMIT) ? 'met' : 'missed',
  };
}

/** One pair of runs, library and bare, and the library's share at the checkpoints both take. */
interface Pair {
  library: MemoryReport;
  bare: MemoryReport;
}

const find = (report: MemoryReport, label: string): Checkpoint | undefined => report.checkpoints.find((c) => c.label === label);

/** The checkpoints both orchestrators take, in order. */
function sharedLabels(agents: number, cycles: number, settle: number): string[] {
  const managing = LABELS.managing(agents);
  const afterSettled = LABELS.settled(LABELS.afterSettled(cycles), settle);
  return [LABELS.alone, managing, LABELS.settled(managing, settle), LABELS.killed(agents), LABELS.after(cycles), afterSettled];
}

/** Library minus bare RSS (and anonymous RSS) at `label`, or undefined when either lacks it. */
function share(pair: Pair, label: string): { rss: number; anon: number } | undefined {
  const library = find(pair.library, label);
  const bare = find(pair.bare, label);
  return library && bare ? { rss: library.rss - bare.rss, anon: library.rssAnon - bare.rssAnon } : undefined;
}

const range = (values: number[]): string =>
  values.length === 1 ? mb(values[0]!) : `${mb(median(values))} (${mb(Math.min(...values))} – ${mb(Math.max(...values))})`;

function pairTable(pairs: Pair[], labels: string[]): Table {
  const rows = labels.map((label) => {
    const library = pairs.map((p) => find(p.library, label)).filter((c): c is Checkpoint => c !== undefined);
    const bare = pairs.map((p) => find(p.bare, label)).filter((c): c is Checkpoint => c !== undefined);
    const shares = pairs.map((p) => share(p, label)).filter((s) => s !== undefined);
    return [
      label,
      range(library.map((c) => c.rss)),
      range(bare.map((c) => c.rss)),
      range(shares.map((s) => s.rss)),
      range(shares.map((s) => s.anon)),
      `${mb(median(library.map((c) => c.heapUsed)))} / ${mb(median(bare.map((c) => c.heapUsed)))}`,
      `${mb(median(library.map((c) => c.heapTotal)))} / ${mb(median(bare.map((c) => c.heapTotal)))}`,
    ];
  });
  return {
    title: `The library's orchestrator beside a bare node orchestrator (child_process.spawn, the same children): RSS after gc(), median of ${pairs.length} pair(s) (range)`,
    columns: ['checkpoint', 'library', 'bare node', 'library − bare', '… of it anonymous', 'heap used: library / bare', 'heap total: library / bare'],
    rows,
  };
}

export async function rss(env: BenchEnv): Promise<SectionResult> {
  const { rssAgents: agents, cycles, cycleConcurrency, rssSettle: settle, rssRuns } = env.scale;
  const bundles = await bundle();
  const config = (run: string): OrchestratorConfig => ({ stateDir: join(env.dir, `rss-state-${run}`), agents, cycles, concurrency: cycleConcurrency, samples: 10, settle });
  const pairs: Pair[] = [];
  for (let run = 0; run < Math.max(1, rssRuns); run++) {
    // Alternating which goes first, so a drift of the machine's load does not favour one side.
    const library = (): Promise<MemoryReport> => runChild(bundles.child, { ...config(`l${run}`), lib: bundles.lib, root: env.cgroup('rss').location });
    const bare = (): Promise<MemoryReport> => runChild(bundles.bare, config(`b${run}`));
    if (run % 2 === 0) {
      const b = await bare();
      pairs.push({ bare: b, library: await library() });
    } else {
      const l = await library();
      pairs.push({ library: l, bare: await bare() });
    }
  }
  // The same with V8's young generation capped, both sides: how much of the RSS is heap V8 grew for spawn churn.
  const cappedConfig = (run: string): OrchestratorConfig => ({ ...config(run), cycles: Math.min(cycles, 2000), samples: 2 });
  const capped = env.scale.rssCapped
    ? await runChild(bundles.child, { ...cappedConfig('capped'), lib: bundles.lib, root: env.cgroup('rss-capped').location }, [SEMI_SPACE])
    : undefined;
  const cappedBare = env.scale.rssCapped ? await runChild(bundles.bare, cappedConfig('capped-bare'), [SEMI_SPACE]) : undefined;
  const result = pairs[0]!.library;
  const { checkpoints } = result;
  const series = checkpoints.filter((c) => c.label === LABELS.cycles);
  const afterSettled = checkpoints.at(-1)!;
  const after = checkpoints.findLast((c) => c.label.startsWith('after'))!;
  const burst = find(result, LABELS.managing(agents))!;
  const managing = find(result, LABELS.settled(LABELS.managing(agents), settle)) ?? burst;
  // Growth: from the first sample of the cycles (warm) to the end, per 1000 cycles.
  const first = series[0] ?? after;
  const span = Math.max(1, after.cycles - first.cycles) / 1000;
  const heapGrowth = (after.heapUsed - first.heapUsed) / span;
  const rssGrowth = (after.rss - first.rss) / span;
  const rows = checkpoints.map((c) => [c.label === LABELS.cycles ? `… after ${c.cycles} cycles` : c.label, mb(c.rss), mb(c.rssAnon), mb(c.rssFile), mb(c.heapUsed), mb(c.heapTotal), mb(c.external)]);

  const managingLabel = LABELS.managing(agents);
  const burstShares = pairs.map((p) => share(p, managingLabel)!.rss);
  const settledShares = pairs.map((p) => share(p, LABELS.settled(managingLabel, settle))?.rss ?? share(p, managingLabel)!.rss);
  const shareFigures: Figure[] = [
    { name: `rss: library − bare node, ${agents} agents right after the burst`, value: median(burstShares) / MB, unit: 'MB' },
    { name: `rss: library − bare node, ${agents} agents ${settle} s later`, value: median(settledShares) / MB, unit: 'MB' },
  ];
  return {
    id: 'rss',
    title: `(6) Orchestrator memory: ${agents} agents, then ${cycles} spawn/exit cycles`,
    headlines: [
      {
        metric: `orchestrator RSS managing ${agents} agents: right after their burst / ${settle} s later`,
        result: `${mb(burst.rss)} / ${mb(managing.rss)}`,
        target: '≤ 60 MB',
        verdict: Math.max(burst.rss, managing.rss) <= LIMIT ? 'met' : 'missed',
      },
      {
        metric: `the library's own share managing ${agents} agents (RSS − a bare node orchestrator's): right after / ${settle} s later`,
        result: `${range(burstShares)} / ${range(settledShares)}`,
        target: agents >= 300 ? '≤ 10 MB at 300' : '≤ 10 MB at 300 (fewer measured)',
        verdict: agents < 300 ? 'info' : Math.max(median(burstShares), median(settledShares)) <= SHARE_LIMIT ? 'met' : 'missed',
      },
      ...(capped ? [cappedHeadline(capped.checkpoints, settle)] : []),
      ...(capped && cappedBare ? [cappedShare({ library: capped, bare: cappedBare }, agents, settle)] : []),
      {
        metric: `RSS after ${after.cycles} cycles: right after / ${settle} s later; heap; growth per 1000 (RSS / heap)`,
        result: `${mb(after.rss)} / ${mb(afterSettled.rss)}; ${mb(afterSettled.heapUsed)}; ${mb(rssGrowth)} / ${mb(heapGrowth)}`,
        target: '≤ 60 MB, no growth',
        verdict: Math.max(after.rss, afterSettled.rss) <= LIMIT && heapGrowth < 0.25 * MB ? 'met' : 'missed',
      },
    ],
    tables: [
      { columns: ['checkpoint (after gc())', 'RSS', '… anonymous', '… file-backed', 'heap used', 'heap total', 'external'], rows },
      pairTable(pairs, sharedLabels(agents, cycles, settle)),
      ...(capped && cappedBare
        ? [{ ...pairTable([{ library: capped, bare: cappedBare }], sharedLabels(agents, Math.min(cycles, 2000), settle)), title: `The same pair with \`node ${SEMI_SPACE}\` on both sides` }]
        : []),
      ...(capped
        ? [
            {
              title: `The same with \`node ${SEMI_SPACE}\` (V8's young generation capped at 1 MB per semi-space)`,
              columns: ['checkpoint (after gc())', 'RSS', '… anonymous', '… file-backed', 'heap used', 'heap total'],
              rows: capped.checkpoints.filter((c) => c.label !== LABELS.cycles).map((c) => [c.label, mb(c.rss), mb(c.rssAnon), mb(c.rssFile), mb(c.heapUsed), mb(c.heapTotal)]),
            },
          ]
        : []),
    ],
    notes: [
      `peak RSS seen during the run (sampled, not after GC): ${mb(result.peakRss)}; ${after.cycles} cycles of /bin/true, ${cycleConcurrency} at a time, took ${(result.cyclesMs / 1000).toFixed(1)} s (${(result.cyclesMs / after.cycles).toFixed(2)} ms per cycle, ${((after.cycles / result.cyclesMs) * 1000).toFixed(0)} agents/s).`,
      `Growth is measured from the first sample during the cycles (${first.cycles} cycles) to the end.${capped ? ` With ${SEMI_SPACE}: ${capped.checkpoints.at(-1)!.cycles} cycles took ${(capped.cyclesMs / 1000).toFixed(1)} s; peak RSS ${mb(capped.peakRss)}.` : ''}`,
      `The bare orchestrator (bench/rss-bare.ts) spawns the same \`sleep 600\` children with child_process.spawn (detached, stdio ignored), keeps them and their exit listeners, kills and reaps them, then runs the same cycles (${(pairs[0]!.bare.cyclesMs / 1000).toFixed(1)} s); the pairs ran one after the other, alternating which went first. The first table is the library's first run.`,
    ],
    figures: shareFigures,
    data: { pairs, capped },
  };
}
