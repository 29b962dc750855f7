/**
 * The memory budget: how much memory the host really has. In a container, a Kubernetes pod or a
 * systemd slice with MemoryMax=, the kernel enforces a cgroup's limit long before the machine's
 * RAM runs out, and /proc/meminfo does not show it: a monitor reading only meminfo sees a few
 * percent used while the container's OOM killer is already choosing victims. So the budget is the
 * tightest of MemTotal, the memory limit of every cgroup from the agents' root up to the top of
 * the hierarchy this process can see, and an explicit `budget` option.
 */
import { dirname } from 'node:path';
import { Cgroup } from '../cgroup/cgroup.js';
import { parseSize, type Size } from '../util/size.js';
import { AgentHostError, ErrorCode } from '../errors.js';

/** An explicit budget: a size (`'64G'`), or a cgroup (a `Cgroup`, or its absolute path) whose limit and usage count. */
export type BudgetOption = Size | Cgroup;

/** The budget option, shared by `AgentHostOptions`, `MemoryMonitorOptions` and `planCapacity()`. */
export interface BudgetOptions {
  /**
   * The memory the host may count on, when it is less than what the kernel shows: a size (`'64G'`:
   * the agents' root's usage counts against it) or a cgroup (its limit, and its working set as
   * usage). It only ever tightens the budget. Default: none — MemTotal and every memory limit from
   * the agents' root up.
   */
  budget?: BudgetOption;
}

/** Where the budget comes from. */
export type BudgetSource = 'meminfo' | 'cgroup' | 'option';

/** The budget found by {@link findBudget}. */
export interface Budget {
  /** Bytes. */
  total: number;
  /** `meminfo`: MemTotal is the tightest; `cgroup`: a cgroup's memory limit; `option`: the `budget` option. */
  source: BudgetSource;
  /**
   * The cgroup whose working set is the usage (the limited cgroup; the given one; for a size the
   * cgroup the walk started from). `undefined`: usage from /proc/meminfo.
   */
  cgroup: Cgroup | undefined;
}

/** Deeper than any real hierarchy; guards the walk against a loop. */
const MAX_DEPTH = 64;

/**
 * The tightest of `memTotal`, the memory limits from `from` up to the top of its visible hierarchy,
 * and `option`. Reads a few small files; call it again to see a resized limit.
 */
export function findBudget(input: { memTotal: number; from?: Cgroup; option?: BudgetOption }): Budget {
  let best: Budget = { total: input.memTotal, source: 'meminfo', cgroup: undefined };
  const consider = (total: number, source: BudgetSource, cgroup: Cgroup | undefined): void => {
    // A tie goes to the cgroup met later, further out: the kernel enforces the limit on its usage,
    // which includes the inner one's.
    if (total < best.total || (total === best.total && source === 'cgroup')) best = { total, source, cgroup };
  };
  if (input.from) walk(input.from, consider);
  const option = input.option;
  if (option instanceof Cgroup || (typeof option === 'string' && option.startsWith('/'))) {
    const cgroup = option instanceof Cgroup ? mainOnly(option) : mainOnly(Cgroup.load(option, { hierarchy: input.from?.hierarchy }));
    const limit = cgroup.driver.memoryLimit(cgroup.location);
    consider(Math.min(limit?.max ?? Infinity, limit?.hierarchical ?? Infinity, input.memTotal), 'option', cgroup);
  } else if (option !== undefined) {
    validateBudget(option);
    consider(parseSize(option, 'budget'), 'option', input.from && mainOnly(input.from));
  }
  return best;
}

/**
 * Every limit from `from` up to its hierarchy's visible top, outermost ties winning. On v1 the
 * kernel's hierarchical_memory_limit also covers ancestors a cgroup namespace hides: when it is
 * tighter than any visible limit, the topmost visible cgroup stands in for the one that set it.
 */
function walk(from: Cgroup, consider: (total: number, source: BudgetSource, cgroup: Cgroup) => void): void {
  const key = from.version === 2 ? 'unified' : 'memory';
  const mount = from.hierarchy.mounts[key];
  let hierarchical: number | undefined;
  let tightestVisible = Infinity;
  let top: Cgroup | undefined;
  for (let dir = from.path, depth = 0; depth < MAX_DEPTH; depth++) {
    const cgroup = new Cgroup({ [key]: dir }, { hierarchy: from.hierarchy });
    const limit = cgroup.driver.memoryLimit(cgroup.location);
    if (limit !== undefined) {
      top = cgroup;
      hierarchical ??= limit.hierarchical;
      tightestVisible = Math.min(tightestVisible, limit.max);
      if (limit.max !== Infinity) consider(limit.max, 'cgroup', cgroup);
    }
    if (dir === mount || mount === undefined || !dir.startsWith(`${mount}/`)) break;
    dir = dirname(dir);
  }
  if (hierarchical !== undefined && hierarchical < tightestVisible && top) consider(hierarchical, 'cgroup', top);
}

/** The cgroup's main directory only (v2's, or v1's memory one): where memory is accounted. */
function mainOnly(cgroup: Cgroup): Cgroup {
  const key = cgroup.version === 2 ? 'unified' : 'memory';
  return new Cgroup({ [key]: cgroup.path }, { hierarchy: cgroup.hierarchy });
}

/** A size must be positive and finite; a cgroup is checked when it is read (it may not exist yet). */
export function validateBudget(budget: BudgetOption | undefined): void {
  if (budget === undefined || budget instanceof Cgroup || (typeof budget === 'string' && budget.startsWith('/'))) return;
  const bytes = parseSize(budget, 'budget');
  if (!(bytes > 0) || bytes === Infinity) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `budget must be a positive, finite size or a cgroup, got ${JSON.stringify(budget)}`);
  }
}
