/**
 * The contracts of an {@link AgentRun}: what the host gives it (its context, its spec), what it
 * needs of a cgroup (a `Cgroup`, or a fake in unit tests: the seam that keeps the host's logic
 * testable without a kernel), and how it is stopped.
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Limits } from '../cgroup/limits.js';
import type { SpawnOptions } from '../cgroup/spawn.js';
import { AGENT_CGROUP_ENV } from '../agent/locate.js';
import type { TimeoutPolicy } from '../timeout/index.js';
import type { AgentUser, AgentUserRecord, AgentUsers } from '../users/index.js';
import type { Agent, AgentEvents, AgentInfo } from './agent.js';
import type { ExpectedPeakInput } from './peaks.js';
import type { StateStore } from './state.js';
import type { WorkspacePool } from './workspaces.js';

/** The environment variable naming the agent, for its harness (`nova-agent-host/agent` reads it). */
export const AGENT_ID_ENV = 'NOVA_AGENT_ID';

/** What every process started in an agent's cgroup gets, so its harness can find the agent and its cgroup. */
export function agentEnv(id: string, cgroup: { readonly path: string }): Record<string, string> {
  return { [AGENT_ID_ENV]: id, [AGENT_CGROUP_ENV]: cgroup.path };
}

/**
 * How to stop: `signal` (default SIGTERM) to every process, then the cgroup killed `grace` ms
 * later (0: at once). A second stop while one is under way keeps the first reason and brings the
 * kill forward if its deadline is earlier, so a forced stop cuts a graceful one short. An eviction
 * notice (a signal, then a kill after a deadline) is this same sequence with its own signal and
 * grace: it needs no second path.
 */
export interface StopOptions {
  /** Ms from the signal to killing the cgroup; 0 kills at once. */
  grace: number;
  /** Sent to every process first when `grace` > 0. Default `SIGTERM`. */
  signal?: NodeJS.Signals;
  /** Carried in the `kill` event (relief and timeout figures). */
  details?: Record<string, unknown>;
}

/** What a run needs of its cgroup: a `Cgroup`, or a fake of these members in unit tests. */
export type RunCgroup = Pick<
  Cgroup,
  'path' | 'version' | 'exists' | 'spawn' | 'joined' | 'watch' | 'populated' | 'procs' | 'signal' | 'kill' | 'freeze' | 'thaw' | 'peakMemory' | 'delete'
>;

/** What the host gives each run: where to make its cgroup, its stores, and where its events go. */
export interface RunContext {
  /** Creates the agent's cgroup below the agents' root, with its limits. */
  createCgroup(id: string, limits: Limits): RunCgroup;
  readonly pool: Pick<WorkspacePool, 'lease' | 'release'> | undefined;
  /** Gives an agent its user (a dynamic uid, a HOME) and takes it back once nothing of the agent runs. */
  readonly users: Pick<AgentUsers, 'acquire' | 'release'>;
  readonly state: Pick<StateStore, 'write' | 'remove'>;
  /** Emits an agent event on the agent and, with the agent first, on the host. */
  emit<K extends keyof AgentEvents>(agent: Agent, event: K, ...args: Parameters<AgentEvents[K]>): void;
  /** The run reached `exited`: the host drops it from its registry (before `exit` is emitted). */
  ended(run: { readonly id: string }): void;
}

/** One spawn's settings, validated by the host. */
export interface RunSpec {
  readonly info: AgentInfo;
  readonly limits: Limits;
  /** What its expected peak is worked out from (admission by expected peak): the spawn's figures, its limits in bytes. */
  readonly peak?: ExpectedPeakInput;
  /** Options of the main process (cwd, env, stdio, forkInside...). */
  readonly spawn: SpawnOptions;
  /** Lease a workspace slot (its cwd unless `spawn.cwd` is set). */
  readonly workspace: boolean;
  /** The user it runs as; `undefined`: the host's `user`. */
  readonly user?: AgentUser;
  readonly keepCgroup: boolean;
  readonly timeouts: TimeoutPolicy | undefined;
  /** Grace of `agent.kill()` without `force`, ms. */
  readonly killGrace: number;
}

/** What a previous orchestrator left of an agent found alive: its cgroup and its record. */
export interface Adopted {
  readonly cgroup: RunCgroup;
  /** The recorded main pid, only if it is still in the cgroup (otherwise it may be recycled). */
  readonly pid: number | undefined;
  readonly workspace: string | undefined;
  /** Who it runs as, from its record: released when it ends. */
  readonly user?: AgentUserRecord;
  readonly startedAt: number;
}
