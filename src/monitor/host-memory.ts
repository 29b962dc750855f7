/**
 * Host memory against the budget (see budget.ts): /proc/meminfo and host PSI for the machine,
 * the budget cgroup's working set, OOM counter and PSI when a cgroup's limit is the tightest.
 * Files are kept open (procfs and cgroupfs regenerate them on every read at offset 0).
 */
import { join } from 'node:path';
import { Cgroup } from '../cgroup/cgroup.js';
import { OpenFile } from '../cgroup/files.js';
import { byteKeys, parseMeminfoBytes, parsePsiBytes, psiOf, type Psi } from '../cgroup/parse.js';
import { emptySample, type MemorySampler } from '../cgroup/stats.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { findBudget, type Budget, type BudgetOption } from './budget.js';
import type { HostMemory } from './types.js';

/** This process's cgroup, or `undefined` where there is no usable hierarchy: where the walk for limits starts by default. */
export function ownCgroup(): Cgroup | undefined {
  try {
    return Cgroup.self();
  } catch {
    return undefined;
  }
}

/**
 * How often the budget's limits are looked up again: a pod can be resized in place, a slice's
 * MemoryMax= changed. Usage is read every time; the walk up the hierarchy only this often.
 */
export const BUDGET_REFRESH_MS = 10_000;

/** Host memory from parsed meminfo (bytes): used = total − MemAvailable. */
export function toHostMemory(meminfo: Record<string, number>, pressure?: Psi): HostMemory {
  const total = meminfo.MemTotal;
  if (total === undefined || !(total > 0)) {
    throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, 'meminfo has no MemTotal');
  }
  // MemAvailable needs Linux 3.14; before it, free + buffers + page cache is the usual estimate.
  const available = Math.min(
    total,
    meminfo.MemAvailable ?? (meminfo.MemFree ?? 0) + (meminfo.Buffers ?? 0) + (meminfo.Cached ?? 0),
  );
  const used = total - available;
  return {
    total,
    available,
    used,
    usedRatio: used / total,
    swapTotal: meminfo.SwapTotal ?? 0,
    swapFree: meminfo.SwapFree ?? 0,
    ...(pressure && { pressure }),
    source: 'meminfo',
  };
}

/**
 * The machine's figures seen through a smaller budget. Used is the budget cgroup's working set
 * (current − inactive file cache, as the kubelet counts it), or the machine's own use when no
 * cgroup can be read; never less than the budget minus what the machine still has available,
 * since a limit the machine cannot back up protects nothing.
 */
export function toBudgetMemory(
  machine: HostMemory,
  budget: Budget,
  cgroup?: { workingSet: number; oomKills: number; pressure: Psi | undefined },
): HostMemory {
  if (budget.source === 'meminfo') return machine;
  const total = budget.total;
  const available = Math.max(0, Math.min(total - (cgroup?.workingSet ?? machine.used), machine.available));
  const used = total - available;
  const pressure = cgroup?.pressure ?? machine.pressure;
  return {
    ...machine,
    total,
    available,
    used,
    usedRatio: used / total,
    ...(pressure && { pressure }),
    source: budget.source,
    ...(budget.cgroup && { cgroup: budget.cgroup.path }),
    ...(cgroup && { oomKills: cgroup.oomKills }),
  };
}

/** Where the budget walk starts and what the `budget` option says (see {@link findBudget}). */
export interface BudgetInput {
  /** The agents' root, or any cgroup whose ancestors' limits bind the host; `undefined`: meminfo only. */
  from?: () => Cgroup | undefined;
  option?: BudgetOption;
}

/** The meminfo lines {@link toHostMemory} uses, picked out of the file's fifty-odd in place. */
const MEMINFO = ['MemTotal', 'MemAvailable', 'MemFree', 'Buffers', 'Cached', 'SwapTotal', 'SwapFree'] as const;
const MEMINFO_KEYS = byteKeys(...MEMINFO);

export class HostMemoryReader {
  readonly #values = new Float64Array(MEMINFO.length);
  readonly #parseMeminfo = (bytes: Buffer, length: number): Float64Array => parseMeminfoBytes(bytes, length, MEMINFO_KEYS, this.#values);
  readonly #psi = new Float64Array(8);
  readonly #sample = emptySample();
  readonly #parsePsi = (bytes: Buffer, length: number): Float64Array => parsePsiBytes(bytes, length, this.#psi);
  readonly #meminfo: OpenFile;
  /** Dropped after the first failure: a kernel without PSI never grows it. */
  #pressure: OpenFile | undefined;
  readonly #input: BudgetInput;
  #budget: { budget: Budget; from: string | undefined; at: number } | undefined;
  #sampler: { path: string; sampler: MemorySampler } | undefined;

  constructor(procRoot = '/proc', budget: BudgetInput = {}) {
    this.#meminfo = new OpenFile(procRoot, 'meminfo');
    this.#pressure = new OpenFile(join(procRoot, 'pressure'), 'memory');
    this.#input = budget;
  }

  /** The machine's memory from /proc alone. */
  machine(): HostMemory {
    let values: Float64Array | undefined;
    try {
      values = this.#meminfo.readBytes(this.#parseMeminfo);
    } catch (error) {
      throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, `cannot read ${this.#meminfo.path}: ${(error as Error).message}`, {
        file: this.#meminfo.path,
        cause: error,
      });
    }
    if (values === undefined) {
      throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, `${this.#meminfo.path} does not exist (is /proc mounted?)`, {
        file: this.#meminfo.path,
      });
    }
    try {
      const meminfo: Record<string, number> = {};
      for (let i = 0; i < MEMINFO.length; i++) if (!Number.isNaN(values[i])) meminfo[MEMINFO[i]!] = values[i]!;
      return toHostMemory(meminfo, this.#readPressure());
    } catch (error) {
      if (error instanceof AgentHostError && error.code === ErrorCode.HOST_MEMORY_UNAVAILABLE) {
        throw new AgentHostError(error.code, `${this.#meminfo.path}: ${error.message}`, { file: this.#meminfo.path });
      }
      throw error;
    }
  }

  /** The budget now: limits looked up again every {@link BUDGET_REFRESH_MS}, or at once when the start of the walk changed. */
  budget(memTotal = this.machine().total): Budget {
    const from = this.#input.from?.();
    const cached = this.#budget;
    if (cached && cached.from === from?.path && Date.now() - cached.at < BUDGET_REFRESH_MS) return cached.budget;
    const budget = findBudget({ memTotal, from, option: this.#input.option });
    this.#budget = { budget, from: from?.path, at: Date.now() };
    return budget;
  }

  /** Memory against the budget: the figures levels, admission and relief work with. */
  read(): HostMemory {
    const machine = this.machine();
    const budget = this.budget(machine.total);
    if (budget.cgroup === undefined) return toBudgetMemory(machine, budget);
    const sampler = this.#samplerOf(budget.cgroup);
    const usage = sampler.usage();
    const sample = this.#sample;
    if (usage === undefined || !sampler.read(sample)) {
      // The cgroup is gone (a root removed and made again): look the budget up anew next time.
      this.#budget = undefined;
      return machine;
    }
    return toBudgetMemory(machine, budget, { workingSet: usage.workingSet, oomKills: sample.events.oomKill, pressure: sample.pressure });
  }

  #samplerOf(cgroup: Cgroup): MemorySampler {
    if (this.#sampler?.path !== cgroup.path) {
      this.#sampler?.sampler.close();
      this.#sampler = { path: cgroup.path, sampler: cgroup.sampler() };
    }
    return this.#sampler.sampler;
  }

  #readPressure(): Psi | undefined {
    if (this.#pressure === undefined) return undefined;
    try {
      const values = this.#pressure.readBytes(this.#parsePsi);
      if (values !== undefined) return psiOf(values);
    } catch {
      // EOPNOTSUPP (psi disabled) or an unreadable format: host PSI is optional.
    }
    this.#pressure.close();
    this.#pressure = undefined;
    return undefined;
  }

  close(): void {
    this.#meminfo.close();
    this.#pressure?.close();
    this.#sampler?.sampler.close();
    this.#sampler = undefined;
  }
}
