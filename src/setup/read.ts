/**
 * Reads of /proc and /sys files for host setup (not cgroupfs: that goes through
 * src/cgroup/files.ts). Kernel text is parsed in src/cgroup/parse.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseMeminfo, parseMounts, type MountEntry } from '../cgroup/parse.js';

/** The file's text, or `undefined` when it does not exist or cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses `path` with `parse`; `undefined` when unreadable; a parse error names the file. */
export function readWith<T>(path: string, parse: (text: string) => T): T | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch (error) {
    throw new AgentHostError(ErrorCode.CGROUP_PARSE, `cannot parse ${path}: ${(error as Error).message}`, { file: path, cause: error });
  }
}

/** MemTotal in bytes, from `<procRoot>/meminfo`. */
export function memTotal(procRoot: string): number | undefined {
  return readWith(join(procRoot, 'meminfo'), parseMeminfo)?.MemTotal;
}

/** This process's mounts (every filesystem type). */
export function mounts(procRoot: string): MountEntry[] {
  return readWith(join(procRoot, 'self', 'mountinfo'), parseMounts) ?? [];
}

/** The mount whose mount point is `dir` (the last one: a later mount hides an earlier one). */
export function mountAt(procRoot: string, dir: string): MountEntry | undefined {
  return mounts(procRoot).filter((m) => m.mountPoint === dir).pop();
}
