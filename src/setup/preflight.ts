/**
 * `preflight()`: everything the host setup would change, read and judged. It
 * only reads, so it works as any user, and AgentHost can run it on start().
 */
import { AgentHostError, ErrorCode } from '../errors.js';
import { controllersCheck, modeCheck, psiCheck, rootCheck, swapAccountingCheck } from './checks-cgroup.js';
import { scratchCheck, swapAreas, swapCheck, thpCheck, workspacesCheck } from './checks-system.js';
import { agentUsersCheck } from './checks-users.js';
import type { AgentUser } from '../users/user.js';
import { resolveSetupOptions, type SetupOptions } from './options.js';
import type { BudgetOptions } from '../monitor/budget.js';
import type { BackstopOptions } from '../host/placement.js';
import { backstopCheck, budgetCheck } from './checks-memory.js';
import { memTotal } from './read.js';
import type { PreflightCheck, PreflightReport } from './report.js';
import { agentsRoot } from './root.js';
import { SYSCTLS, sysctlCheck, sysctlState } from './sysctl.js';

/** Options of {@link preflight}. */
export interface PreflightOptions extends SetupOptions, BudgetOptions, BackstopOptions {
  /**
   * Check the scratch tmpfs and the workspace pool too. Default `true`; an AgentHost that uses
   * neither passes `false` to keep their warnings out of its report.
   */
  layout?: boolean;
  /** The `user` agents will run as (`AgentHostOptions.user`), for the `agent-users` check. Default: that option's default. */
  agentUser?: AgentUser;
}

/** Reads the host's state and judges it against the recommended setup; changes nothing. */
export function preflight(options: PreflightOptions = {}): PreflightReport {
  const resolved = resolveSetupOptions(options);
  const placed = agentsRoot(resolved);
  const uid = process.getuid?.();
  const areas = swapAreas(resolved.procRoot);
  const swapOn = areas === undefined || areas.length > 0;
  const mem = memTotal(resolved.procRoot);
  const checks: PreflightCheck[] = [
    swapCheck(areas),
    modeCheck(placed),
    controllersCheck(placed),
    rootCheck(placed, uid),
    swapAccountingCheck(placed, swapOn),
    psiCheck(resolved.procRoot),
    budgetCheck(placed, resolved.procRoot, options.budget),
    backstopCheck(placed, resolved.procRoot, options),
    ...SYSCTLS.map((spec) => sysctlCheck(sysctlState(spec, resolved.procRoot, mem))),
    thpCheck(resolved.sysRoot),
    agentUsersCheck(uid, options.agentUser),
  ];
  if (options.layout ?? true) checks.push(scratchCheck(resolved), workspacesCheck(resolved));
  return {
    ok: checks.every((c) => c.status !== 'fail'),
    checks,
    cgroupMode: placed.hierarchy.mode,
    cgroupRoot: placed.root?.path,
    uid,
  };
}

/** Which preflight findings {@link assertIsolation} tolerates. */
export interface AssertIsolationOptions {
  /** Check ids whose failure is accepted (e.g. `['sysctl:vm.panic_on_oom']`). */
  ignore?: readonly string[];
  /** Treat warnings as failures too. Default `false`. */
  strict?: boolean;
}

/** The checks that make {@link assertIsolation} throw. */
export function failingChecks(report: PreflightReport, options: AssertIsolationOptions = {}): PreflightCheck[] {
  const ignore = new Set(options.ignore ?? []);
  return report.checks.filter((c) => !ignore.has(c.id) && (c.status === 'fail' || (options.strict === true && c.status === 'warn')));
}

/**
 * Throws `ERR_PREFLIGHT_FAILED`, naming each failing check with what was found and its fix, when
 * a check failed: agents started now would not really be isolated (or could not start).
 */
export function assertIsolation(report: PreflightReport, options: AssertIsolationOptions = {}): void {
  const failing = failingChecks(report, options);
  if (failing.length === 0) return;
  const lines = failing.map((c) => `- ${c.id}: ${c.found} (recommended: ${c.recommended})${c.fix ? `; fix: ${c.fix}` : ''}`);
  throw new AgentHostError(
    ErrorCode.PREFLIGHT_FAILED,
    `host preflight failed (${failing.length} check${failing.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    { cgroup: report.cgroupRoot },
  );
}
