/**
 * Before/after a change, side by side in one session: runs `bench/run.ts --compare` against this
 * tree's src/ and against the src/ of an earlier commit, alternately, and prints each figure's
 * runs and medians with the change. Both sides run this tree's bench/ (so it must import only
 * what both sources have); the earlier source is unpacked with `git archive` into a temp dir
 * that borrows this tree's node_modules, and removed at the end.
 *
 *   npx tsx bench/compare.ts --base main [--repeat 3] [-- --set rounds=7 ...]
 *
 * On a shared machine absolute times drift within minutes; alternating the two sides and taking
 * ratios within each run keeps the comparison about the code.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, createWriteStream, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { figureTable, type FigureSeries } from './lib/compare.js';
import { textTable } from './lib/report.js';

const { values, positionals } = parseArgs({
  options: { base: { type: 'string' }, repeat: { type: 'string', default: '3' } },
  allowPositionals: true,
});
if (!values.base) throw new Error('--base REV: the commit to compare this tree with (e.g. main, or the branch start)');
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${values.repeat}: expected a whole number ≥ 1`);

const root = fileURLToPath(new URL('..', import.meta.url));
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const git = (...args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
const rev = git('rev-parse', '--short', values.base);

/** The earlier source beside this tree's bench: `<dir>/src` from `rev`, `<dir>/bench` copied, node_modules linked. */
function unpackBase(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nova-bench-base-'));
  const archive = execFileSync('git', ['-C', root, 'archive', rev, 'src', 'package.json', 'tsconfig.json']);
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  cpSync(join(root, 'bench'), join(dir, 'bench'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** One `--compare` repetition of the bench in `tree`; its output goes to a log file, its figures are returned. */
function runOnce(tree: string, label: string, run: number, logs: string): Promise<FigureSeries> {
  const json = join(logs, `${label}-${run}.json`);
  const out = join(logs, `${label}-${run}.log`);
  const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const args = [tsx, join(tree, 'bench', 'run.ts'), '--compare', '--repeat', '1', '--json', json, ...positionals];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: tree, stdio: ['ignore', 'pipe', 'pipe'] });
    const file = createWriteStream(out);
    child.stdout.pipe(file);
    child.stderr.pipe(file);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`the bench of ${label} exited ${code}; see ${out}`));
      resolve((JSON.parse(readFileSync(json, 'utf8')) as { figures: FigureSeries }).figures);
    });
  });
}

function append(into: FigureSeries, from: FigureSeries): void {
  for (const [name, { unit, values }] of Object.entries(from)) (into[name] ??= { unit, values: [] }).values.push(...values);
}

const base = unpackBase();
const logs = mkdtempSync(join(tmpdir(), 'nova-bench-compare-'));
const sides = { before: { tree: base, series: {} as FigureSeries }, after: { tree: root, series: {} as FigureSeries } };
log(`comparing this tree (after) with ${rev} (before), ${repeat} run(s) each, alternately; logs in ${logs}`);
try {
  for (let run = 1; run <= repeat; run++) {
    // Alternating which side goes first, so a drift of the machine's load does not favour one.
    const order = run % 2 === 1 ? (['before', 'after'] as const) : (['after', 'before'] as const);
    for (const side of order) {
      const started = Date.now();
      append(sides[side].series, await runOnce(sides[side].tree, side, run, logs));
      log(`run ${run}: ${side} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
log(`\n${textTable({ ...figureTable(sides.after.series, sides.before.series), title: `This tree (runs, median) against ${rev} (baseline median)` })}`);
