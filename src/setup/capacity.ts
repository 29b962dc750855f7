/**
 * The capacity plan as arithmetic: every agent at its 4G limit, the system and a headroom kept back:
 *   1,536 GB − 32 GB system − 200 GB headroom = 1,304 GB / 4 GB = 326 → "~325" agents, 300 recommended.
 */
import { DEFAULT_AGENT_LIMITS } from '../cgroup/limits.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { findBudget, type BudgetOptions, type BudgetSource } from '../monitor/budget.js';
import { groupDigits, parseSize, type Size } from '../util/size.js';
import { resolveSetupOptions, type SetupOptions } from './options.js';
import { memTotal } from './read.js';
import { agentsRoot } from './root.js';
import { agentsRootLimits, GiB, reserveOf, type AgentsRootLimits, type MemoryShare, type ReserveOptions } from './reserve.js';

export type { MemoryShare };


/** Inputs of {@link planCapacity}; the defaults scale the 1.5 TB reference plan (32 GB system, 200 GB headroom) to this host. */
export interface CapacityOptions extends BudgetOptions, Pick<SetupOptions, 'cgroupRoot' | 'rootName' | 'hierarchy'> {
  /**
   * Memory of the host. Default: its memory budget, as the host's monitor counts it — the tightest
   * of MemTotal of `<procRoot>/meminfo`, every memory limit above the agents' root (a container's, a
   * pod's, a slice's; `cgroupRoot`, `rootName` and `hierarchy` say where that root is) and `budget`.
   * With a `procRoot` other than `/proc` and no `hierarchy`, MemTotal alone.
   */
  totalMemory?: Size;
  /** Memory for the kernel, page cache and buffers. Default: see {@link ReserveOptions.system}. */
  systemReserve?: MemoryShare;
  /** Safety headroom for spikes. Default: see {@link ReserveOptions.headroom}. */
  headroom?: MemoryShare;
  /** memory.max of each agent. Default `4G`: a Rust build needs 1–2G, tests with coverage 1–2G, plus 1G headroom. */
  perAgentLimit?: Size;
  /** Where /proc is, for the default totalMemory. Default `/proc`. */
  procRoot?: string;
}

/** The capacity table worked out for one host: how many agents fit at their limit. */
export interface CapacityPlan {
  /** All sizes in bytes. */
  totalMemory: number;
  /** Where {@link totalMemory} comes from: the `totalMemory` option counts as `option`. */
  source: BudgetSource;
  /** The cgroup whose limit is the total (source `cgroup`, or a `budget` cgroup). */
  cgroup?: string;
  systemReserve: number;
  headroom: number;
  /** totalMemory − systemReserve − headroom (never below 0). */
  availableForAgents: number;
  /** The limits `AgentHost.start()` writes on its agents' root for this plan: memory.max = {@link availableForAgents}. */
  agentsRoot: AgentsRootLimits;
  perAgentLimit: number;
  /** floor(availableForAgents / perAgentLimit): every agent at its limit still fits. */
  maxConcurrent: number;
  /** {@link maxConcurrent} rounded down to a round figure ("~325" for 326 on 1.5 TB). */
  approxMaxConcurrent: number;
  /** What to run at most: about 5% below the maximum, rounded down to a round figure (300 of "~325" on 1.5 TB). */
  recommendedMax: number;
  /** The capacity table with these figures. */
  table: string;
}

/** Keep this share of the maximum free: 300 of "~325" leaves room for agents that overshoot before they are stopped. */
const BUFFER_SHARE = 0.05;

/**
 * How many agents this host can run with every one at its memory limit, as the capacity
 * table works it out: RAM minus system reserve and headroom, divided by the per-agent limit.
 */
export function planCapacity(options: CapacityOptions = {}): CapacityPlan {
  const { total: totalMemory, source, cgroup } = options.totalMemory !== undefined
    ? { total: positive(options.totalMemory, 'totalMemory'), source: 'option' as const, cgroup: undefined }
    : hostBudget(options);
  const { systemReserve, headroom, availableForAgents } = reserveOf(totalMemory, { system: options.systemReserve, headroom: options.headroom });
  const perAgentLimit = positive(options.perAgentLimit ?? DEFAULT_AGENT_LIMITS.memoryMax!, 'perAgentLimit');
  const maxConcurrent = Math.floor(availableForAgents / perAgentLimit);
  const approxMaxConcurrent = roundDown(maxConcurrent);
  const recommendedMax = roundDown(Math.floor(maxConcurrent * (1 - BUFFER_SHARE)));
  const plan = {
    totalMemory,
    source,
    ...(cgroup && { cgroup: cgroup.path }),
    systemReserve,
    headroom,
    availableForAgents,
    agentsRoot: agentsRootLimits(availableForAgents),
    perAgentLimit,
    maxConcurrent,
    approxMaxConcurrent,
    recommendedMax,
  };
  return { ...plan, table: formatCapacity(plan) };
}


/**
 * The budget the host's monitor would count, from above the agents' root: the plan decides the
 * root's own limit, so that limit is not an input of it.
 */
function hostBudget(options: CapacityOptions): { total: number; source: BudgetSource; cgroup: { path: string } | undefined } {
  const procRoot = options.procRoot ?? '/proc';
  const total = memTotal(procRoot) ?? unknownMemory();
  const realCgroups = options.hierarchy !== undefined || procRoot === '/proc';
  const placed = realCgroups ? agentsRoot(resolveSetupOptions({ procRoot, hierarchy: options.hierarchy, cgroupRoot: options.cgroupRoot, rootName: options.rootName })) : undefined;
  return findBudget({ memTotal: total, from: placed?.parent, option: options.budget });
}

/** Round figures: steps of 25 from 100 agents, 5 from 20, single agents below. */
function roundDown(count: number): number {
  const step = count >= 100 ? 25 : count >= 20 ? 5 : 1;
  return Math.floor(count / step) * step;
}

/**
 * The capacity table. Sizes in GB, binary (1,536 GB are 1.5 TiB);
 * whole numbers with thousands separators, else one decimal.
 */
export function formatCapacity(plan: Omit<CapacityPlan, 'table' | 'source' | 'agentsRoot'> & { source?: BudgetSource }): string {
  const gb = (bytes: number): string => {
    const value = bytes / GiB;
    const digits = Number.isInteger(value) ? 0 : 1;
    return `${groupDigits(value, digits)} GB`;
  };
  // Sizes end at column 29 (at least one space after the label); agent counts start at column 23.
  const size = (label: string, bytes: number, note = ''): string => {
    const value = gb(bytes);
    return `${label}${' '.repeat(Math.max(1, 29 - label.length - value.length))}${value}${note ? `   ${note}` : ''}`;
  };
  const count = (label: string, text: string): string => `${label.padEnd(23)}${text}`;
  const rule = '─'.repeat(29);
  const percent = plan.totalMemory > 0 ? Math.round((plan.headroom / plan.totalMemory) * 100) : 0;
  const total = plan.source === undefined || plan.source === 'meminfo' || (plan.source === 'option' && plan.cgroup === undefined) ? 'Total RAM:' : 'Memory limit:';
  return [
    size(total, plan.totalMemory, plan.cgroup === undefined ? '' : `(${plan.cgroup})`),
    rule,
    size('System/kernel:', plan.systemReserve, '(page cache, buffers, kernel)'),
    size('Safety headroom:', plan.headroom, `(~${percent}%, for spikes)`),
    size('Available for agents:', plan.availableForAgents),
    rule,
    size('Per agent limit:', plan.perAgentLimit),
    count('Max concurrent:', `~${plan.approxMaxConcurrent} agents`),
    '',
    count('Recommended max:', `${plan.recommendedMax} agents (leaves buffer)`),
  ].join('\n');
}

function positive(value: Size, name: string): number {
  const bytes = parseSize(value, name);
  if (bytes === 0 || bytes === Infinity) throw new AgentHostError(ErrorCode.INVALID_OPTION, `${name} must be a positive, finite size`);
  return bytes;
}


function unknownMemory(): never {
  throw new AgentHostError(ErrorCode.INVALID_OPTION, 'cannot read MemTotal from /proc/meminfo: pass totalMemory');
}
