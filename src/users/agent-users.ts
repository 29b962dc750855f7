/**
 * The host's side of agent users: resolves each agent's `user`, leases a dynamic uid, makes its
 * HOME, and undoes all of it when the agent ends (or, after a restart, when an adopted one ends).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DynamicUsers, type DynamicUsersOptions } from './dynamic.js';
import { defaultUser, resolveUser, type AgentUser, type ResolvedUser } from './user.js';

/** Options of agent users (`AgentHostOptions.users`): the dynamic range, where HOMEs go. */
export interface AgentUsersOptions extends DynamicUsersOptions {
  /**
   * Where an agent without a workspace gets its HOME: a directory of its own (mode 0700, its
   * user's) below this one (mode 0711: reachable, not listable), removed when it ends.
   * Default `/run/nova-agent-homes`.
   */
  homeRoot?: string;
}

/** Who an agent runs as, as kept in its record (so a restarted host can release it). */
export interface AgentUserRecord {
  uid: number;
  gid: number;
  /** Leased from the dynamic range: released when the agent ends. */
  dynamic: boolean;
  /** The HOME made for it (none when its workspace is its HOME): removed when it ends. */
  home?: string;
}

/** What a spawn needs to run as an agent's user: its ids, and HOME for its environment. */
export interface UserSpawnOptions {
  uid: number;
  gid: number;
  env: { HOME: string };
}

/** Resolves, leases and releases agents' users for one host. */
export class AgentUsers {
  /** The host's `user`, for spawns that give none. */
  readonly default: AgentUser;
  readonly dynamic: DynamicUsers;
  readonly #options: AgentUsersOptions;
  #homeRootReady = false;

  /** Validates the host's options (a non-root orchestrator asking for other users is refused here). */
  constructor(user: AgentUser | undefined, options: AgentUsersOptions = {}) {
    this.default = user ?? defaultUser();
    this.#options = options;
    this.dynamic = new DynamicUsers(options);
    this.resolve(this.default);
  }

  /** Validates and resolves a spawn's `user` (or the host's default): typed errors, nothing leased. */
  resolve(user: AgentUser | undefined): ResolvedUser {
    return resolveUser(user ?? this.default, this.#options.database);
  }

  /**
   * Gives an agent its user: leases a dynamic uid, makes a HOME unless `ownHome` is false (its
   * workspace is its HOME then). `undefined` when it runs as the orchestrator's own user.
   */
  acquire(agent: string, user: AgentUser | undefined, ownHome: boolean): AgentUserRecord | undefined {
    const resolved = this.resolve(user);
    if (resolved === undefined) return undefined;
    const ids = resolved === 'dynamic' ? this.dynamic.lease(agent) : resolved;
    const record: AgentUserRecord = { ...ids, dynamic: resolved === 'dynamic' };
    try {
      if (ownHome) record.home = this.#makeHome(agent, ids.uid, ids.gid);
    } catch (error) {
      this.release(agent, record);
      throw error;
    }
    return record;
  }

  /** Takes over an adopted agent's dynamic uid lease (its record says which). */
  adopt(agent: string, record: AgentUserRecord): void {
    if (record.dynamic) this.dynamic.adopt(record.uid, agent);
  }

  /** Undoes {@link acquire} for `agent`, once no process of it is left: its HOME removed, its uid free again. */
  release(agent: string, record: AgentUserRecord | undefined): void {
    if (!record) return;
    if (record.home !== undefined) removeHome(record.home);
    if (record.dynamic) this.dynamic.release(record.uid, agent);
  }

  #makeHome(agent: string, uid: number, gid: number): string {
    const root = this.#options.homeRoot ?? '/run/nova-agent-homes';
    if (!this.#homeRootReady) {
      mkdirSync(root, { recursive: true, mode: 0o711 });
      chmodSync(root, 0o711);
      this.#homeRootReady = true;
    }
    let home: string;
    try {
      // A fresh name: never a directory an earlier agent (or anyone) left or linked there.
      home = mkdtempSync(join(root, `${agent}-`));
    } catch (error) {
      // The root was removed (a reboot of /run under a long-lived host): make it again, once.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !this.#homeRootReady) throw error;
      this.#homeRootReady = false;
      return this.#makeHome(agent, uid, gid);
    }
    chmodSync(home, 0o700);
    chownSync(home, uid, gid);
    return home;
  }
}

/** Removes a HOME: one rmdir when the agent left it empty, else `rm -r` (which lstat()s: a link is removed, never followed). */
function removeHome(home: string): void {
  try {
    rmdirSync(home);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    rmSync(home, { recursive: true, force: true });
  }
}

/** The spawn options that run a process as `user`, HOME being `workspace` when it has one. */
export function userSpawnOptions(user: AgentUserRecord, workspace: string | undefined): UserSpawnOptions {
  return { uid: user.uid, gid: user.gid, env: { HOME: workspace ?? user.home ?? '/' } };
}
