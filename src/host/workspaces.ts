/**
 * A workspace pool: `slots` directories under `root`, leased to one agent at a time.
 * A lease is a lock file holding the orchestrator's pid, created with O_EXCL, so it survives an
 * orchestrator crash and is reclaimed once that pid is dead.
 */
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';
import { isAlive } from './ownership.js';

/** Options of a {@link WorkspacePool} (`AgentHostOptions.workspaces`). */
export interface WorkspacePoolOptions {
  /** Directory holding the slots, e.g. `/var/nova-agents/active`. */
  root: string;
  /** Number of slots. Default 500: one per agent at the host's planned peak, with room to spare. */
  slots?: number;
  /** Empty a slot when its lease ends. Default `true`. */
  clean?: boolean;
}

/** What a lease's lock file holds: enough to tell a live lease from a dead orchestrator's. */
export interface LeaseRecord {
  /** The orchestrator that holds the lease; once it is dead, the slot can be reclaimed. */
  pid: number;
  /** The agent the slot is leased to. */
  agent: string;
}

const LEASES = '.leases';

/**
 * Working directories for agents, one agent per slot at a time, that survive an orchestrator
 * crash: a restarted host sees which slots are still leased, and by whom.
 */
export class WorkspacePool {
  readonly root: string;
  readonly slots: number;
  readonly #clean: boolean;

  /** Validates the options only; {@link prepare} creates the directories. */
  constructor(options: WorkspacePoolOptions) {
    if (typeof options?.root !== 'string' || options.root === '') {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'workspaces.root must be a directory path');
    }
    const slots = options.slots ?? 500;
    if (!Number.isSafeInteger(slots) || slots < 1 || slots > 100_000) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `workspaces.slots must be an integer from 1 to 100000, got ${slots}`);
    }
    this.root = options.root;
    this.slots = slots;
    this.#clean = options.clean ?? true;
  }

  /** Slot directory names: ws-001 … ws-500. */
  slotName(index: number): string {
    return `ws-${String(index + 1).padStart(Math.max(3, String(this.slots).length), '0')}`;
  }

  /** Creates the root, the lease directory and every slot (mode 0700); idempotent. */
  prepare(): void {
    for (const dir of [this.root, join(this.root, LEASES)]) mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < this.slots; i++) {
      const dir = join(this.root, this.slotName(i));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  }

  /** Leases a free slot to `agent`; reclaims slots whose owner process is dead. */
  lease(agent: string): string {
    for (let i = 0; i < this.slots; i++) {
      const name = this.slotName(i);
      if (this.#tryLock(name, agent)) return join(this.root, name);
    }
    throw new AgentHostError(ErrorCode.WORKSPACE_EXHAUSTED, `all ${this.slots} workspace slots under ${this.root} are leased`);
  }

  /** Takes over a lease (after an orchestrator restart) for this process. */
  adopt(path: string, agent: string): void {
    const name = this.#nameOf(path);
    writeFileSync(this.#lockPath(name), JSON.stringify({ pid: process.pid, agent } satisfies LeaseRecord), { mode: 0o600 });
  }

  /** Ends a lease: empties the slot (never following a symlink out of it), then unlocks it. */
  release(path: string): void {
    const name = this.#nameOf(path);
    if (this.#clean) this.clean(path);
    try {
      unlinkSync(this.#lockPath(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** Removes everything inside a slot. `rm` lstat()s each entry, so a link is removed, never its target. */
  clean(path: string): void {
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (!stat.isDirectory()) {
      // The slot itself was replaced by a link or a file: remove the entry, recreate the directory.
      unlinkSync(path);
      mkdirSync(path, { mode: 0o700 });
      return;
    }
    for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
  }

  /** Leases held now: slot path → agent id and owner pid. */
  leases(): Map<string, LeaseRecord> {
    const result = new Map<string, LeaseRecord>();
    let names: string[];
    try {
      names = readdirSync(join(this.root, LEASES));
    } catch {
      return result;
    }
    for (const file of names) {
      if (!file.endsWith('.lock')) continue;
      const record = this.#read(file.slice(0, -'.lock'.length));
      if (record) result.set(join(this.root, file.slice(0, -'.lock'.length)), record);
    }
    return result;
  }

  #tryLock(name: string, agent: string): boolean {
    const lock = this.#lockPath(name);
    const record = JSON.stringify({ pid: process.pid, agent } satisfies LeaseRecord);
    try {
      writeFileSync(lock, record, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.prepare();
        return this.#tryLock(name, agent);
      }
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = this.#read(name);
      if (owner && isAlive(owner.pid)) return false;
      // The owner died without releasing: clean the slot and take it over.
      unlinkSync(lock);
      return this.#tryLock(name, agent);
    }
    if (this.#clean) this.clean(join(this.root, name));
    mkdirSync(join(this.root, name), { recursive: true, mode: 0o700 });
    return true;
  }

  #read(name: string): LeaseRecord | undefined {
    try {
      const record = JSON.parse(readFileSync(this.#lockPath(name), 'utf8')) as LeaseRecord;
      return Number.isSafeInteger(record.pid) ? record : undefined;
    } catch {
      return undefined;
    }
  }

  #lockPath(name: string): string {
    return join(this.root, LEASES, `${name}.lock`);
  }

  #nameOf(path: string): string {
    const name = path.slice(this.root.length + 1);
    if (!path.startsWith(`${this.root}/`) || name.includes('/') || !/^ws-\d+$/.test(name)) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `${path} is not a slot of the workspace pool ${this.root}`);
    }
    return name;
  }
}

/** @deprecated Moved to ownership.ts; kept for code that imported it from here. */
export { isAlive };
