/**
 * Options shared by {@link preflight} and {@link applySetup}: where the kernel's files are (so
 * tests can point at fake trees) and where the host layout lives.
 */
import type { CgroupHierarchy } from '../cgroup/detect.js';
import type { Cgroup } from '../cgroup/cgroup.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseSize, type Size } from '../util/size.js';

/** A tmpfs size: bytes, a {@link Size} string, or a share of RAM such as `"10%"` (tmpfs reads it). */
export type TmpfsSize = Size | `${number}%`;

/** Where things go on this host, shared by {@link preflight} and {@link applySetup}; defaults in {@link SETUP_DEFAULTS}. */
export interface SetupOptions {
  /** Where /proc is. Default `/proc`. */
  procRoot?: string;
  /** Where /sys is (transparent hugepages). Default `/sys`. */
  sysRoot?: string;
  /** The cgroup hierarchy; default: detected from `procRoot` (this process's view). */
  hierarchy?: CgroupHierarchy;
  /**
   * The agents' root cgroup (a Cgroup, or a path: absolute or relative to the cgroup mount).
   * Default: where `AgentHost` run from this process would put it, `<own cgroup>/<rootName>`;
   * in the true root cgroup that is `/sys/fs/cgroup/nova-agents`.
   */
  cgroupRoot?: string | Cgroup;
  /** Name of the agents' root when `cgroupRoot` is not given. Default `nova-agents`. */
  rootName?: string;
  /** The tmpfs scratch directory. Default `/var/nova-agents/scratch`. */
  scratchDir?: string;
  /** Size of the scratch tmpfs. Default `"10%"` of RAM (tmpfs takes memory only as files are written). */
  scratchSize?: TmpfsSize;
  /** The workspace pool's directory. Default `/var/nova-agents/active`. */
  workspaceRoot?: string;
  /** Number of workspace slots. Default 500: room for 300 agents and the slots still being cleaned. */
  workspaceSlots?: number;
}

export interface ResolvedSetupOptions {
  procRoot: string;
  sysRoot: string;
  hierarchy: CgroupHierarchy | undefined;
  cgroupRoot: string | Cgroup | undefined;
  rootName: string;
  scratchDir: string;
  scratchSize: string;
  workspaceRoot: string;
  workspaceSlots: number;
}

/** The defaults of {@link SetupOptions}: the recommended paths and sizes. */
export const SETUP_DEFAULTS = Object.freeze({
  procRoot: '/proc',
  sysRoot: '/sys',
  rootName: 'nova-agents',
  scratchDir: '/var/nova-agents/scratch',
  scratchSize: '10%',
  workspaceRoot: '/var/nova-agents/active',
  workspaceSlots: 500,
});

export function resolveSetupOptions(options: SetupOptions = {}): ResolvedSetupOptions {
  if (options === null || typeof options !== 'object') throw new AgentHostError(ErrorCode.INVALID_OPTION, 'setup options must be an object');
  const slots = options.workspaceSlots ?? SETUP_DEFAULTS.workspaceSlots;
  if (!Number.isSafeInteger(slots) || slots < 1 || slots > 100_000) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `workspaceSlots must be an integer from 1 to 100000, got ${slots}`);
  }
  for (const key of ['scratchDir', 'workspaceRoot'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || !value.startsWith('/'))) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `${key} must be an absolute path, got ${JSON.stringify(value)}`);
    }
  }
  return {
    procRoot: options.procRoot ?? SETUP_DEFAULTS.procRoot,
    sysRoot: options.sysRoot ?? SETUP_DEFAULTS.sysRoot,
    hierarchy: options.hierarchy,
    cgroupRoot: options.cgroupRoot,
    rootName: options.rootName ?? SETUP_DEFAULTS.rootName,
    scratchDir: stripSlash(options.scratchDir ?? SETUP_DEFAULTS.scratchDir),
    scratchSize: tmpfsSize(options.scratchSize ?? SETUP_DEFAULTS.scratchSize),
    workspaceRoot: stripSlash(options.workspaceRoot ?? SETUP_DEFAULTS.workspaceRoot),
    workspaceSlots: slots,
  };
}

/** The `size=` value for mount(8): `10%` as is, anything else in bytes. */
function tmpfsSize(size: TmpfsSize): string {
  if (typeof size === 'string' && /^\s*\d+(\.\d+)?\s*%\s*$/.test(size)) {
    const percent = Number(size.trim().slice(0, -1));
    if (percent > 0 && percent <= 100) return `${percent}%`;
  } else {
    const bytes = parseSize(size, 'scratchSize');
    if (bytes > 0 && bytes !== Infinity) return String(bytes);
  }
  throw new AgentHostError(ErrorCode.INVALID_OPTION, `scratchSize must be a positive size or a share of RAM like "10%", got ${JSON.stringify(size)}`);
}

function stripSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}
