/** The shape of a preflight report. */
import type { CgroupMode } from '../cgroup/detect.js';

/**
 * `ok`: as recommended. `warn`: agents are still isolated, but the host is not set up as
 * recommended (swap on with accounting, low kernel limits, no scratch tmpfs...). `fail`: isolation
 * would be a lie, or agents could not run at all.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One finding of {@link preflight}: what was found, what is recommended, and the command that fixes it. */
export interface PreflightCheck {
  /** Stable id: `swap`, `cgroup-mode`, `cgroup-controllers`, `cgroup-root`, `swap-accounting`, `psi`, `memory-budget`, `agents-root-limits`,
   * `sysctl:<key>`, `transparent-hugepages`, `agent-users`, `scratch`, `workspaces`. */
  id: string;
  /** What is checked, for people. */
  title: string;
  /** `fail`: isolation would be a lie or agents could not run; `warn`: works, but not as recommended. */
  status: CheckStatus;
  /** What was found. */
  found: string;
  /** What this library recommends. */
  recommended: string;
  /** The exact shell command(s) that fix it (as root); `undefined` when the check is ok. */
  fix: string | undefined;
  /** Why it matters, or what the fix does not cover. */
  detail?: string;
}

/** What {@link preflight} found: every check, and whether the host can isolate agents. */
export interface PreflightReport {
  /** No check failed (warnings allowed). */
  ok: boolean;
  checks: PreflightCheck[];
  /** How the cgroup hierarchies are mounted. */
  cgroupMode: CgroupMode;
  /** The agents' root cgroup the checks looked at (its main directory), if there is a hierarchy. */
  cgroupRoot: string | undefined;
  /** The user the checks ran as: permissions differ for root. */
  uid: number | undefined;
}

/** Builds a check; `fix` is dropped for an ok one. */
export function check(fields: Omit<PreflightCheck, 'fix'> & { fix?: string | undefined }): PreflightCheck {
  const result: PreflightCheck = { ...fields, fix: fields.status === 'ok' ? undefined : fields.fix };
  if (result.detail === undefined) delete result.detail;
  return result;
}

/** The worse of two statuses. */
export function worst(a: CheckStatus, b: CheckStatus): CheckStatus {
  const rank = { ok: 0, warn: 1, fail: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}
