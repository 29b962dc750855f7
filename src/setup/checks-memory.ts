/**
 * The memory checks: how much memory the host will count on (its budget), so a container's or a
 * pod's limit is never a surprise, and whether the kernel backstop can be written on the agents' root.
 */
import { writable } from '../cgroup/files.js';
import { isAgentHostError } from '../errors.js';
import { backstopLimits, type BackstopOptions } from '../host/placement.js';
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

/**
 * The limits `AgentHost.start()` writes on the agents' root, and whether it may: a root it creates
 * is its own; an existing one needs its limit file writable (a parent that was not delegated: the
 * host then works without the backstop).
 */
export function backstopCheck(placed: AgentsRoot, procRoot: string, options: BackstopOptions & { budget?: BudgetOption }): PreflightCheck {
  const id = 'agents-root-limits';
  const title = "kernel backstop on the agents' root";
  const recommended = "memory.max = the budget − system reserve − headroom on the agents' root (memory.high 1/32 below): the kernel stops the agents as a group before the system suffers";
  const { root, parent } = placed;
  if (!root || !parent) return check({ id, title, status: 'warn', found: 'no usable cgroup hierarchy', recommended });
  if (options.agentsMemoryMax === false) return check({ id, title, status: 'ok', found: 'off (agentsMemoryMax: false)', recommended });
  let limits;
  try {
    limits = backstopLimits({ parent }, options, procRoot)!;
  } catch (error) {
    if (!isAgentHostError(error)) throw error;
    return check({ id, title, status: 'warn', found: error.message, recommended, fix: 'pass agentsMemoryMax, or a smaller reserve' });
  }
  const file = root.version === 2 ? 'memory.max' : 'memory.limit_in_bytes';
  const canWrite = root.exists() ? writable(root.path, file) : writable(parent.path);
  const figures = `memory.max ${formatBytes(limits.memoryMax)}, memory.high ${formatBytes(limits.memoryHigh)} on ${root.path}`;
  if (canWrite) return check({ id, title, status: 'ok', found: `${figures} (written by start())`, recommended });
  return check({
    id,
    title,
    status: 'warn',
    found: `${figures} cannot be written: ${root.exists() ? `${root.path}/${file}` : parent.path} is not writable by uid ${process.getuid?.() ?? '?'}`,
    recommended,
    fix: `chown ${process.getuid?.() ?? 'USER'} ${root.exists() ? `${root.path}/${file}` : parent.path}`,
    detail: 'the host works without it: only the monitor and the per-agent limits stand between a fast-growing load and the OOM killer',
  });
}
