/**
 * The agent side's own minimal readers of kernel files. `nova-agent-host/agent` runs inside an
 * agent's harness and must not pull in the orchestrator's parsers (nor their error classes), so
 * it carries these few lines instead. Every reader returns `undefined` instead of throwing: a
 * missing file, a permission error or odd text all mean "not known here".
 */
import { readFileSync } from 'node:fs';

/** A file's text, or `undefined` when it cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A cgroup value: a byte count, or `max` (v2) → Infinity. v1 writes "no limit" as a huge
 * page-aligned number (2^63 minus a page), which is beyond any real memory: Infinity too.
 */
export function readBytes(path: string): number | undefined {
  const text = readText(path)?.trim();
  if (text === undefined || text === '') return undefined;
  if (text === 'max') return Infinity;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) return undefined;
  return value >= 2 ** 62 ? Infinity : value;
}

/** A flat-keyed file (`key value` per line, as memory.stat), or `undefined`. */
export function readFlat(path: string): Record<string, number> | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const result: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) result[line.slice(0, space)] = value;
  }
  return result;
}

/** `some avg10` of a PSI file (`some avg10=1.23 avg60=… total=…`): percent of the last 10 s. */
export function readPsiSome10(path: string): number | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const match = /^some .*\bavg10=([0-9.]+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Resident set size of this process in bytes (`VmRSS` of /proc/self/status), or `undefined`. */
export function readVmRss(procRoot: string): number | undefined {
  const text = readText(`${procRoot}/self/status`);
  const match = text === undefined ? null : /^VmRSS:\s+(\d+)\s*kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** A line of /proc/self/cgroup: `id:controllers:path`. */
export interface ProcCgroupLine {
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const result: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    result.push({ controllers: list === '' ? [] : list.split(','), path: line.slice(second + 1) });
  }
  return result;
}

/** A cgroup or cgroup2 mount from /proc/self/mountinfo. */
export interface CgroupMountLine {
  /** The mount's root inside the hierarchy: not `/` for a bind mount of a sub-cgroup (containers). */
  root: string;
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  superOptions: string[];
}

export function parseCgroupMounts(text: string): CgroupMountLine[] {
  const result: CgroupMountLine[] = [];
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const fsType = right[0];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    result.push({
      root: unescape(left[3] ?? '/'),
      mountPoint: unescape(left[4] ?? ''),
      fsType,
      superOptions: (right[2] ?? '').split(','),
    });
  }
  return result;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
