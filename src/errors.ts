/**
 * Every error the library throws is an {@link AgentHostError} with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages.
 */
export const ErrorCode = {
  /** No usable cgroup hierarchy (not Linux, cgroupfs not mounted, controller missing). */
  CGROUP_UNAVAILABLE: 'ERR_CGROUP_UNAVAILABLE',
  /** The kernel refused access (EACCES/EPERM/EROFS): not root and not delegated. */
  CGROUP_PERMISSION: 'ERR_CGROUP_PERMISSION',
  /** A cgroup could not be removed because it still had processes or children (EBUSY). */
  CGROUP_BUSY: 'ERR_CGROUP_BUSY',
  /** A cgroup file could not be read or written for another reason. */
  CGROUP_IO: 'ERR_CGROUP_IO',
  /** A cgroup that should exist does not. */
  CGROUP_NOT_FOUND: 'ERR_CGROUP_NOT_FOUND',
  /** A cgroup that should not exist yet already does. */
  CGROUP_EXISTS: 'ERR_CGROUP_EXISTS',
  /** A kernel file held something its parser could not read. */
  CGROUP_PARSE: 'ERR_CGROUP_PARSE',
  /** A size such as `"4XB"`, `-1` or `NaN`. */
  INVALID_SIZE: 'ERR_INVALID_SIZE',
  /** A duration such as `"soon"`, `-5` or `Infinity`. */
  INVALID_DURATION: 'ERR_INVALID_DURATION',
  /** A cgroup or agent name with `/`, `..`, NUL, unsafe characters, or too long. */
  INVALID_NAME: 'ERR_INVALID_NAME',
  /** Any other option outside its documented range. */
  INVALID_OPTION: 'ERR_INVALID_OPTION',
  /** The command to run does not exist (ENOENT). */
  SPAWN_NOT_FOUND: 'ERR_SPAWN_NOT_FOUND',
  /** The command exists but may not be executed (EACCES). */
  SPAWN_PERMISSION: 'ERR_SPAWN_PERMISSION',
  /** Starting the process failed for another reason (EMFILE, EAGAIN, ...). */
  SPAWN_FAILED: 'ERR_SPAWN_FAILED',
  /** An agent with this id is already live. */
  AGENT_EXISTS: 'ERR_AGENT_EXISTS',
  /** No agent with this id. */
  AGENT_NOT_FOUND: 'ERR_AGENT_NOT_FOUND',
  /** The operation needs a running agent. */
  AGENT_NOT_RUNNING: 'ERR_AGENT_NOT_RUNNING',
  /** A timeout can no longer be extended: its hard deadline already passed and the hard signal went out. */
  TIMEOUT_EXPIRED: 'ERR_TIMEOUT_EXPIRED',
  /** Admission refused: host memory above the spawn threshold and the caller chose not to wait. */
  ADMISSION_REFUSED: 'ERR_ADMISSION_REFUSED',
  /** Waiting for admission (or in the queue) took longer than allowed. */
  ADMISSION_TIMEOUT: 'ERR_ADMISSION_TIMEOUT',
  /** The caller's AbortSignal fired. */
  ABORTED: 'ERR_ABORTED',
  /** The host was disposed (or not started) when the call came. */
  HOST_DISPOSED: 'ERR_HOST_DISPOSED',
  HOST_NOT_STARTED: 'ERR_HOST_NOT_STARTED',
  /** Another live AgentHost manages the same agents' root. */
  HOST_LOCKED: 'ERR_HOST_LOCKED',
  /** An agent job of a fleet worker (`nova-agent-host/bullmq`) failed: its `reason` says why. */
  AGENT_JOB_FAILED: 'ERR_AGENT_JOB_FAILED',
  /** Every workspace slot is leased. */
  WORKSPACE_EXHAUSTED: 'ERR_WORKSPACE_EXHAUSTED',
  /** Every uid of the dynamic agent users' range is leased (or taken by an account). */
  USERS_EXHAUSTED: 'ERR_USERS_EXHAUSTED',
  /** A `user` name that the system's user database (`/etc/passwd`) does not have. */
  USER_NOT_FOUND: 'ERR_USER_NOT_FOUND',
  /** Preflight found a failing check that would make isolation a lie. */
  PREFLIGHT_FAILED: 'ERR_PREFLIGHT_FAILED',
  /** /proc/meminfo could not be read or lacks MemTotal (not Linux, /proc not mounted). */
  HOST_MEMORY_UNAVAILABLE: 'ERR_HOST_MEMORY_UNAVAILABLE',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What an {@link AgentHostError} is about, beyond its code and message. */
export interface AgentHostErrorOptions {
  /** The cgroup (path relative to the mount, or absolute directory) the error is about. */
  cgroup?: string;
  /** The kernel file the error is about. */
  file?: string;
  /** The underlying error (a Node system error, usually), kept as `error.cause`. */
  cause?: unknown;
}

/**
 * The one error class of the library: branch on `code` (stable across versions), read `cgroup`
 * and `file` for where it happened; the message is for people and may change.
 */
export class AgentHostError extends Error {
  override readonly name = 'AgentHostError';
  /** Stable identifier of the failure, one of {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** The cgroup the error is about, when there is one. */
  readonly cgroup: string | undefined;
  /** The kernel file the error is about, when there is one. */
  readonly file: string | undefined;

  /** Thrown by the library; tests and wrappers may build their own with any code. */
  constructor(code: ErrorCode, message: string, options: AgentHostErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.cgroup = options.cgroup;
    this.file = options.file;
  }
}

/** Type guard for `catch` blocks: an `AgentHostError`, and with `code` given, one with that code. */
export function isAgentHostError(error: unknown, code?: ErrorCode): error is AgentHostError {
  return error instanceof AgentHostError && (code === undefined || error.code === code);
}

/** Maps a Node system error from a cgroupfs operation onto our codes, naming the file. */
export function fromSystemError(error: unknown, action: string, file: string, cgroup?: string): AgentHostError {
  if (error instanceof AgentHostError) return error;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = cgroup === undefined ? file : `${file} (cgroup ${cgroup})`;
  const code: ErrorCode =
    errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS'
      ? ErrorCode.CGROUP_PERMISSION
      : errno === 'EBUSY' || errno === 'ENOTEMPTY'
        ? ErrorCode.CGROUP_BUSY
        : errno === 'ENOENT'
          ? ErrorCode.CGROUP_NOT_FOUND
          : errno === 'EEXIST'
            ? ErrorCode.CGROUP_EXISTS
            : ErrorCode.CGROUP_IO;
  const detail = (error as Error | undefined)?.message ?? String(error);
  return new AgentHostError(code, `cannot ${action} ${where}: ${detail}`, { file, cgroup, cause: error });
}
