/**
 * A workspace pool: `slots` directories under `root`, leased to one agent at a time
 * through crash-safe lease files (leases.ts), reclaimed once the orchestrator holding one is dead.
 * A slot leased to an agent running as its own user is owned by that user, mode 0700, so no
 * other agent can read it; the root is 0711, so agents can reach their own slot but not list others.
 */
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';
import { LeaseDir, type LeaseRecord } from './leases.js';
import { isAlive } from './ownership.js';

export type { LeaseRecord } from './leases.js';

/** Options of a {@link WorkspacePool} (`AgentHostOptions.workspaces`). */
export interface WorkspacePoolOptions {
  /** Directory holding the slots, e.g. `/var/nova-agents/active`. */
  root: string;
  /** Number of slots. Default 500: one per agent at the host's planned peak, with room to spare. */
  slots?: number;
  /** Empty a slot when its lease ends. Default `true`. */
  clean?: boolean;
}

/** Who owns a leased slot: the agent's user. */
export interface SlotOwner {
  uid: number;
  gid: number;
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
  readonly #leases: LeaseDir;

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
    this.#leases = new LeaseDir(join(this.root, LEASES));
  }

  /** Slot directory names: ws-001 … ws-500. */
  slotName(index: number): string {
    return `ws-${String(index + 1).padStart(Math.max(3, String(this.slots).length), '0')}`;
  }

  /**
   * Creates the root (mode 0711: agents running as their own users pass through it to their slot,
   * but cannot list it), the lease directory and every slot (mode 0700); idempotent.
   */
  prepare(): void {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    chmodSync(this.root, 0o711);
    this.#leases.prepare();
    for (let i = 0; i < this.slots; i++) {
      const dir = join(this.root, this.slotName(i));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    }
  }

  /**
   * Leases a free slot to `agent`; reclaims slots whose owner process is dead. With `owner`, the
   * slot is handed to the agent's user (chowned, 0700): only it (and root) can read it.
   */
  lease(agent: string, owner?: SlotOwner): string {
    // The pool was removed under us: make it again (with its modes) rather than fail.
    if (!existsSync(this.#leases.dir)) this.prepare();
    for (let i = 0; i < this.slots; i++) {
      const name = this.slotName(i);
      if (!this.#take(name, agent)) continue;
      const path = join(this.root, name);
      if (owner) this.#chown(path, owner);
      return path;
    }
    throw new AgentHostError(ErrorCode.WORKSPACE_EXHAUSTED, `all ${this.slots} workspace slots under ${this.root} are leased`);
  }

  /** Takes over a lease (after an orchestrator restart) for this process. */
  adopt(path: string, agent: string): void {
    this.#leases.adopt(this.#nameOf(path), agent);
  }

  /**
   * Ends a lease: hands the slot back to the orchestrator's user (so an agent user that is reused
   * later cannot write into a free slot), empties it (never following a symlink out of it), unlocks it.
   */
  release(path: string): void {
    const name = this.#nameOf(path);
    this.#reclaimOwnership(path);
    if (this.#clean) this.clean(path);
    this.#leases.release(name);
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
    for (const [name, lease] of this.#leases.list()) result.set(join(this.root, name), lease);
    return result;
  }

  #take(name: string, agent: string): boolean {
    if (!this.#leases.take(name, agent)) return false;
    const path = join(this.root, name);
    if (this.#clean) this.clean(path);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return true;
  }

  /** Hands a slot to the agent's user; with `clean: false`, what earlier agents left in it too. */
  #chown(path: string, owner: SlotOwner): void {
    chmodSync(path, 0o700);
    if (this.#clean) lchownSync(path, owner.uid, owner.gid);
    else chownTree(path, owner.uid, owner.gid);
  }

  /** A free slot belongs to the orchestrator's user again (only root ever gave it away). */
  #reclaimOwnership(path: string): void {
    const uid = process.getuid?.();
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (uid === 0 && stat?.isDirectory() && (stat.uid !== 0 || stat.gid !== 0)) lchownSync(path, 0, 0);
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

/** lchown()s a tree, never following a link (a link's target outside the slot stays as it was). */
function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}
