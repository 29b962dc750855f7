/**
 * Reattaching after an orchestrator restart: every cgroup left in the agents' root is either
 * adopted (it still has processes; the new host takes over its workspace and uid leases) or removed
 * with its record, workspace lease and user (it has none). Records without a cgroup and leases of
 * dead owners are released too, so a crash at any step (between leasing a slot and writing the
 * record, say) leaves nothing unaccounted for. (A uid leased by a crashed host without a record is
 * reclaimed by the dynamic users themselves, once no process runs with it.)
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import type { AgentUserRecord, AgentUsers } from '../users/index.js';
import type { Logger } from './logger.js';
import { isOtherLiveOwner } from './ownership.js';
import type { AgentRecord, StateStore } from './state.js';
import type { WorkspacePool } from './workspaces.js';

/** What reattaching works on, and the host's hook that adopts one live agent. */
export interface ReattachContext {
  readonly root: Cgroup;
  readonly state: StateStore;
  readonly pool: WorkspacePool | undefined;
  readonly users: Pick<AgentUsers, 'adopt' | 'release'>;
  readonly log: Logger;
  /**
   * Adopts a live agent: `pid` is its recorded main pid if still in its cgroup (otherwise that
   * number may already belong to an unrelated process), `record` what was recorded, if anything.
   */
  adopt(cgroup: Cgroup, record: AgentRecord | undefined, pid: number | undefined): void;
}

/** Adopts the live agents a previous orchestrator left in the root; removes what the dead ones left. */
export async function reattach(ctx: ReattachContext): Promise<void> {
  const { root, state, pool, users, log } = ctx;
  const release = (workspace: string | undefined): void => {
    if (workspace === undefined || !pool) return;
    try {
      pool.release(workspace);
    } catch (error) {
      log.warn({ err: error, workspace }, 'could not release a workspace');
    }
  };
  // The user last: the agent's cgroup is gone (or was never made), so nothing runs as its uid.
  const releaseAll = (id: string, record: AgentRecord | undefined): void => {
    release(record?.workspace);
    try {
      users.release(id, record?.user);
    } catch (error) {
      log.warn({ err: error, id, uid: record?.user?.uid }, 'could not release an agent user');
    }
    state.remove(id);
  };
  const seen = new Set<string>();
  for (const cgroup of root.children()) {
    const id = cgroup.name;
    seen.add(id);
    const record = state.read(id);
    if (!cgroup.populated()) {
      await cgroup.delete().catch((error: unknown) => log.warn({ err: error, id }, 'could not remove a dead agent cgroup'));
      releaseAll(id, record);
      continue;
    }
    if (record?.workspace) pool?.adopt(record.workspace, id);
    if (record?.user) users.adopt(id, record.user);
    const pid = record?.pid !== undefined && cgroup.procs().includes(record.pid) ? record.pid : undefined;
    ctx.adopt(cgroup, record, pid);
  }
  for (const id of state.ids()) {
    if (!seen.has(id)) releaseAll(id, state.read(id));
  }
  for (const [workspace, lease] of pool?.leases() ?? []) {
    if (lease.pid !== process.pid && !isOtherLiveOwner(lease.pid)) release(workspace);
  }
}
