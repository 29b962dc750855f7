/**
 * Kernel parameters for ~300 agents running builds and tests at once, and how each is judged.
 * Limits are only ever raised: a host tuned higher than recommended is left alone.
 */
import { join } from 'node:path';
import { parseSysctl } from '../cgroup/parse.js';
import { groupDigits } from '../util/size.js';
import { readWith } from './read.js';
import { check, type CheckStatus, type PreflightCheck } from './report.js';

/** One kernel parameter a host of many agents needs tuned: its recommended value and how far off is still fine. */
export interface SysctlSpec {
  /** Dotted name as sysctl(8) writes it: `kernel.pid_max`. */
  key: string;
  /** `atLeast`: any value from `value` up is fine. `exactly`: other values are judged by {@link judge}. */
  kind: 'atLeast' | 'exactly';
  /** The value applySetup writes, given MemTotal in bytes (when known). */
  value: (memTotal: number | undefined) => number;
  /** Status of a value that is not the recommended one. */
  judge?: (found: number) => CheckStatus;
  /** Whether the sysctl.d snippet should carry it. Default `true`. */
  persist?: boolean;
  /** Why it matters, shown with the check. */
  why: string;
}

/** pids.max per agent (512) times 300 agents: the pid budget the kernel must allow. */
const PID_BUDGET = 300 * 512;
/** x86-64 PID_MAX_LIMIT; pid_max cannot go higher. */
const PID_MAX_LIMIT = 4_194_304;
/** The kernel caps threads-max at RAM / (8 × THREAD_SIZE) = RAM / 128 KiB on x86-64 (kernel/fork.c). */
const THREADS_PER_BYTE = 1 / (8 * 16 * 1024);

/** The kernel parameters preflight checks and applySetup sets (pid, thread, file and inotify limits; overcommit and OOM behaviour). */
export const SYSCTLS: readonly SysctlSpec[] = Object.freeze([
  {
    key: 'kernel.pid_max',
    kind: 'atLeast',
    value: () => PID_MAX_LIMIT,
    why: `every thread takes a pid: 300 agents × pids.max 512 = ${groupDigits(PID_BUDGET)} pids, far above the 32768 default`,
  },
  {
    key: 'kernel.threads-max',
    kind: 'atLeast',
    value: (mem) => (mem === undefined ? PID_MAX_LIMIT : Math.min(PID_MAX_LIMIT, Math.floor(mem * THREADS_PER_BYTE))),
    // Its boot-time default already is the RAM cap: a fixed number in sysctl.d only goes stale.
    persist: false,
    why: 'the system-wide thread limit; the kernel caps it at RAM / 128 KiB, which is also its default',
  },
  {
    key: 'vm.max_map_count',
    kind: 'atLeast',
    value: () => 1_048_576,
    why: 'linkers (lld, mold), rustc, JVMs and V8 map many regions; the 65530 default aborts large links (Fedora and Ubuntu 24.04 ship 1048576)',
  },
  {
    key: 'fs.file-max',
    kind: 'atLeast',
    value: () => 2_097_152,
    why: 'open files system-wide: hundreds of builds and test runners each hold thousands',
  },
  {
    key: 'fs.nr_open',
    kind: 'atLeast',
    value: () => 1_048_576,
    why: 'the ceiling of any process RLIMIT_NOFILE',
  },
  {
    key: 'fs.inotify.max_user_watches',
    kind: 'atLeast',
    value: () => 1_048_576,
    why: 'inotify limits are per user, and all agents usually run as one user: watchers (tsc --watch, IDE analysis, test runners) of 300 agents add up',
  },
  {
    key: 'fs.inotify.max_user_instances',
    kind: 'atLeast',
    value: () => 8192,
    why: 'per user as well: the 128 default is used up by a handful of agents running file watchers',
  },
  {
    key: 'vm.overcommit_memory',
    kind: 'exactly',
    value: () => 0,
    // 1 (always) is fine too: the cgroup limits, not the commit limit, bound each agent.
    judge: (found) => (found === 1 ? 'ok' : 'warn'),
    why: 'with strict accounting (2) every agent reserving address space (V8, JVMs, rustc) counts against RAM + swap, and forks fail with ENOMEM long before memory is used',
  },
  {
    key: 'vm.panic_on_oom',
    kind: 'exactly',
    value: () => 0,
    // 2 panics even on a cgroup OOM: one agent over its limit would reboot the machine.
    judge: (found) => (found === 2 ? 'fail' : 'warn'),
    why: 'an out-of-memory must kill a process, not panic the machine (2 panics even when one agent hits its own cgroup limit)',
  },
  {
    key: 'vm.oom_kill_allocating_task',
    kind: 'exactly',
    value: () => 0,
    judge: () => 'warn',
    why: 'on a system-wide OOM the kernel should kill the biggest process, not whichever small one allocated last',
  },
]);

/** `kernel.pid_max` → `<procRoot>/sys/kernel/pid_max`. */
export function sysctlPath(procRoot: string, key: string): string {
  return join(procRoot, 'sys', ...key.split('.'));
}

/** The current value, or `undefined` when the kernel has no such parameter (or it is hidden). */
export function readSysctl(procRoot: string, key: string): number | undefined {
  return readWith(sysctlPath(procRoot, key), parseSysctl)?.[0];
}

export interface SysctlState {
  spec: SysctlSpec;
  found: number | undefined;
  /** The value applySetup writes. */
  recommended: number;
  status: CheckStatus;
}

export function sysctlState(spec: SysctlSpec, procRoot: string, mem: number | undefined): SysctlState {
  const found = readSysctl(procRoot, spec.key);
  const recommended = spec.value(mem);
  let status: CheckStatus;
  if (found === undefined) status = 'warn';
  else if (spec.kind === 'atLeast') {
    // threads-max: the kernel computed its cap from RAM at boot, a little less than MemTotal now
    // (init memory is freed later): allow for that instead of warning about a maxed-out value.
    const threshold = spec.key === 'kernel.threads-max' ? Math.floor(recommended * 0.95) : recommended;
    status = found >= threshold ? 'ok' : 'warn';
  } else status = found === recommended ? 'ok' : (spec.judge?.(found) ?? 'warn');
  return { spec, found, recommended, status };
}

export function sysctlCheck(state: SysctlState): PreflightCheck {
  const { spec, found, recommended, status } = state;
  return check({
    id: `sysctl:${spec.key}`,
    title: spec.key,
    status,
    found: found === undefined ? 'not available (no such parameter, or /proc/sys is hidden)' : String(found),
    recommended: spec.kind === 'atLeast' ? `≥ ${recommended}` : String(recommended),
    fix: `sysctl -w ${spec.key}=${recommended}`,
    detail: spec.why,
  });
}
