/**
 * Starting a process inside a cgroup with no escape window, in one of two ways:
 *
 * - **Fork from inside** (an empty, thawed cgroup: every new agent). The orchestrator steps into
 *   the cgroup, forks, and steps back out, all in one synchronous call: the child is born in
 *   the cgroup, like clone3(CLONE_INTO_CGROUP), at the price of a bare spawn. On v1 only the
 *   calling thread moves (`tasks`); on v2 the whole process does (`cgroup.procs`), for
 *   microseconds, and only where no systemd unit can see its cgroup go empty meanwhile.
 * - **The `sh` shim** (anywhere else, e.g. a second process in a busy agent's cgroup, where an
 *   OOM kill could pick the orchestrator): it writes its own pid to `cgroup.procs` and only then
 *   `exec`s the command. Costs a second exec, and `Cgroup.joined()` waits for the join.
 *   A process started as another user (`uid`/`gid`) cannot write the root-owned `cgroup.procs`
 *   itself, and must not be able to: the shim then waits at a gate (fd 3) while the orchestrator
 *   moves it, as root, and only execs the command once let through.
 */
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import { basename, dirname, sep } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';
import { detectHierarchy, type CgroupHierarchy, type HierarchyKey, type Location } from './detect.js';
import type { CgroupDriver } from './driver.js';
import { writeFile } from './files.js';
import { prepareSpawn, startProcess, type PreparedSpawn, type SpawnOptions, type Subprocess } from './spawn.js';

/** Exit status of the shim when it could not join the cgroup: the command never ran. */
export const JOIN_FAILED_EXIT_CODE = 125;
const SHIM = '/bin/sh';
const SHIM_SCRIPT = `while [ "$1" != -- ]; do echo $$ >"$1" || { echo "nova-agent-host: cannot join cgroup ($1)" >&2; exit ${JOIN_FAILED_EXIT_CODE}; }; shift; done; shift; exec "$@"`;
/** The gated shim: waits for "go" on fd 3 (EOF: the move failed), then execs the command without fd 3. */
const GATE_SCRIPT = `read -r go <&3 && [ "$go" = go ] || { echo "nova-agent-host: was not moved into its cgroup" >&2; exit ${JOIN_FAILED_EXIT_CODE}; }; exec "$@" 3<&-`;

/** Subprocesses that were in their cgroup before their command began (forked inside, or gated): nothing to wait for. */
const bornInside = new WeakSet<Subprocess>();
/** What a cgroup.procs or tasks file takes to mean "the writer". */
const SELF = '0';

/** Whether `subprocess` started in its cgroup (no join to wait for). */
export function isBornInside(subprocess: Subprocess): boolean {
  return bornInside.has(subprocess);
}

export function spawnJoined(
  driver: CgroupDriver,
  hierarchy: CgroupHierarchy,
  location: Location,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Subprocess {
  const prepared = prepareSpawn(command, args, options);
  const door = options.forkInside === false ? undefined : doorway(driver, hierarchy, location);
  if (door === undefined && prepared.uid !== undefined) return startGated(driver.procsFiles(location), prepared);
  if (door === undefined) {
    return startProcess(prepared, SHIM, ['-c', SHIM_SCRIPT, 'nova-join', ...driver.procsFiles(location), '--', prepared.file, ...prepared.args]);
  }
  const entered = move(door.enter);
  if (entered.error !== undefined) {
    // Half inside: back out of what was entered before reporting why the rest refused.
    if (move(door.leave.slice(0, entered.moved)).error !== undefined) throw stuck(door);
    throw entered.error;
  }
  let subprocess: Subprocess;
  try {
    subprocess = startProcess(prepared);
  } finally {
    if (move(door.leave).error !== undefined) throw stuck(door);
  }
  bornInside.add(subprocess);
  return subprocess;
}

/**
 * Starts the gated shim as the process's user and moves it into the cgroup (`procs`, one per
 * hierarchy) as the orchestrator before letting it exec: in its cgroup from its first instruction
 * of the command, and the pid moved is surely the shim's (a child not yet reaped cannot be reused).
 */
function startGated(procs: string[], prepared: PreparedSpawn): Subprocess {
  const subprocess = startProcess(prepared, SHIM, ['-c', GATE_SCRIPT, 'nova-join', prepared.file, ...prepared.args], ['pipe']);
  const gate = subprocess.stdio[3] as Writable | null;
  if (subprocess.pid === undefined || !gate) return subprocess;
  // The shim may be gone before it reads (killed): nothing to report on the gate itself.
  gate.on('error', () => undefined);
  const moved = move(procs, String(subprocess.pid));
  gate.end(moved.error === undefined ? 'go\n' : '');
  // Consume the end of the socket, so it closes (a buffered result waits for every stdio stream).
  (gate as unknown as Readable).resume();
  if (moved.error !== undefined) {
    // Half moved, or not at all: the command never runs (the shim exits at EOF); kill it anyway.
    subprocess.kill('SIGKILL');
    throw moved.error;
  }
  bornInside.add(subprocess);
  return subprocess;
}

interface Doorway {
  /** Writing "0" to these moves the caller into the target cgroup, one hierarchy each... */
  enter: string[];
  /** ...and to these (same order), back where it was. */
  leave: string[];
}

/** The files to step into the cgroup and back, or `undefined` where the shim must do. */
function doorway(driver: CgroupDriver, hierarchy: CgroupHierarchy, location: Location): Doorway | undefined {
  // An empty cgroup cannot OOM-kill or pids-starve the orchestrator; a frozen one would freeze it.
  if (!driver.vacant(location)) return undefined;
  const caller = callerHierarchy();
  const keys = (Object.keys(location) as HierarchyKey[]).filter((key) => location[key] !== undefined);
  // Only within the hierarchies the caller is in (not, say, a fake tree in a test).
  const home: Location = {};
  for (const key of keys) {
    if (caller?.own[key] === undefined || caller.mounts[key] !== hierarchy.mounts[key]) return undefined;
    home[key] = caller.own[key];
  }
  const threads = driver.threadFiles(location);
  if (threads !== undefined) return { enter: threads, leave: driver.threadFiles(home)! };
  // v2 moves the whole process: from a worker thread that would pull the main thread's forks along.
  if (!isMainThread || !mayLeave(home.unified!, location.unified!)) return undefined;
  return { enter: driver.procsFiles(location), leave: driver.procsFiles(home) };
}

/**
 * Writes `who` (default "0") to each file in turn, up to the first refusal (its typed error). "0" is the writer
 * itself: the calling thread in a v1 `tasks` file (which, unlike a tid, spares the kernel its global
 * threadgroup lock, an RCU grace period), the calling process in `cgroup.procs`; and no pid to
 * translate between pid namespaces or to get wrong in a worker thread.
 */
function move(files: string[], who = SELF): { moved: number; error?: unknown } {
  for (let i = 0; i < files.length; i++) {
    try {
      writeFile(dirname(files[i]!), basename(files[i]!), who);
    } catch (error) {
      return { moved: i, error };
    }
  }
  return { moved: files.length };
}

/** Stuck in an agent's cgroup, the orchestrator would die with the agent: never go on from there. */
function stuck(door: Doorway): AgentHostError {
  return new AgentHostError(ErrorCode.CGROUP_IO, `the orchestrator could not return to its cgroup (${door.leave.join(', ')}) after forking a process`);
}

/**
 * v2 moves the whole process, so its cgroup is empty for a moment: harmless for a leaf of ours
 * (the supervisor) beside the agents, not for a systemd unit, which may be stopped when empty.
 */
function mayLeave(home: string, target: string): boolean {
  return target.startsWith(dirname(home) + sep) && !/\.(service|scope|slice|socket|mount|swap)$/.test(basename(home));
}

let cached: { text: string; hierarchy: CgroupHierarchy | undefined } | undefined;
/** Where the calling thread is now; /proc/thread-self/cgroup changes when someone moves it. */
function callerHierarchy(): CgroupHierarchy | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/cgroup', 'utf8');
  } catch {
    return undefined;
  }
  if (cached?.text !== text) {
    const hierarchy = detectHierarchy({ pid: 'thread-self' });
    cached = { text, hierarchy: hierarchy.mode === 'none' ? undefined : hierarchy };
  }
  return cached.hierarchy;
}
