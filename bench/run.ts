/**
 * `npm run bench`: measures the library on this machine and prints the tables; with
 * `--out docs/benchmarks.md` it also writes them into that file (only this environment's section).
 * Benchmarks report; they never fail a build: the exit status is non-zero only if the bench itself broke.
 *
 *   npx tsx bench/run.ts [--out FILE] [--quick] [--only lifecycle,burst,...] [--json FILE] [--set oomRuns=50 ...]
 *   npx tsx bench/run.ts --compare [--repeat 3] [--json FILE] [--baseline FILE]
 *
 * `--set NAME=NUMBER` overrides one figure of the scale (see Scale in bench/lib/env.ts).
 * `--repeat N` runs the sections N times and prints each figure to compare (ratios within one run)
 * per repetition; `--compare` is `--quick --only lifecycle,burst,monitor,rss --repeat 3`, and
 * `--baseline FILE` prints the medians of an earlier run's `--json FILE` beside this run's.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { breakdown } from './breakdown.js';
import { burst } from './burst.js';
import { lifecycle } from './lifecycle.js';
import { monitorTick } from './monitor-tick.js';
import { oomLatency } from './oom.js';
import { overcommit } from './overcommit.js';
import { relief } from './relief.js';
import { rss } from './rss.js';
import { collectFigures, figureTable, readBaseline } from './lib/compare.js';
import { BenchEnv, NATIVE_SCALE, QUICK_SCALE, VM_SCALE, type Scale } from './lib/env.js';
import { describeMachine, environmentKey, environmentTitle, machineLine } from './lib/machine.js';
import { markdownSection, markdownTable, printSection, skippedSection, summaryTable, textTable, writeMarkedSection, type SectionResult } from './lib/report.js';

const SECTIONS: Record<string, (env: BenchEnv) => Promise<SectionResult>> = {
  lifecycle,
  breakdown,
  burst,
  monitor: monitorTick,
  oom: oomLatency,
  relief,
  rss,
  overcommit,
};

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    compare: { type: 'boolean', default: false },
    repeat: { type: 'string' },
    baseline: { type: 'string' },
    set: { type: 'string', multiple: true },
  },
});

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const machine = describeMachine();
/** What the figures to compare before and after a change come from. */
const COMPARED = 'lifecycle,burst,monitor,rss';
const scale: Scale = { ...(values.quick || values.compare ? QUICK_SCALE : machine.vm ? VM_SCALE : NATIVE_SCALE) };
for (const setting of values.set ?? []) {
  const [name, value] = setting.split('=');
  const numeric = Object.keys(scale).filter((key) => typeof scale[key as keyof Scale] === 'number');
  if (name === undefined || !numeric.includes(name) || value === undefined || !Number.isFinite(Number(value))) {
    throw new Error(`--set ${setting}: expected NAME=NUMBER with NAME one of ${numeric.join(', ')}`);
  }
  (scale as unknown as Record<string, number>)[name] = Number(value);
}
const repeat = Number(values.repeat ?? (values.compare ? 3 : 1));
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${values.repeat}: expected a whole number ≥ 1`);
const baseline = values.baseline ? readBaseline(values.baseline) : undefined;
const wanted = (values.only ?? (values.compare ? COMPARED : undefined))?.split(',').map((s) => s.trim()) ?? Object.keys(SECTIONS);
for (const name of wanted) if (!(name in SECTIONS)) throw new Error(`unknown section ${name}; known: ${Object.keys(SECTIONS).join(', ')}`);

log(`nova-agent-host bench — ${environmentTitle(machine)}`);
log(machineLine(machine));
if (machine.cgroupVersion === undefined) {
  log('no usable cgroup memory controller here: nothing to measure');
  process.exit(0);
}

const env = await BenchEnv.open(machine, scale);
const repetitions: SectionResult[][] = [];
let results: SectionResult[] = [];
const started = Date.now();
try {
  for (let run = 1; run <= repeat; run++) {
    results = [];
    repetitions.push(results);
    for (const name of wanted) {
      const sectionStart = Date.now();
      log(`\n… ${name}${repeat > 1 ? ` (run ${run} of ${repeat})` : ''}`);
      try {
        const result = await SECTIONS[name]!(env);
        result.notes.push(`section took ${((Date.now() - sectionStart) / 1000).toFixed(1)} s`);
        results.push(result);
        printSection(result, log);
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`section ${name} failed: ${message}`);
        results.push(skippedSection(name, name, name, `failed: ${String(error)}`));
      }
    }
  }
} finally {
  await env.close();
}

const summary = summaryTable(results);
log(`\n== Summary (${environmentTitle(machine)}) ==\n${textTable(summary)}`);
const figures = collectFigures(repetitions);
if (Object.keys(figures).length > 0) log(`\n== Compare ==\n${textTable(figureTable(figures, baseline))}`);
log(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s`);

if (values.out) {
  const body = [
    `### ${environmentTitle(machine)}`,
    machineLine(machine) + `; the bench took ${((Date.now() - started) / 1000).toFixed(0)} s.`,
    markdownTable(summary),
    ...results.filter((r) => r.tables.length > 0 || r.notes.length > 0).map((r) => markdownSection(r)),
  ].join('\n\n');
  writeMarkedSection(values.out, environmentKey(machine), body, '# Benchmarks\n');
  log(`wrote ${values.out} (section ${environmentKey(machine)})`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ machine, scale, figures, results: repetitions.length > 1 ? repetitions : results }, null, 2));
