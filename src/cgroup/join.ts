/**
 * Starting a process inside a cgroup with no escape window: a tiny `sh` shim writes its own
 * pid to the cgroup's `cgroup.procs` (every hierarchy on v1) and only then `exec`s the
 * command, so the command and everything it forks are in the cgroup from the first instruction.
 */
import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
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
  /** Collect stdout/stderr in the result (`(await subprocess).stdout`). Default `false`: stream them yourself. */
  buffer?: boolean;
  /** Start a new session (`setsid`), so a terminal's Ctrl-C reaches the orchestrator, not its agents. Default `true`. */
  detached?: boolean;
}

/** Exit status of the shim when it could not join the cgroup: the command never ran. */
export const JOIN_FAILED_EXIT_CODE = 125;
const SHIM = '/bin/sh';
const SHIM_SCRIPT = `while [ "$1" != -- ]; do echo $$ >"$1" || { echo "nova-agent-host: cannot join cgroup ($1)" >&2; exit ${JOIN_FAILED_EXIT_CODE}; }; shift; done; shift; exec "$@"`;
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'TZ'];

/**
 * The execa subprocess of {@link Cgroup.spawn}: a ChildProcess and a promise of its result that
 * never rejects (a failure is in the result's `exitCode`, `signal` and `cause`).
 */
export type Subprocess = ResultPromise<{ reject: false; buffer: boolean; cleanup: false }>;

export function spawnJoined(procsFiles: string[], command: string, args: readonly string[], options: SpawnOptions = {}): Subprocess {
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, 'args must be an array of strings without NUL characters');
  }
  const env = buildEnv(options.env, options.extendEnv ?? false);
  const cwd = options.cwd === undefined ? process.cwd() : resolve(options.cwd);
  checkCwd(cwd);
  const file = resolveCommand(command, env.PATH, cwd);
  const [stdin, stdout, stderr] = Array.isArray(options.stdio) ? options.stdio : [options.stdio, options.stdio, options.stdio];
  // Pipes made in this process: the stdio pipes and libuv's own exec-error pipe.
  assertDescriptors(2 * (1 + [stdin, stdout, stderr].filter((s) => s === 'pipe').length) + 2);
  return execa(SHIM, ['-c', SHIM_SCRIPT, 'nova-join', ...procsFiles, '--', file, ...args], {
    cwd,
    env,
    extendEnv: false,
    stdin: (stdin ?? 'ignore') as never,
    stdout: (stdout ?? 'ignore') as never,
    stderr: (stderr ?? 'ignore') as never,
    detached: options.detached ?? true,
    reject: false,
    buffer: options.buffer ?? false,
    // The host decides when agents die; an orchestrator crash must not take them down silently
    // (a restarted one reattaches), and a clean exit kills them through dispose().
    cleanup: false,
  });
}

/**
 * Fails with `ERR_SPAWN_FAILED` unless `count` descriptors are free. execa (9.6) cannot survive
 * spawn(2) failing with EMFILE: it throws a TypeError, and the child process it dropped then
 * emits an 'error' nobody listens to, which ends the whole orchestrator. Checked first instead.
 */
function assertDescriptors(count: number): void {
  const fds: number[] = [];
  try {
    for (let i = 0; i < count; i++) fds.push(openSync('/dev/null', 'r'));
  } catch (error) {
    throw new AgentHostError(ErrorCode.SPAWN_FAILED, `cannot start process: ${(error as Error).message}`, { cause: error });
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** Resolves once the process exists, or rejects with a typed error (EMFILE, EAGAIN, ...). */
export function whenSpawned(subprocess: Subprocess): Promise<number> {
  // A pid is set synchronously on a successful spawn; the 'spawn' event may be long past when a
  // caller asks (e.g. after awaiting another process), and would then never come.
  if (subprocess.pid !== undefined) return Promise.resolve(subprocess.pid);
  return new Promise((resolvePid, reject) => {
    const onSpawn = (): void => {
      subprocess.off('error', onError);
      resolvePid(subprocess.pid!);
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      subprocess.off('spawn', onSpawn);
      reject(spawnError(error));
    };
    subprocess.once('spawn', onSpawn);
    subprocess.once('error', onError);
    // The 'error' event may be past too: the (never rejecting) result then carries the cause.
    void subprocess.then((result) => {
      if (subprocess.pid !== undefined) return;
      const cause = (result as { cause?: unknown }).cause;
      onError((cause instanceof Error ? cause : new Error(String(result.message))) as NodeJS.ErrnoException);
    });
  });
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
export function resolveCommand(command: string, path: string | undefined, cwd: string): string {
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
