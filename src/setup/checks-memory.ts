/**
 * The memory checks: how much memory the host will count on (its budget), so a container's or a
 * pod's limit is never a surprise.
 */
import { findBudget, type BudgetOption } from '../monitor/budget.js';
import { formatBytes } from '../util/size.js';
import { memTotal } from './read.js';
import { check, type PreflightCheck } from './report.js';
import type { AgentsRoot } from './root.js';

export function budgetCheck(placed: AgentsRoot, procRoot: string, option: BudgetOption | undefined): PreflightCheck {
  const id = 'memory-budget';
  const title = 'memory budget';
  const recommended = "the tightest of MemTotal, every memory limit above the agents' root and the budget option: levels, admission and relief count against it";
  const total = memTotal(procRoot);
  if (total === undefined) {
    return check({ id, title, status: 'warn', found: `cannot read MemTotal from ${procRoot}/meminfo`, recommended, fix: 'mount -t proc proc /proc' });
  }
  const budget = findBudget({ memTotal: total, from: placed.parent, option });
  const where =
    budget.source === 'cgroup'
      ? `the memory limit of ${budget.cgroup!.path}, tighter than MemTotal (${formatBytes(total)})`
      : budget.source === 'option'
        ? `the budget option${budget.cgroup ? ` (usage: ${budget.cgroup.path})` : ''}`
        : "MemTotal: no tighter memory limit above the agents' root";
  return check({ id, title, status: 'ok', found: `${formatBytes(budget.total)}, ${where}`, recommended });
}
