/** Results as tables: aligned text for the terminal, Markdown for docs/benchmarks.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface Table {
  title?: string;
  columns: string[];
  rows: string[][];
}

export type Verdict = 'met' | 'missed' | 'skipped' | 'info';

/** One line of the summary: a metric, its result, the target and whether it was met. */
export interface Headline {
  metric: string;
  result: string;
  target: string;
  verdict: Verdict;
}

export interface SectionResult {
  id: string;
  title: string;
  headlines: Headline[];
  tables: Table[];
  notes: string[];
  /**
   * The figures to compare before and after a change (`--compare`): ratios or differences taken
   * within one run, so a noisy machine moves them less than it moves absolute times.
   */
  figures?: Figure[];
  /** Raw figures, for --json. */
  data?: unknown;
}

/** One figure of `--compare`; lower is better for every one of them. */
export interface Figure {
  name: string;
  value: number;
  unit: '×' | 'MB';
}

/** A section that could not measure here (or broke): one skipped headline saying why. */
export function skippedSection(id: string, title: string, metric: string, result: string, target = '–'): SectionResult {
  return { id, title, headlines: [{ metric, result, target, verdict: 'skipped' }], tables: [], notes: [] };
}

const VERDICT: Record<Verdict, string> = { met: 'met', missed: 'MISSED', skipped: 'skipped', info: '–' };

export function summaryTable(sections: SectionResult[]): Table {
  return {
    columns: ['metric', 'result', 'target', 'verdict'],
    rows: sections.flatMap((s) => s.headlines.map((h) => [h.metric, h.result, h.target, VERDICT[h.verdict]])),
  };
}

export function textTable(table: Table): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(table.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)];
  return (table.title ? `${table.title}\n` : '') + out.join('\n');
}

const escapeCell = (cell: string): string => cell.replaceAll('|', '\\|');

export function markdownTable(table: Table): string {
  const out = [
    `| ${table.columns.map(escapeCell).join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ];
  return (table.title ? `**${table.title}**\n\n` : '') + out.join('\n');
}

export function printSection(section: SectionResult, log: (line: string) => void): void {
  log(`\n== ${section.title} ==`);
  for (const table of section.tables) log(`\n${textTable(table)}`);
  for (const note of section.notes) log(`  note: ${note}`);
}

export function markdownSection(section: SectionResult, level = 4): string {
  const parts = [`${'#'.repeat(level)} ${section.title}`];
  for (const table of section.tables) parts.push(markdownTable(table));
  if (section.notes.length > 0) parts.push(section.notes.map((n) => `- ${n}`).join('\n'));
  return parts.join('\n\n');
}

const start = (key: string): string => `<!-- bench:${key}:start -->`;
const end = (key: string): string => `<!-- bench:${key}:end -->`;

/**
 * Writes `body` into `file` between this environment's markers, replacing an earlier run of the
 * same environment and leaving the rest of the file (other environments, prose) as it is.
 */
export function writeMarkedSection(file: string, key: string, body: string, fallbackHeader: string): void {
  const block = `${start(key)}\n${body.trim()}\n${end(key)}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : `${fallbackHeader.trim()}\n`;
  const from = current.indexOf(start(key));
  const to = current.indexOf(end(key));
  const next =
    from >= 0 && to > from ? current.slice(0, from) + block + current.slice(to + end(key).length) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}
