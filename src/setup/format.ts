/** Plain-text renderings of a preflight report and of an applySetup result, for terminals and logs. */
import type { SetupResult } from './apply.js';
import type { CheckStatus, PreflightReport } from './report.js';

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/**
 * One line per check (`ok`, `WARN`, `FAIL`, title, what was found); under each check that is not
 * ok, what is recommended, the fix and why it matters.
 */
export function formatPreflight(report: PreflightReport): string {
  const count = (status: CheckStatus): number => report.checks.filter((c) => c.status === status).length;
  const width = Math.max(...report.checks.map((c) => c.title.length));
  const indent = ' '.repeat(4 + 2 + width + 2);
  const out = [
    `host preflight: ${report.ok ? 'OK' : 'FAILED'} — ${count('fail')} failing, ${count('warn')} warning(s), ${count('ok')} ok` +
      ` (cgroups: ${report.cgroupMode}; agents' root: ${report.cgroupRoot ?? 'none'})`,
    '',
  ];
  for (const c of report.checks) {
    out.push(`${MARK[c.status]}  ${c.title.padEnd(width)}  ${c.found}`);
    if (c.status === 'ok') continue;
    out.push(`${indent}recommended: ${c.recommended}`);
    if (c.fix) out.push(`${indent}fix: ${c.fix}`);
    if (c.detail) out.push(`${indent}why: ${c.detail}`);
  }
  return out.join('\n');
}

/** One line per action (`done`, `would`, `ok`, `ERROR`), then what to persist under /etc by hand. */
export function formatSetup(result: SetupResult): string {
  const out = [
    `host setup${result.dryRun ? ' (dry run: nothing changed)' : ''}: ` +
      `${result.actions.filter((a) => a.changed).length} of ${result.actions.length} action(s) ${result.dryRun ? 'to do' : 'changed something'}` +
      `${result.ok ? '' : `, ${result.actions.filter((a) => a.error).length} failed`}`,
    '',
  ];
  for (const a of result.actions) {
    const mark = a.error ? 'ERROR' : !a.changed ? 'ok   ' : result.dryRun ? 'would' : 'done ';
    out.push(`${mark}  ${a.description}`);
    if (a.changed || a.error) out.push(`       $ ${a.command}`);
    if (a.error) out.push(`       ${a.error}`);
  }
  if (result.persist.length > 0) {
    out.push('', 'to keep this after a reboot (applySetup never edits /etc itself):');
    for (const p of result.persist) {
      out.push('', `# ${p.file}: ${p.description}`, p.text.trimEnd());
    }
  }
  return out.join('\n');
}
