/**
 * Dynamic agent users, as systemd's `DynamicUser=`: a uid (and the same gid) per agent from a
 * range no account uses, leased with the same crash-safe lease files as workspace slots. A lease
 * whose orchestrator died is reclaimed only once no process runs with that uid any more, so two
 * live agents never share one, even across a crash or between hosts sharing the lease directory.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseIdMap, parseStatusUids } from './ids.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { LeaseDir, type LeaseRecord } from '../host/leases.js';
import { readUserDatabase, type UserDatabaseFiles } from './passwd.js';

/** Options of the dynamic users' range (`AgentHostOptions.users`). */
export interface DynamicUsersOptions {
  /** First uid of the range. Default 200000 (far above the accounts of a normal system, as systemd's 61184…65519 is above its). */
  first?: number;
  /** Number of uids in the range: the most agents with dynamic users at once. Default 500, as many as the workspace slots. */
  count?: number;
  /**
   * Where the uid leases live. Default `/run/nova-agent-host/users`: machine-wide, so every host
   * on the machine leases from the same range without collisions; on a tmpfs, so a reboot frees it.
   */
  leaseDir?: string;
  /** The user database checked for taken ids. Default `/etc/passwd` and `/etc/group`. */
  database?: UserDatabaseFiles;
  /** Where to look for processes still running with a uid. Default `/proc`. */
  procRoot?: string;
}

/** The uid/gid pair of a dynamic user; gid = uid. */
export interface DynamicUser {
  uid: number;
  gid: number;
}

const MAX_ID = 0xffff_fffe; // (uid_t)-1 means "unchanged" to setuid(2)

/** A pool of uids leased to agents. */
export class DynamicUsers {
  readonly first: number;
  readonly count: number;
  readonly #leases: LeaseDir;
  readonly #database: UserDatabaseFiles;
  readonly #procRoot: string;
  #takenCache: { key: string; ids: Set<number> } | undefined;
  #mappedCache: ((id: number) => boolean) | undefined;

  /** Validates the options only; the lease directory is made on first use. */
  constructor(options: DynamicUsersOptions = {}) {
    const first = options.first ?? 200_000;
    const count = options.count ?? 500;
    if (!Number.isSafeInteger(first) || first < 1000) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `users.first must be an integer ≥ 1000 (below are system accounts), got ${first}`);
    }
    if (!Number.isSafeInteger(count) || count < 1 || first + count - 1 > MAX_ID) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `users.count must be a positive integer with first + count - 1 ≤ ${MAX_ID}, got ${count}`);
    }
    this.first = first;
    this.count = count;
    this.#leases = new LeaseDir(options.leaseDir ?? '/run/nova-agent-host/users');
    this.#database = options.database ?? {};
    this.#procRoot = options.procRoot ?? '/proc';
  }

  /** Whether `uid` belongs to this range. */
  includes(uid: number): boolean {
    return Number.isSafeInteger(uid) && uid >= this.first && uid < this.first + this.count;
  }

  /** Leases a free uid of the range to `agent`: `ERR_USERS_EXHAUSTED` when none is. */
  lease(agent: string): DynamicUser {
    const taken = this.#taken();
    const mapped = this.#mapped();
    let inUse: Set<number> | undefined;
    // Read /proc only if a dead orchestrator's lease is met, and then once.
    const reclaimable = (name: string): boolean => !(inUse ??= this.#uidsInUse()).has(Number(name));
    for (let uid = this.first; uid < this.first + this.count; uid++) {
      // setuid() to an id outside the user namespace's map fails (a container's orchestrator).
      if (taken.has(uid) || !mapped(uid)) continue;
      if (this.#leases.take(String(uid), agent, reclaimable)) return { uid, gid: uid };
    }
    throw new AgentHostError(
      ErrorCode.USERS_EXHAUSTED,
      `all ${this.count} dynamic agent users ${this.first}–${this.first + this.count - 1} are leased or taken (leases in ${this.#leases.dir}); ` +
        `raise users.count${mapped(this.first) && mapped(this.first + this.count - 1) ? '' : `, or choose users.first within this user namespace's ${this.#procRoot}/self/uid_map and gid_map`}`,
      { file: this.#leases.dir },
    );
  }

  /** Takes over the lease of a uid (an adopted agent's, after an orchestrator restart). */
  adopt(uid: number, agent: string): void {
    this.#check(uid);
    this.#leases.adopt(String(uid), agent);
  }

  /**
   * Ends `agent`'s lease of a uid; call it once no process of the agent is left. A lease another
   * live orchestrator holds now (it reclaimed the uid after a crash) is left alone.
   */
  release(uid: number, agent: string): void {
    this.#check(uid);
    this.#leases.releaseFor(String(uid), agent);
  }

  /** Leases held now: uid → agent and orchestrator pid. */
  leases(): Map<number, LeaseRecord> {
    return new Map([...this.#leases.list()].map(([name, lease]) => [Number(name), lease]));
  }

  #check(uid: number): void {
    if (!this.includes(uid)) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `uid ${uid} is not in the dynamic users' range ${this.first}–${this.first + this.count - 1}`);
    }
  }

  /** Ids the user database uses; re-read only when a file changed (a stat each instead of a read and a parse). */
  #taken(): Set<number> {
    const files = [this.#database.passwd ?? '/etc/passwd', this.#database.group ?? '/etc/group'];
    const key = files.map((file) => statSync(file, { bigint: true, throwIfNoEntry: false })).map((s) => `${s?.ino}:${s?.mtimeNs}:${s?.size}`).join();
    if (this.#takenCache?.key !== key) {
      const database = readUserDatabase(this.#database);
      this.#takenCache = { key, ids: new Set([...database.users.map((user) => user.uid), ...database.groups]) };
    }
    return this.#takenCache.ids;
  }

  /** Whether an id is mapped into this user namespace, as uid and as gid (no map file: everything is). */
  #mapped(): (id: number) => boolean {
    // Written once, when the namespace is set up: read once.
    return (this.#mappedCache ??= this.#readMaps());
  }

  #readMaps(): (id: number) => boolean {
    const maps = ['uid_map', 'gid_map'].map((file) => {
      try {
        return parseIdMap(readFileSync(join(this.#procRoot, 'self', file), 'utf8'));
      } catch {
        return undefined;
      }
    });
    return (id) => maps.every((map) => map === undefined || map.some(([first, count]) => id >= first && id < first + count));
  }

  /** Every uid (real, effective, saved or filesystem) of a live process. */
  #uidsInUse(): Set<number> {
    const uids = new Set<number>();
    for (const entry of readdirSync(this.#procRoot)) {
      if (!/^\d+$/.test(entry)) continue;
      let status: string;
      try {
        status = readFileSync(join(this.#procRoot, entry, 'status'), 'utf8');
      } catch {
        continue; // ended meanwhile
      }
      for (const uid of parseStatusUids(status)) uids.add(uid);
    }
    return uids;
  }
}
