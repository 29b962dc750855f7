/**
 * Crash-safe leases of named things (workspace slots, agent uids): one lock file per name in a
 * directory, created with O_EXCL and holding the owner's pid. They survive an orchestrator crash,
 * and a restarted host (or another one) reclaims a lease once its owner is dead.
 */
import { mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './ownership.js';

/** What a lease's lock file holds: enough to tell a live lease from a dead orchestrator's. */
export interface LeaseRecord {
  /** The orchestrator that holds the lease; once it is dead, the lease can be reclaimed. */
  pid: number;
  /** The agent the thing is leased to. */
  agent: string;
}

const SUFFIX = '.lock';

/** A directory of lock files, one per leased name. */
export class LeaseDir {
  /** `dir` is created (mode 0700) on first use. */
  constructor(readonly dir: string) {}

  /** Creates the directory (mode 0700); idempotent. */
  prepare(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Takes `name` for `agent` unless a live owner holds it. A dead owner's lease is reclaimed when
   * `reclaimable(name)` agrees (default: always), e.g. only once nothing of the old lease is left.
   */
  take(name: string, agent: string, reclaimable: (name: string) => boolean = () => true): boolean {
    const lock = this.#path(name);
    try {
      writeFileSync(lock, record(agent), { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        this.prepare();
        return this.take(name, agent, reclaimable);
      }
      if (code !== 'EEXIST') throw error;
    }
    const owner = this.read(name);
    if ((owner && isAlive(owner.pid)) || !reclaimable(name)) return false;
    // The owner died without releasing: take it over (O_EXCL again, so only one reclaimer wins).
    this.release(name);
    return this.take(name, agent, () => false);
  }

  /** Takes over a lease (after an orchestrator restart) for this process, whoever held it. */
  adopt(name: string, agent: string): void {
    this.prepare();
    writeFileSync(this.#path(name), record(agent), { mode: 0o600 });
  }

  /**
   * Ends `agent`'s lease on `name` if this process or a dead one holds it: never a lease that
   * another live host took over meanwhile (after reclaiming it from a crashed orchestrator).
   */
  releaseFor(name: string, agent: string): void {
    const lease = this.read(name);
    if (lease?.agent === agent && (lease.pid === process.pid || !isAlive(lease.pid))) this.release(name);
  }

  /** Ends a lease; a lease already gone is not an error. */
  release(name: string): void {
    try {
      unlinkSync(this.#path(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** The lease on `name`, or `undefined` (none, or unreadable: a crash mid-write). */
  read(name: string): LeaseRecord | undefined {
    try {
      const lease = JSON.parse(readFileSync(this.#path(name), 'utf8')) as LeaseRecord;
      return Number.isSafeInteger(lease.pid) ? lease : undefined;
    } catch {
      return undefined;
    }
  }

  /** Leases held now: name → record. */
  list(): Map<string, LeaseRecord> {
    const result = new Map<string, LeaseRecord>();
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch {
      return result;
    }
    for (const file of files) {
      if (!file.endsWith(SUFFIX)) continue;
      const name = file.slice(0, -SUFFIX.length);
      const lease = this.read(name);
      if (lease) result.set(name, lease);
    }
    return result;
  }

  #path(name: string): string {
    return join(this.dir, `${name}${SUFFIX}`);
  }
}

function record(agent: string): string {
  return JSON.stringify({ pid: process.pid, agent } satisfies LeaseRecord);
}
