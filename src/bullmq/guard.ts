/**
 * The orphan guard: a tiny process beside the orchestrator that kills the worker's agents the
 * moment the orchestrator dies. An AgentHost keeps agents alive across an orchestrator restart on
 * purpose, but a fleet node that dies loses its jobs' locks: BullMQ hands those jobs to other
 * nodes once the locks expire, so agents left running would be second copies.
 *
 * The worker keeps the running agents' cgroup directories in a small file (rewritten whole and
 * renamed into place, so the guard never reads half of it); the guard checks ten times a second
 * whether the orchestrator still lives — its pid with the same start time, not a zombie: a pid can
 * be reused, and a thread's exit can reparent a child while its process lives on — and when it is
 * gone kills every cgroup in the file, removes them and exits. SIGTERM (a clean close) ends it
 * without killing.
 *
 * It is a separate `node -e` program with its own few cgroupfs writes (like `nova-agent-host/agent`,
 * the one other place): it must keep working after the process that loaded this library is gone,
 * without loading it. It runs in its own session, so a signal to the orchestrator's process group
 * (Ctrl-C) does not take it down first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The guard's program (`argv`: the orchestrator's pid and start time, the agents file). v2: `cgroup.kill`; v1:
 * freeze, SIGKILL every process, thaw (nothing forks in between). Then the empty directories are
 * removed; the host's reattach drops their records.
 */
const GUARD_SOURCE = String.raw`
const fs = require('node:fs');
const [parent, started, file] = process.argv.slice(1);
// Field 22 of /proc/<pid>/stat, counted after the ")" that ends the command name (which may hold spaces).
const stat = (pid) => { try { const text = fs.readFileSync('/proc/' + pid + '/stat', 'utf8'); return text.slice(text.lastIndexOf(')') + 2).split(' '); } catch { return undefined; } };
const alive = () => { const fields = stat(parent); return fields !== undefined && fields[0] !== 'Z' && fields[0] !== 'X' && fields[19] === started; };
process.on('SIGINT', () => {});
process.on('SIGTERM', () => process.exit(0));
const write = (path, value) => { try { fs.writeFileSync(path, value); return true; } catch { return false; } };
const procs = (dir) => { try { return fs.readFileSync(dir + '/cgroup.procs', 'utf8').split('\n').filter(Boolean).map(Number); } catch { return []; } };
const pause = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function kill(dirs) {
  for (let round = 0; round < 100; round++) {
    let left = 0;
    for (const dir of dirs) {
      if (!write(dir + '/cgroup.kill', '1')) {
        const frozen = write(dir + '/freezer.state', 'FROZEN');
        for (const pid of procs(dir)) { try { process.kill(pid, 'SIGKILL'); } catch {} }
        if (frozen) write(dir + '/freezer.state', 'THAWED');
      }
      left += procs(dir).length;
    }
    if (left === 0) break;
    pause(20);
  }
  // A killed process holds its cgroup until it is reaped (its new parent reaps it): retry a while.
  let left = dirs;
  for (let round = 0; round < 100 && left.length > 0; round++) {
    left = left.filter((dir) => { try { fs.rmdirSync(dir); return false; } catch (error) { return error.code !== 'ENOENT'; } });
    if (left.length > 0) pause(50);
  }
}
setInterval(() => {
  if (alive()) return;
  let agents = {};
  try { agents = JSON.parse(fs.readFileSync(file, 'utf8')); } catch {}
  for (const dirs of Object.values(agents)) kill(dirs);
  fs.rmSync(require('node:path').dirname(file), { recursive: true, force: true });
  process.exit(0);
}, 100);
`;

/** The orchestrator's end of the guard. */
export class OrphanGuard {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #file: string;
  readonly #agents = new Map<string, readonly string[]>();
  #closed = false;

  private constructor(dir: string) {
    this.#dir = dir;
    this.#file = join(dir, 'agents.json');
    this.#save();
    this.#child = spawn(process.execPath, ['-e', GUARD_SOURCE, String(process.pid), startTime(), this.#file], { stdio: 'ignore', detached: true });
    // A guard that failed to start must not take the worker down: it is a safety net.
    this.#child.on('error', () => undefined);
    // The guard must not keep the orchestrator's event loop alive.
    this.#child.unref();
  }

  /** Starts the guard process (`node -e`, in its own session) and its agents file in a temp dir. */
  static start(): OrphanGuard {
    return new OrphanGuard(mkdtempSync(join(tmpdir(), 'nova-guard-')));
  }

  /** The guard's pid. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** An agent started: kill its cgroup if the orchestrator dies. */
  add(id: string, dirs: readonly string[]): void {
    this.#agents.set(id, dirs);
    this.#save();
  }

  /** The agent ended: nothing to kill any more. */
  remove(id: string): void {
    if (this.#agents.delete(id)) this.#save();
  }

  /** A clean shutdown: the guard exits without killing anything (SIGTERM, by its pid). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #save(): void {
    if (this.#closed) return;
    const next = `${this.#file}.next`;
    writeFileSync(next, JSON.stringify(Object.fromEntries(this.#agents)));
    renameSync(next, this.#file);
  }
}

/** This process's start time (field 22 of /proc/self/stat, in clock ticks since boot): with the pid, who it is. */
function startTime(): string {
  const text = readFileSync('/proc/self/stat', 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]!;
}
