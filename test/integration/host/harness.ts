/**
 * Shared set-up of the AgentHost integration tests: a fresh agents' root below this process's own
 * cgroup (never elsewhere), a temp state directory and workspace root, small limits and a short
 * grace, all torn down after each test — and checked to be gone from the kernel.
 */
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { AgentHost, Cgroup, type AgentHostOptions, type HierarchyKey, type Limits } from '../../../src/index.js';
import { leftovers, procCgroupPath, uniqueName } from '../../helpers/cgroups.js';
import { defer, runDeferred, tempDir as makeTempDir } from '../../helpers/cleanup.js';
import { cgroupsOf, isAlive } from '../../helpers/procs.js';
import { launchOrchestrator } from './fixtures/client.js';
import type { OrchestratorConfig } from './fixtures/orchestrator.js';

/** Small enough that a hog hits it at once; memoryHigh = memoryMax so v2 OOM-kills instead of throttling. */
export const SMALL: Limits = { memoryMax: '64M', memoryHigh: '64M', swapMax: 0, pidsMax: 64 };
export const GRACE_MS = 400;

export { defer };

export interface Fixture {
  host: AgentHost;
  /** The agents' root the host was given. */
  root: Cgroup;
  /** A temp directory for the test's files (state, workspaces, flags). */
  dir: string;
  stateDir: string;
}

afterEach(runDeferred);

/**
 * A temp directory, removed after the test. Agents write their flags and pid files into it, and a
 * root host runs them as dynamic users: it is world-writable (sticky, as /tmp), while the host's
 * own state and workspace directories made inside it keep their 0700/0711 modes.
 */
export function tempDir(label = 'host'): string {
  const dir = makeTempDir(label);
  chmodSync(dir, 0o1777);
  return dir;
}

/** A fresh cgroup below this process's own, deleted after the test and checked gone (no dirs, no pids). */
export function testRoot(label = 'host'): Cgroup {
  const root = Cgroup.create(Cgroup.self(), uniqueName(label));
  defer(async () => {
    await root.delete();
    const left = leftovers(root);
    expect(left, `leftovers of ${root.path}`).toEqual({ cgroups: [], pids: [] });
  });
  return root;
}

/** A started host on a fresh root; disposed (then its root deleted) after the test. */
export async function startHost(options: Partial<AgentHostOptions> = {}): Promise<Fixture> {
  const root = testRoot();
  const dir = tempDir();
  const stateDir = join(dir, 'state');
  const host = new AgentHost({ cgroupRoot: root, stateDir, limits: SMALL, killGrace: GRACE_MS, pollInterval: 100, ...options });
  defer(() => host.dispose());
  await host.start();
  return { host, root, dir, stateDir };
}

/** The keys of every hierarchy the cgroup spans (v2: unified; v1: memory, pids, freezer). */
export function keysOf(cgroup: Cgroup): HierarchyKey[] {
  return Object.keys(cgroup.location) as HierarchyKey[];
}

/** Pids in the cgroup's `key` hierarchy, read from the kernel (default: the main one). */
export function kernelProcs(cgroup: Cgroup, key?: HierarchyKey): number[] {
  const dir = key === undefined ? cgroup.path : cgroup.location[key]!;
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** Whether `pid` sits in `cgroup` in every hierarchy the cgroup spans, according to /proc/<pid>/cgroup. */
export function inCgroup(pid: number, cgroup: Cgroup): boolean {
  const seen = cgroupsOf(pid);
  return seen !== undefined && listsCgroup(seen, cgroup);
}

/** /proc/<pid>/cgroup text as a map: `unified` → the v2 path, each v1 controller → its path. */
export function parseProcCgroup(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    if (match[2] === '') result.unified = match[3]!;
    for (const controller of match[2]!.split(',').filter(Boolean)) result[controller] = match[3]!;
  }
  return result;
}

/** Whether a parsed /proc/<pid>/cgroup names `cgroup` in every hierarchy the cgroup spans. */
export function listsCgroup(seen: Record<string, string>, cgroup: Cgroup): boolean {
  return keysOf(cgroup).every((key) => seen[key] === procCgroupPath(cgroup, key));
}

/** Whether any directory of the cgroup exists in any hierarchy. */
export function anyDirExists(cgroup: Cgroup): boolean {
  return cgroup.dirs.some((dir) => existsSync(dir));
}

/** Child cgroup names of the root, in its main hierarchy. */
export function childNames(root: Cgroup): string[] {
  return readdirSync(root.path, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** Pids read from a file an agent wrote (one per line), once it holds `count` of them. */
export function readPids(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

/** The pids of `pids` that still run (zombies count as dead). */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => isAlive(pid));
}

/** The raw value of a kernel file of `cgroup` in `key`'s hierarchy. */
export function kernelFile(cgroup: Cgroup, file: string, key?: HierarchyKey): string {
  const dir = key === undefined ? cgroup.path : cgroup.location[key]!;
  return readFileSync(join(dir, file), 'utf8').trim();
}

/** oom_kill of the cgroup, read from the kernel (memory.events on v2, memory.oom_control on v1). */
export function kernelOomKills(cgroup: Cgroup): number {
  const text = cgroup.version === 2 ? kernelFile(cgroup, 'memory.events') : kernelFile(cgroup, 'memory.oom_control', 'memory');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? NaN);
}

/** A shell loop that runs until `flag` exists (a stop switch the test controls); it polls slowly, the VM emulates every fork. */
export function untilFile(flag: string, before = ''): string[] {
  return ['-c', `${before}while [ ! -e '${flag}' ]; do sleep 0.2; done`];
}

/** The fixture orchestrator as a child process, killed after the test if it still runs. */
export function startOrchestrator(
  config: OrchestratorConfig,
  wrap?: string[] | ((command: string[]) => string[]),
): ReturnType<typeof launchOrchestrator> {
  return launchOrchestrator(config, wrap, defer);
}
