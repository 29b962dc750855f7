/**
 * `--compare`: the figures to watch across a change (lifecycle, burst and tick ratios, the
 * library's share of the orchestrator's memory), each taken within one run and repeated, and,
 * given the JSON of an earlier run (`--baseline`), this run's medians beside that run's.
 */
import { readFileSync } from 'node:fs';
import type { Figure, SectionResult, Table } from './report.js';
import { median } from './stats.js';

/** Every figure's values, one per repetition, in the order the sections gave them. */
export type FigureSeries = Record<string, { unit: Figure['unit']; values: number[] }>;

export function collectFigures(repetitions: SectionResult[][]): FigureSeries {
  const series: FigureSeries = {};
  for (const results of repetitions) {
    for (const figure of results.flatMap((r) => r.figures ?? [])) {
      (series[figure.name] ??= { unit: figure.unit, values: [] }).values.push(figure.value);
    }
  }
  return series;
}

const format = (value: number, unit: Figure['unit']): string =>
  !Number.isFinite(value) ? '–' : unit === '×' ? `${value.toFixed(2)}×` : `${value.toFixed(1)} MB`;

/** One row per figure: each repetition, then the median (and, with a baseline, its median and the change). */
export function figureTable(series: FigureSeries, baseline?: FigureSeries): Table {
  const repetitions = Math.max(0, ...Object.values(series).map((s) => s.values.length));
  const columns = ['figure (lower is better)', ...Array.from({ length: repetitions }, (_, i) => `run ${i + 1}`), 'median'];
  if (baseline) columns.push('baseline median', 'change');
  const rows = Object.entries(series).map(([name, { unit, values }]) => {
    const now = median(values);
    const row = [name, ...Array.from({ length: repetitions }, (_, i) => format(values[i] ?? NaN, unit)), format(now, unit)];
    if (baseline) {
      const before = baseline[name] ? median(baseline[name].values) : NaN;
      // Ratios change by a factor, memory by megabytes.
      const change = unit === '×' ? `${((now / before - 1) * 100).toFixed(0)} %` : `${(now - before).toFixed(1)} MB`;
      row.push(format(before, unit), Number.isFinite(before) ? change : '–');
    }
    return row;
  });
  return { title: `Figures to compare before/after a change (${repetitions} run(s), ratios within each run)`, columns, rows };
}

/** The figures of an earlier run's `--json` file. */
export function readBaseline(file: string): FigureSeries {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { figures?: FigureSeries };
  if (!json.figures) throw new Error(`${file}: no figures (write it with --compare --json FILE)`);
  return json.figures;
}
