/**
 * The one place that touches cgroupfs files. cgroupfs lives in kernel memory, so these
 * calls are synchronous: an async round-trip through libuv's thread pool would cost more
 * than the read itself, on the spawn path and on every monitor tick.
 */
import { accessSync, constants, readFileSync, writeFileSync, mkdirSync, rmdirSync, readdirSync, existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHostError, ErrorCode, fromSystemError } from '../errors.js';

export function readFile(dir: string, file: string): string {
  const path = join(dir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw fromSystemError(error, 'read', path, dir);
  }
}

/** Like {@link readFile}, but `undefined` when the file does not exist (older kernel, controller off). */
export function readOptional(dir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fromSystemError(error, 'read', join(dir, file), dir);
  }
}

/** Reads `file` and parses it with `parse`; a parse error names the file and the cgroup. */
export function readParsed<T>(dir: string, file: string, parse: (text: string) => T): T {
  return parseIn(dir, file, readFile(dir, file), parse);
}

/** Like {@link readParsed}, but `undefined` when the file does not exist. */
export function readParsedOptional<T>(dir: string, file: string, parse: (text: string) => T): T | undefined {
  const text = readOptional(dir, file);
  return text === undefined ? undefined : parseIn(dir, file, text, parse);
}

function parseIn<T>(dir: string, file: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (error) {
    throw namingFile(dir, file, error);
  }
}

/** A parse error of `file` in `dir`, restated to name them; any other error as it is. */
function namingFile(dir: string, file: string, error: unknown): unknown {
  if (!(error instanceof AgentHostError) || error.code !== ErrorCode.CGROUP_PARSE) return error;
  const path = join(dir, file);
  return new AgentHostError(ErrorCode.CGROUP_PARSE, `cannot parse ${path} (cgroup ${dir}): ${error.message}`, {
    file: path,
    cgroup: dir,
    cause: error,
  });
}

export function writeFile(dir: string, file: string, value: string): void {
  const path = join(dir, file);
  try {
    // One write(2) per value: cgroupfs parses each write on its own.
    writeFileSync(path, value);
  } catch (error) {
    throw fromSystemError(error, `write ${JSON.stringify(value)} to`, path, dir);
  }
}

export function exists(dir: string, file = ''): boolean {
  return existsSync(join(dir, file));
}

/** Whether this process may write `file` in `dir` (access(2): permissions and a read-only mount). */
export function writable(dir: string, file = ''): boolean {
  try {
    accessSync(join(dir, file), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `dir` is a directory (a cgroup), not a kernel file of the same name. */
export function isDirectory(dir: string): boolean {
  return statSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

export function makeDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    throw fromSystemError(error, 'create cgroup', dir, dir);
  }
}

/** Removes a cgroup directory; returns false when it is already gone. */
export function removeDir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fromSystemError(error, 'remove cgroup', dir, dir);
  }
}

/**
 * A directory's link count, `undefined` when it is gone. cgroupfs (kernfs) keeps it at 2 + the number
 * of child cgroups, so 2 says "no children" without listing the directory's dozens of files.
 */
export function dirLinks(dir: string): number | undefined {
  return statSync(dir, { throwIfNoEntry: false })?.nlink;
}

/** Child cgroups: the subdirectories of a cgroup directory. */
export function childDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fromSystemError(error, 'list', dir, dir);
  }
}

/** Options of {@link OpenFile}. */
export interface OpenFileOptions {
  /**
   * Open the file anew for every read instead of keeping it open. Default `false`. For v1
   * cgroup.procs and tasks: the kernel caches their pid list per open file for a second.
   */
  reopen?: boolean;
}

/**
 * A kernel file kept open and re-read from offset 0: kernfs regenerates the content on every
 * read at offset 0, so a monitor sampling hundreds of cgroups saves the open/close per read.
 */
export class OpenFile {
  /** Shared by every OpenFile: reads are synchronous, and each is parsed before the next. */
  static #buffer = Buffer.allocUnsafe(64 * 1024);
  #fd: number | undefined;
  readonly #dir: string;
  readonly #file: string;
  /** Kept only for a file opened anew on every read: a kept-open file needs its path once. */
  readonly #reopenPath: string | undefined;

  constructor(dir: string, file: string, options: OpenFileOptions = {}) {
    this.#dir = dir;
    this.#file = file;
    this.#reopenPath = options.reopen ? join(dir, file) : undefined;
  }

  /**
   * The file's path. Made on demand: a monitor of 300 agents holds over a thousand of these, and
   * their paths would be most of what they weigh.
   */
  get path(): string {
    return this.#reopenPath ?? join(this.#dir, this.#file);
  }

  /** The file's content, or `undefined` once it (or its cgroup) is gone. */
  read(): string | undefined {
    const length = this.#readRaw();
    return length < 0 ? undefined : OpenFile.#buffer.toString('utf8', 0, length);
  }

  /** The content parsed with `parse` (a parse error names the file), or `undefined` once gone. */
  readParsed<T>(parse: (text: string) => T): T | undefined {
    const text = this.read();
    return text === undefined ? undefined : parseIn(this.#dir, this.#file, text, parse);
  }

  /**
   * The content parsed in place by `parse(bytes, length)` (parse.ts's byte parsers): no string,
   * no buffer is made, which is what keeps an idle host's every-second reads from allocating.
   * `bytes` is valid only during the call. A parse error names the file; `undefined` once gone.
   */
  readBytes<T>(parse: (bytes: Buffer, length: number) => T): T | undefined {
    const length = this.#readRaw();
    if (length < 0) return undefined;
    try {
      return parse(OpenFile.#buffer, length);
    } catch (error) {
      throw namingFile(this.#dir, this.#file, error);
    }
  }

  /** Reads into the shared buffer: the length, or -1 once the file is gone. */
  #readRaw(): number {
    try {
      this.#fd ??= openSync(this.path, 'r');
      const length = readSync(this.#fd, OpenFile.#buffer, 0, OpenFile.#buffer.length, 0);
      if (this.#reopenPath !== undefined) this.close();
      return length;
    } catch (error) {
      this.close();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENODEV') return -1;
      throw fromSystemError(error, 'read', this.path);
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed by the kernel's removal of the cgroup: nothing to release.
    }
    this.#fd = undefined;
  }
}
