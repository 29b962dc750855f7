/**
 * Who owns what on disk: the host's lock on its agents' root, its state directory, and the
 * live-owner check that the lock, the state store (half-written records) and the workspace pool
 * (leases) all decide by. An owner is an orchestrator's pid; once that pid is dead, what it
 * held may be taken over.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';

/** Whether a process exists (signal 0 checks without sending anything; EPERM means it exists). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is another orchestrator that is still alive, so what it holds is not ours to take. */
export function isOtherLiveOwner(pid: unknown): boolean {
  return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid);
}

/**
 * Where a host keeps its lock and agent records when `stateDir` is not given: `$XDG_RUNTIME_DIR`,
 * or `/run` as root, or the temp dir, then `nova-agent-host/<root name>-<hash of the root path>`,
 * so two hosts with different roots never share one.
 */
export function defaultStateDir(root: { readonly path: string; readonly name: string }): string {
  const base = process.env.XDG_RUNTIME_DIR ?? (process.getuid?.() === 0 ? '/run' : tmpdir());
  const hash = createHash('sha256').update(root.path).digest('hex').slice(0, 16);
  return join(base, 'nova-agent-host', `${root.name}-${hash}`);
}

/** Makes a directory only its owner can read (agent records name commands and workspaces). */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

// Two hosts in one process would both pass the pid check: they are told apart here.
const lockedInProcess = new Set<string>();

/**
 * One live host per agents' root: a lock file holding the owner's pid in the state directory,
 * taken over once that pid is dead (a crashed orchestrator), and a set for hosts in this process.
 */
export class HostLock {
  readonly #key: string;
  readonly #file: string;
  #held = true;

  private constructor(key: string, file: string) {
    this.#key = key;
    this.#file = file;
  }

  /** Takes the lock on `key` (the root's path); `ERR_HOST_LOCKED` while another live host holds it. */
  static acquire(key: string, stateDir: string): HostLock {
    if (lockedInProcess.has(key)) throw new AgentHostError(ErrorCode.HOST_LOCKED, `another AgentHost in this process manages ${key}`);
    const file = join(privateDir(stateDir), 'host.pid');
    let owner: number | undefined;
    try {
      owner = Number(readFileSync(file, 'utf8'));
    } catch {
      owner = undefined;
    }
    if (isOtherLiveOwner(owner)) {
      throw new AgentHostError(ErrorCode.HOST_LOCKED, `process ${owner} already manages the agents in ${key} (lock ${file})`);
    }
    writeFileSync(file, String(process.pid), { mode: 0o600 });
    lockedInProcess.add(key);
    return new HostLock(key, file);
  }

  /** Gives the lock up. Idempotent. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    lockedInProcess.delete(this.#key);
    rmSync(this.#file, { force: true });
  }
}
