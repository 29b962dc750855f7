/**
 * Set-up of the reliability suite: every host gets its own agents' root below this process's
 * cgroup (never elsewhere), a temp state directory, small limits and a short grace; after each
 * test everything is torn down and checked gone from the kernel's point of view — cgroup
 * directories in every hierarchy, and processes found by scanning /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { expect, inject } from 'vitest';
import { AgentHost, Cgroup, isAgentHostError, type AgentHostOptions, type Limits } from '../../src/index.js';
import { leftovers, uniqueName } from '../helpers/cgroups.js';
import { defer, runDeferred, tempDir } from '../helpers/cleanup.js';
import { allProcesses, cgroupsOf, isAlive } from '../helpers/procs.js';

/** Small per-agent limits: a hog hits them at once, and memoryHigh = memoryMax keeps v2 from throttling instead of killing. */
export const SMALL: Limits = { memoryMax: '64M', memoryHigh: '64M', swapMax: 0, pidsMax: 64 };
export const GRACE_MS = 300;

/** The v2 VM runs node under software emulation: scenarios scale down there. */
export const IN_VM = hostname() === 'cgroup2-vm';
export const v2 = (): boolean => Cgroup.self().version === 2;

export { defer, runDeferred };

/**
 * A temp directory, removed after the test. Agents write flags and pid files into it, and a root
 * host runs them as dynamic users: it is world-writable (sticky, as /tmp), while the host's own
 * state and workspace directories made inside it keep their 0700/0711 modes.
 */
export function scratch(label = 'rel'): string {
  const dir = tempDir(label);
  chmodSync(dir, 0o1777);
  return dir;
}

/**
 * A fresh cgroup below this process's own, deleted after the test; then nothing of it may be
 * left: no directory in any hierarchy, no process in it (by cgroup.procs and by /proc).
 */
export function agentsRoot(label = 'rel'): Cgroup {
  const root = Cgroup.create(Cgroup.self(), uniqueName(label));
  defer(async () => {
    const stray = processesIn(root);
    await root.delete();
    expect(leftovers(root), `leftovers of ${root.path}`).toEqual({ cgroups: [], pids: [] });
    expect(processesIn(root), `processes left in ${root.path}`).toEqual([]);
    // Processes the test left running are a failure even though delete() killed them.
    expect(stray, `processes still running in ${root.path} at the end of the test`).toEqual([]);
  });
  return root;
}

export interface HostFixture {
  host: AgentHost;
  root: Cgroup;
  dir: string;
  stateDir: string;
}

/** A started host on a fresh root with small limits; disposed after the test. */
export async function startHost(options: Partial<AgentHostOptions> = {}, label = 'rel'): Promise<HostFixture> {
  const root = agentsRoot(label);
  const dir = scratch(label);
  const stateDir = join(dir, 'state');
  const host = new AgentHost({ cgroupRoot: root, stateDir, limits: SMALL, killGrace: GRACE_MS, pollInterval: 100, ...options });
  defer(() => host.dispose());
  await host.start();
  return { host, root, dir, stateDir };
}

/** The path of `dir` as /proc/<pid>/cgroup prints it in the hierarchy mounted at `mount`. */
function procPath(mount: string, dir: string): string {
  return `/${relative(mount, dir)}`;
}

/**
 * Every live process whose /proc/<pid>/cgroup places it in `cgroup` or below, in any hierarchy
 * the cgroup spans: found by scanning /proc, not by asking the cgroup (which could be gone).
 */
export function processesIn(cgroup: Cgroup): number[] {
  const wanted: Array<[string, string]> = [];
  for (const [key, dir] of Object.entries(cgroup.location)) {
    const mount = cgroup.hierarchy.mounts[key as keyof typeof cgroup.hierarchy.mounts];
    if (mount !== undefined && dir !== undefined) wanted.push([key, procPath(mount, dir)]);
  }
  const found: number[] = [];
  for (const { pid } of allProcesses()) {
    const seen = cgroupsOf(pid);
    if (!seen) continue;
    if (wanted.some(([key, path]) => seen[key] === path || seen[key]?.startsWith(`${path}/`) === true)) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}

/** Live processes whose command line contains `marker` (an argument no other process uses). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const { pid } of allProcesses()) {
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(marker)) found.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Live children of this process (its own spawns), by parent pid. */
export function childProcesses(): number[] {
  return allProcesses()
    .filter((p) => p.ppid === process.pid)
    .map((p) => p.pid);
}

/** The pids of `pids` that still run (zombies count as dead). */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => isAlive(pid));
}

/** Every directory at or below `cgroup`, in every hierarchy it spans (relative to its own directory there). */
export function cgroupTree(cgroup: Cgroup): string[] {
  const found: string[] = [];
  for (const [key, top] of Object.entries(cgroup.location)) {
    const visit = (dir: string): void => {
      if (!existsSync(dir)) return;
      found.push(`${key}:${relative(top!, dir) || '.'}`);
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) visit(join(dir, entry.name));
    };
    visit(top!);
  }
  return found.sort();
}

/** Every file and directory below `dir` (relative), or `[]` if it does not exist. */
export function fileTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** Pids an agent wrote to `file`, one per line. */
export function readPids(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
}

/** A shell loop that ends once `flag` exists: a switch the test controls, cheap under emulation. */
export function untilFile(flag: string, before = ''): string[] {
  return ['-c', `${before}while [ ! -e '${flag}' ]; do sleep 0.1; done`];
}

/** The error a promise rejects with (or a function throws): its `code` for typed errors. */
export async function failure(run: () => unknown): Promise<{ code: string | undefined; message: string; error: unknown }> {
  try {
    await run();
  } catch (error) {
    return { code: isAgentHostError(error) ? error.code : (error as { code?: string }).code, message: String(error), error };
  }
  return { code: 'NO_ERROR', message: 'resolved', error: undefined };
}

/** oom_kill of the cgroup, as the kernel counts it (memory.events on v2, memory.oom_control on v1). */
export function kernelOomKills(cgroup: Cgroup): number {
  const text = readFileSync(join(cgroup.path, cgroup.version === 2 ? 'memory.events' : 'memory.oom_control'), 'utf8');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? NaN);
}

/** A `key value` line of a flat-keyed kernel file of `cgroup` in the hierarchy of `dir`. */
export function kernelKey(dir: string, file: string, key: string): number {
  const text = readFileSync(join(dir, file), 'utf8');
  return Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** A fixture script as bundled by the project's global setup: runnable with plain `node`. */
export function bundledFixture(script: string): string {
  return join(inject('reliabilityFixtures'), script.replace(/\.ts$/, '.mjs'));
}

export interface NodeChild {
  child: ChildProcess;
  /** Lines the child printed so far. */
  lines: string[];
  /** Resolves with the payload of the first line starting with `tag `. */
  line<T>(tag: string, timeout?: number): Promise<T>;
  /** Resolves once the child has exited (code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * Runs a fixture script (bundled: see global-setup.ts) with node, optionally wrapped
 * (`['prlimit', '--nofile=64']`, `['unshare', '--pid', ...]`); SIGKILLed after the test if still running.
 */
export function runFixture(script: string, config: unknown, wrap: string[] = [], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): NodeChild {
  const [command, ...args] = [...wrap, process.execPath, bundledFixture(script), JSON.stringify(config)];
  const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: options.cwd, env: options.env });
  defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters.splice(0)) waiter();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  const line = <T>(tag: string, timeout = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${tag} line from ${script} within ${timeout} ms; stderr: ${stderr}`)), timeout);
      const look = (): void => {
        const found = lines.find((l) => l.startsWith(`${tag} `));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(found.slice(tag.length + 1)) as T);
          return;
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`${script} ended (${child.exitCode ?? child.signalCode}) before ${tag}: ${stderr}`));
          return;
        }
        waiters.push(look);
      };
      look();
      void exited.then(() => look());
    });
  return { child, lines, line, exited };
}
