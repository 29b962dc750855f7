/**
 * The process table as the kernel sees it, read from /proc: process trees, a process's
 * cgroups, liveness (a zombie counts as dead: it holds no memory and runs nothing).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z, T, ... */
  state: string;
  /** Session id: a `setsid` child has its own. */
  session: number;
  /** User-mode CPU time in clock ticks. */
  utime: number;
}

/** /proc/<pid>/stat, or `undefined` when the process is gone. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0]!, ppid: Number(fields[1]), session: Number(fields[3]), utime: Number(fields[11]) };
}

/** Whether `pid` runs (exists and is not a zombie). */
export function isAlive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Every live process on the host. */
export function allProcesses(): ProcStat[] {
  const result: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.state !== 'Z' && stat.state !== 'X') result.push(stat);
  }
  return result;
}

/** `pid` and its live descendants (by parent pid), sorted. Reparented escapes are not found this way. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allProcesses()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const result: number[] = [];
  const visit = (p: number): void => {
    if (isAlive(p)) result.push(p);
    for (const child of children.get(p) ?? []) visit(child);
  };
  visit(pid);
  return result.sort((a, b) => a - b);
}

/**
 * /proc/<pid>/cgroup as a map: `unified` → the v2 path, and each v1 controller (`memory`,
 * `pids`, `freezer`, ...) → its path. `undefined` when the process is gone.
 */
export function cgroupsOf(pid: number): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const controllers = match[2]!;
    if (controllers === '') result.unified = match[3]!;
    for (const controller of controllers.split(',').filter(Boolean)) result[controller] = match[3]!;
  }
  return result;
}
