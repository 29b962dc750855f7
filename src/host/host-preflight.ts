/** The host preflight `start()` runs: the host checks, before anything is created, so refusing leaves nothing behind. */
import { assertIsolation, preflight, type PreflightOptions, type PreflightReport } from '../setup/index.js';
import type { Cgroup } from '../cgroup/cgroup.js';
import type { AgentUser } from '../users/index.js';
import type { Logger } from './logger.js';

/** What `start()` does with failing preflight checks. */
export type PreflightMode = 'refuse' | 'warn' | 'off';

/** The host options preflight reads. */
export interface HostPreflightOptions extends Pick<PreflightOptions, 'budget' | 'reserve' | 'agentsMemoryMax'> {
  preflight?: PreflightMode | (PreflightOptions & { mode?: Exclude<PreflightMode, 'off'> });
  cgroupRoot?: string | Cgroup;
  rootName?: string;
  /** The agents' user: the `agent-users` check judges it (a `preflight.agentUser` wins). */
  user?: AgentUser;
}

/**
 * Runs the checks (`undefined` with mode `off`). `refuse` throws `ERR_PREFLIGHT_FAILED` when a
 * failing check would make isolation a lie; `warn` logs the failing ones.
 */
export function runPreflight(options: HostPreflightOptions, log: Logger): PreflightReport | undefined {
  const given = options.preflight ?? 'refuse';
  const { mode = 'refuse', ...rest } = typeof given === 'string' ? { mode: given } : given;
  if (mode === 'off') return undefined;
  const root = options.cgroupRoot;
  const report = preflight({
    layout: false,
    budget: options.budget,
    reserve: options.reserve,
    agentsMemoryMax: options.agentsMemoryMax,
    ...(options.user !== undefined && { agentUser: options.user }),
    ...rest,
    ...(root !== undefined && { cgroupRoot: root }),
    ...(options.rootName !== undefined && { rootName: options.rootName }),
  });
  const failing = report.checks.filter((check) => check.status === 'fail');
  if (failing.length > 0) {
    if (mode === 'refuse') assertIsolation(report);
    log.warn({ failing: failing.map((c) => c.id) }, 'host preflight found failing checks');
  }
  return report;
}
