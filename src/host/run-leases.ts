/**
 * What a run leases for its agent and gives back when it ends: its user (a dynamic uid, a HOME)
 * and its workspace slot. The user comes first, because the slot is handed to it; at the end the
 * slot goes first and the user last, once nothing of the agent is left to go on using its uid.
 */
import type { SpawnOptions } from '../cgroup/spawn.js';
import { userSpawnOptions, type AgentUserRecord } from '../users/index.js';
import type { RunContext, RunSpec } from './run-contract.js';

/** One run's user and workspace leases (owned by its `AgentRun`). */
export class RunLeases {
  readonly #id: string;
  readonly #ctx: Pick<RunContext, 'pool' | 'users'>;
  #user: AgentUserRecord | undefined;
  #workspace: string | undefined;

  /** `held`: what an adopted agent's record says it holds (the new host took its leases over). */
  constructor(id: string, ctx: Pick<RunContext, 'pool' | 'users'>, held: { user?: AgentUserRecord; workspace?: string } = {}) {
    this.#id = id;
    this.#ctx = ctx;
    this.#user = held.user;
    this.#workspace = held.workspace;
  }

  /** Who the agent runs as, when not the orchestrator's user. */
  get user(): AgentUserRecord | undefined {
    return this.#user;
  }
  get workspace(): string | undefined {
    return this.#workspace;
  }
  /** Where the agent starts by default: its workspace, else its own HOME (none as the orchestrator's user). */
  get home(): string | undefined {
    return this.#workspace ?? this.#user?.home;
  }

  /** Leases the user, then the slot (handed to that user). On a throw, {@link releases} undoes what was taken. */
  acquire(spec: Pick<RunSpec, 'user' | 'workspace'>): void {
    this.#user = this.#ctx.users.acquire(this.#id, spec.user, !spec.workspace);
    if (spec.workspace) this.#workspace = this.#ctx.pool!.lease(this.#id, this.#user);
  }

  /** The steps that end the leases, in order, each for the run to guard on its own. */
  releases(): Array<() => void> {
    const workspace = this.#workspace;
    return [() => workspace !== undefined && this.#ctx.pool!.release(workspace), () => this.#ctx.users.release(this.#id, this.#user)];
  }
}

/**
 * `options` for a process in an agent's cgroup, as the agent's user (`who.user`; unchanged without
 * one): a root process there would be one the agent's limits could not be kept from. HOME is its
 * workspace or its own HOME, unless `options.env` sets it.
 */
export function asUser(who: { readonly user: AgentUserRecord | undefined; readonly workspace: string | undefined }, options: SpawnOptions): SpawnOptions {
  if (!who.user) return options;
  const { env, ...ids } = userSpawnOptions(who.user, who.workspace);
  return { ...options, ...ids, env: { ...env, ...options.env } };
}
