/**
 * Admission by expected peak: each running agent reserves the larger of what it holds now and
 * what it is expected to reach; a candidate is admitted only if those reservations, the memory
 * used outside the agents and its own expected peak fit under the high threshold of the budget.
 * Admitting by what agents use now lets a burst in while everyone is small, and all protection
 * then comes from killing later.
 */

/** One running agent's claim on memory. */
export interface Reservation {
  readonly id: string;
  /** Its working set now, bytes. */
  readonly workingSet: number;
  /** Its expected peak, bytes (see `PeakBook.expected`). */
  readonly expected: number;
}

/** The figures of one admission decision. */
export interface MemoryAdmissionInput {
  /** The memory the agents share, bytes: the host's memory, or the limit of the cgroup it runs in. */
  budget: number;
  /** The fraction of `budget` that may be reserved: the monitor's `high` (0.85). */
  high: number;
  /** Bytes used outside the agents (the system, the orchestrator, page cache that cannot be dropped). Default 0. */
  baseline?: number;
  running: readonly Reservation[];
  /** The candidate's id and expected peak, bytes. */
  candidate: { readonly id: string; readonly expected: number };
}

/** The decision, with the figures a `queue` event reports. */
export interface MemoryAdmission {
  admit: boolean;
  /** Why not: the candidate's expected peak does not fit. */
  reason?: 'memory';
  /** Σ max(working set, expected peak) of the running agents, bytes. */
  reserved: number;
  /** The memory used outside the agents, bytes. */
  baseline: number;
  /** The candidate's expected peak, bytes. */
  expected: number;
  /** high × budget, bytes. */
  limit: number;
  /** Bytes still free under `limit` for new reservations (negative when overcommitted). */
  free: number;
}

/**
 * Admits the candidate when `baseline + reserved + expected ≤ high × budget`. With no agent
 * running it is admitted whatever its size: nothing would ever free memory for it, and its own
 * memory.max still bounds it.
 */
export function admitByMemory(input: MemoryAdmissionInput): MemoryAdmission {
  const reserved = input.running.reduce((sum, r) => sum + Math.max(r.workingSet, r.expected), 0);
  const baseline = Math.max(0, input.baseline ?? 0);
  const limit = input.high * input.budget;
  const expected = input.candidate.expected;
  const free = limit - baseline - reserved;
  const admit = input.running.length === 0 || expected <= free;
  return admit ? { admit, reserved, baseline, expected, limit, free } : { admit, reason: 'memory', reserved, baseline, expected, limit, free };
}
