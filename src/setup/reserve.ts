/**
 * The arithmetic of the capacity plan, in one place for `planCapacity()` and for the limits
 * `AgentHost.start()` writes on its agents' root: the budget minus a system reserve and a
 * headroom is what the agents may use together (the kubelet's "allocatable"), scaled from
 * 1,536 GB − 32 GB system − 200 GB headroom = 1,304 GB for agents.
 */
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseSize, type Size } from '../util/size.js';

/** A size, or a share of the total memory such as `"13%"`. */
export type MemoryShare = Size | `${number}%`;

/** What is kept out of the agents' root (part of `AgentHostOptions` and `planCapacity()`'s inputs). */
export interface ReserveOptions {
  /**
   * Memory for the kernel, page cache and buffers. Default: 1/48 of the total (32 GB of 1,536 GB,
   * about 2%), at least 1 GiB — a small host still needs its kernel and page cache — but never
   * more than 1/8 of a total under 8 GiB (a 1 GiB pod cannot give its whole limit away).
   */
  system?: MemoryShare;
  /** Safety headroom for spikes, the orchestrator's own memory among them. Default: 25/192 of the total (200 GB of 1,536 GB, about 13%). */
  headroom?: MemoryShare;
}

/** The split of a total: what is reserved and what the agents may use together. */
export interface Reserve {
  systemReserve: number;
  headroom: number;
  /** total − systemReserve − headroom, never below 0. */
  availableForAgents: number;
}

/** The limits of the agents' root that keep the agents, together, inside what is available for them. */
export interface AgentsRootLimits {
  /** memory.max (v1 memory.limit_in_bytes and memsw): the kernel OOM-kills inside the root beyond it. */
  memoryMax: number;
  /** memory.high (v1 memory.soft_limit_in_bytes): a little below, so the group is throttled first. */
  memoryHigh: number;
}

export const GiB = 2 ** 30;
const SYSTEM_SHARE = 32 / 1536;
const HEADROOM_SHARE = 200 / 1536;
/**
 * memory.high of the root as a share of its memory.max: above the monitor's 95 % (relief acts
 * first), below the max (when relief cannot keep up, the kernel throttles and reclaims the whole
 * group before it has to OOM-kill one agent at the max).
 */
const ROOT_HIGH_SHARE = 31 / 32;

/** Splits `total` into the system reserve, the headroom and what is left for the agents. */
export function reserveOf(total: number, options: ReserveOptions = {}): Reserve {
  const systemReserve =
    options.system !== undefined
      ? share(options.system, total, 'reserve.system')
      : Math.max(Math.round(total * SYSTEM_SHARE), Math.min(GiB, Math.round(total / 8)));
  const headroom = options.headroom !== undefined ? share(options.headroom, total, 'reserve.headroom') : Math.round(total * HEADROOM_SHARE);
  return { systemReserve, headroom, availableForAgents: Math.max(0, total - systemReserve - headroom) };
}

/** The kernel keeps memory limits in whole pages (rounding down): the figures are written so, and read back the same. */
const PAGE = 4096;

/** The root's limits for `available` bytes: memory.max at it, memory.high 1/32 below, in whole pages. */
export function agentsRootLimits(available: number): AgentsRootLimits {
  const pages = (bytes: number): number => Math.floor(bytes / PAGE) * PAGE;
  return { memoryMax: pages(available), memoryHigh: pages(available * ROOT_HIGH_SHARE) };
}

function share(value: MemoryShare, total: number, name: string): number {
  if (typeof value === 'string' && value.trim().endsWith('%')) {
    const percent = Number(value.trim().slice(0, -1));
    if (!Number.isFinite(percent) || percent < 0 || percent > 100 || value.trim() === '%') {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `${name} must be a size or a percentage from 0% to 100%, got ${JSON.stringify(value)}`);
    }
    return Math.round((total * percent) / 100);
  }
  const bytes = parseSize(value, name);
  if (bytes === Infinity) throw new AgentHostError(ErrorCode.INVALID_OPTION, `${name} must be finite`);
  return bytes;
}
