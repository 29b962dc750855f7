/**
 * Which user an agent runs as: the `user` option of the host and of a spawn, validated and
 * resolved to a uid/gid pair before anything is created.
 */
import { AgentHostError, ErrorCode } from '../errors.js';
import { lookupUser, type UserDatabaseFiles } from './passwd.js';

/**
 * The user an agent runs as:
 * - `'dynamic'`: a uid (and gid) of its own from the dynamic users' range, leased for its life
 *   and released when it ends, as systemd's `DynamicUser=`. The default of a root orchestrator.
 * - `{ uid, gid }`: those ids.
 * - a user name: its uid and primary gid from `/etc/passwd`.
 * - `'root'`: the orchestrator's own user, unchanged (root when it runs as root: the agent can then
 *   raise its own limits and leave its cgroup). The default of a non-root orchestrator, which
 *   cannot change users.
 *
 * Supplementary groups are always dropped when the user changes.
 */
export type AgentUser = 'dynamic' | 'root' | (string & {}) | { uid: number; gid: number };

/** A user option resolved: `'dynamic'`, fixed ids, or `undefined` for "the orchestrator's own user". */
export type ResolvedUser = 'dynamic' | { uid: number; gid: number } | undefined;

const MAX_ID = 0xffff_fffe;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

/** The default `user` of an orchestrator running as `uid`: dynamic users for root, its own user otherwise. */
export function defaultUser(uid = process.getuid?.()): AgentUser {
  return uid === 0 ? 'dynamic' : 'root';
}

/**
 * Validates and resolves a `user` option (names through `/etc/passwd`): `ERR_INVALID_OPTION` for a
 * malformed one, or for another user when the orchestrator (`ownUid`) is not root and cannot
 * change users; `ERR_USER_NOT_FOUND` for an unknown name.
 */
export function resolveUser(user: AgentUser, database: UserDatabaseFiles = {}, ownUid = process.getuid?.()): ResolvedUser {
  let resolved: ResolvedUser;
  if (user === 'root') {
    resolved = undefined;
  } else if (user === 'dynamic') {
    resolved = 'dynamic';
  } else if (typeof user === 'string') {
    if (!NAME.test(user)) throw new AgentHostError(ErrorCode.INVALID_OPTION, `user ${JSON.stringify(user)} is not a valid user name`);
    const entry = lookupUser(user, database);
    resolved = { uid: entry.uid, gid: entry.gid };
  } else if (user !== null && typeof user === 'object' && isId(user.uid) && isId(user.gid)) {
    resolved = { uid: user.uid, gid: user.gid };
  } else {
    throw new AgentHostError(
      ErrorCode.INVALID_OPTION,
      `user must be 'dynamic', 'root', a user name or { uid, gid } with integer ids from 0 to ${MAX_ID}, got ${JSON.stringify(user)}`,
    );
  }
  // Asking for one's own ids changes nothing: no setuid, and no refusal below.
  if (typeof resolved === 'object' && resolved.uid === ownUid && resolved.gid === process.getgid?.()) resolved = undefined;
  if (resolved !== undefined && ownUid !== 0) {
    throw new AgentHostError(
      ErrorCode.INVALID_OPTION,
      `user ${JSON.stringify(user)}: the orchestrator runs as uid ${ownUid ?? '?'}, not root, so it cannot start agents as other users ` +
        `(its agents share its user; see "Agent users" in docs/host.md)`,
    );
  }
  return resolved;
}

function isId(id: unknown): id is number {
  return Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) <= MAX_ID;
}
