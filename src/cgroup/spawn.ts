/**
 * Starting a process: options checked and resolved before anything starts (typed errors instead
 * of a shell's 127), `node:child_process` underneath, and a result promise that never rejects.
 * Which cgroup the process lands in is join.ts's concern.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';

/** Where one stdio stream goes: nowhere, a pipe, the orchestrator's own, an open fd, or a file. */
export type StdioOption = 'ignore' | 'pipe' | 'inherit' | number | { file: string; append?: boolean };

/** How a process is started in a cgroup ({@link Cgroup.spawn}); also part of `SpawnAgentOptions`. */
export interface SpawnOptions {
  /** Working directory. Default: the orchestrator's. */
  cwd?: string;
  /** Environment variables for the process. */
  env?: Record<string, string | undefined>;
  /**
   * Also pass the orchestrator's own environment. Default `false`: agents see only `PATH`, `HOME`,
   * `LANG`, `TZ` from it plus `env`, so no secret of the orchestrator leaks by accident.
   */
  extendEnv?: boolean;
  /** stdin, stdout, stderr, or one value for all three. Default `'ignore'` (a pipe nobody reads would block the agent). */
  stdio?: StdioOption | [StdioOption, StdioOption, StdioOption];
  /** Collect piped stdout/stderr into the result (`(await subprocess).stdout`). Default `false`: stream them yourself. */
  buffer?: boolean;
  /** Start a new session (`setsid`), so a terminal's Ctrl-C reaches the orchestrator, not its agents. Default `true`. */
  detached?: boolean;
  /**
   * Fork the process from inside an empty cgroup (the orchestrator steps in for the fork, ~1 ms).
   * Default `true`. On cgroup v2 the whole orchestrator process steps in, so a process that another
   * of its threads forks in that moment (a worker thread's `child_process`) would land in the
   * agent's cgroup too: set `false` if worker threads of the orchestrator start processes, and the
   * join-before-exec shim is used instead. (Spawns from a worker thread use the shim on v2 anyway.)
   */
  forkInside?: boolean;
  /**
   * Run as this user id; give `gid` with it. Needs a root orchestrator. Supplementary groups are
   * dropped (libuv calls setgroups(0) before setgid/setuid). The process still joins its cgroup
   * as root (forked from inside, or moved by the orchestrator before its exec), so its cgroup
   * files stay root's and it cannot change them. Default: the orchestrator's user.
   */
  uid?: number;
  /** Run with this group id (and no supplementary groups); give `uid` with it. */
  gid?: number;
}

/** What a {@link Subprocess} resolves with once it has ended (or failed to start). */
export interface SubprocessResult {
  /** Exit status; `undefined` when a signal ended the process or it never started. */
  exitCode: number | undefined;
  /** The signal that ended the process. */
  signal: NodeJS.Signals | undefined;
  /** Its output when `buffer: true` and stdout is a pipe (one final newline stripped); otherwise `undefined`. */
  stdout: string | undefined;
  /** The same for stderr. */
  stderr: string | undefined;
  /** Whether it did not start, exited non-zero or was killed by a signal. */
  failed: boolean;
  /** Why it did not start (the typed `ERR_SPAWN_*` error), when it did not. */
  cause: AgentHostError | undefined;
  /** From the start to the end, in ms. */
  durationMs: number;
}

/**
 * A process started by {@link Cgroup.spawn}: a `node:child_process` `ChildProcess` that is also a
 * promise of its {@link SubprocessResult}. The promise never rejects: a failure is in the result.
 */
export type Subprocess = ChildProcess & Promise<SubprocessResult>;

/** A command checked and resolved, ready to start: see {@link prepareSpawn}. */
export interface PreparedSpawn {
  /** Absolute path of the executable. */
  file: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  stdio: [StdioOption, StdioOption, StdioOption];
  buffer: boolean;
  detached: boolean;
  /** The user to run as, both or neither. */
  uid: number | undefined;
  gid: number | undefined;
}

const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'];

/** Checks everything about a spawn that can be checked before it, so a bad one starts nothing. */
export function prepareSpawn(command: string, args: readonly string[], options: SpawnOptions): PreparedSpawn {
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'args must be an array of strings without NUL characters');
  }
  const env = buildEnv(options.env, options.extendEnv ?? false);
  const cwd = options.cwd === undefined ? process.cwd() : resolve(options.cwd);
  checkCwd(cwd);
  const stdio = Array.isArray(options.stdio) ? options.stdio : [options.stdio, options.stdio, options.stdio];
  return {
    file: resolveCommand(command, env.PATH, cwd),
    args,
    cwd,
    env,
    stdio: stdio.map((s) => s ?? 'ignore') as PreparedSpawn['stdio'],
    buffer: options.buffer ?? false,
    detached: options.detached ?? true,
    ...checkIds(options.uid, options.gid),
  };
}

/**
 * Starts `file` (`prepared.file` unless given, e.g. a shim in front of it) with `prepared`'s options;
 * `extraStdio` are fds 3 and up (a shim's gate).
 */
export function startProcess(prepared: PreparedSpawn, file = prepared.file, args = prepared.args, extraStdio: StdioOptions = []): Subprocess {
  const startedAt = performance.now();
  const opened: number[] = [];
  let child: ChildProcess;
  try {
    const stdio = [...prepared.stdio.map((s, fd) => (typeof s === 'object' ? openOutput(s, fd, opened) : s)), ...extraStdio] as StdioOptions;
    const user = prepared.uid === undefined ? {} : { uid: prepared.uid, gid: prepared.gid };
    child = spawn(file, args, { cwd: prepared.cwd, env: prepared.env, stdio, detached: prepared.detached, ...user });
  } catch (error) {
    throw error instanceof AgentHostError ? error : spawnError(error as NodeJS.ErrnoException);
  } finally {
    // The child has its own copies now.
    for (const fd of opened) closeSync(fd);
  }
  const result = settle(child, prepared.buffer, startedAt);
  return Object.assign(child, {
    then: result.then.bind(result),
    catch: result.catch.bind(result),
    finally: result.finally.bind(result),
  }) as unknown as Subprocess;
}

function openOutput(target: { file: string; append?: boolean }, fd: number, opened: number[]): number {
  try {
    const handle = openSync(target.file, fd === 0 ? 'r' : target.append ? 'a' : 'w');
    opened.push(handle);
    return handle;
  } catch (error) {
    throw new AgentHostError(ErrorCode.SPAWN_FAILED, `cannot open ${target.file} for fd ${fd}: ${(error as Error).message}`, { cause: error });
  }
}

function settle(child: ChildProcess, buffer: boolean, startedAt: number): Promise<SubprocessResult> {
  return new Promise((resolveResult) => {
    const output = { stdout: [] as string[], stderr: [] as string[] };
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = child[name];
      if (buffer && stream) stream.setEncoding('utf8').on('data', (chunk: string) => output[name].push(chunk));
    }
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, cause?: AgentHostError): void => {
      const text = (name: 'stdout' | 'stderr'): string | undefined =>
        buffer && child[name] ? output[name].join('').replace(/\r?\n$/, '') : undefined;
      resolveResult({
        exitCode: exitCode ?? undefined,
        signal: signal ?? undefined,
        stdout: text('stdout'),
        stderr: text('stderr'),
        failed: cause !== undefined || exitCode !== 0,
        cause,
        durationMs: performance.now() - startedAt,
      });
    };
    // Without buffering, the exit is the end: a grandchild holding a pipe open must not delay it.
    child.once(buffer ? 'close' : 'exit', (code: number | null, signal: NodeJS.Signals | null) => finish(code, signal));
    // Node reports EMFILE, EAGAIN, ENOENT, ... of spawn(2) as an 'error' event; it ends a child
    // that never started. (Later 'error's, from kill() or a stream, must not end the process's result.)
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) finish(null, null, spawnError(error));
    });
  });
}

/** Resolves once the process exists, or rejects with a typed error (EMFILE, EAGAIN, ...). */
export async function whenSpawned(subprocess: Subprocess): Promise<number> {
  // A pid is set synchronously on a successful spawn; without one, the result tells why.
  if (subprocess.pid !== undefined) return subprocess.pid;
  const { cause } = await subprocess;
  throw cause ?? new AgentHostError(ErrorCode.SPAWN_FAILED, 'cannot start process');
}

function spawnError(error: NodeJS.ErrnoException): AgentHostError {
  const code =
    error.code === 'ENOENT' ? ErrorCode.SPAWN_NOT_FOUND : error.code === 'EACCES' ? ErrorCode.SPAWN_PERMISSION : ErrorCode.SPAWN_FAILED;
  return new AgentHostError(code, `cannot start process: ${error.message}`, { cause: error });
}

function buildEnv(extra: SpawnOptions['env'], extend: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  const base = extend ? Object.keys(process.env) : INHERITED_ENV;
  for (const key of base) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (key === '' || key.includes('=') || key.includes('\0') || (value !== undefined && typeof value !== 'string') || value?.includes('\0')) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `invalid environment variable ${JSON.stringify(key)}: names and values are strings without NUL or "=" in the name`);
    }
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

const MAX_ID = 0xffff_fffe; // (uid_t)-1 means "unchanged" to setuid(2)

/** Both ids or neither: a uid alone would keep the orchestrator's group (root's, usually). */
function checkIds(uid: number | undefined, gid: number | undefined): { uid: number | undefined; gid: number | undefined } {
  const valid = (id: unknown): boolean => Number.isSafeInteger(id) && (id as number) >= 0 && (id as number) <= MAX_ID;
  if (uid === undefined && gid === undefined) return { uid, gid };
  if (!valid(uid) || !valid(gid)) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `uid and gid must be given together, as integers from 0 to ${MAX_ID}; got uid ${uid}, gid ${gid}`);
  }
  return { uid, gid };
}

function checkCwd(cwd: string): void {
  let isDir = false;
  try {
    isDir = statSync(cwd).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new AgentHostError(ErrorCode.SPAWN_NOT_FOUND, `working directory ${cwd} does not exist`);
}

/**
 * Finds the executable as execvp would, so a missing or non-executable command is a typed
 * error before anything starts, rather than a shell's exit status 127 after.
 */
function resolveCommand(command: string, path: string | undefined, cwd: string): string {
  if (typeof command !== 'string' || command === '' || command.includes('\0')) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'command must be a non-empty string without NUL characters');
  }
  const candidates = command.includes('/')
    ? [isAbsolute(command) ? command : resolve(cwd, command)]
    : (path ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter(Boolean).map((dir) => join(resolve(cwd, dir), command));
  let denied: string | undefined;
  for (const candidate of candidates) {
    let stat;
    try {
      stat = statSync(candidate);
    } catch {
      continue;
    }
    if (!stat.isFile()) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      denied ??= candidate;
    }
  }
  if (denied !== undefined) {
    throw new AgentHostError(ErrorCode.SPAWN_PERMISSION, `command ${JSON.stringify(command)} is not executable (${denied})`);
  }
  throw new AgentHostError(ErrorCode.SPAWN_NOT_FOUND, `command ${JSON.stringify(command)} not found${command.includes('/') ? '' : ' in PATH'}`);
}
