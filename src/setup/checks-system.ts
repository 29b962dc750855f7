/** The host checks outside cgroupfs: swap, transparent hugepages, scratch tmpfs, workspace pool. */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { parseSelected, parseSwaps, type SwapArea } from '../cgroup/parse.js';
import { WorkspacePool } from '../host/workspaces.js';
import { formatBytes } from '../util/size.js';
import type { ResolvedSetupOptions } from './options.js';
import { mountAt, readWith } from './read.js';
import { check, type PreflightCheck } from './report.js';

/** Active swap areas; `undefined` when /proc/swaps cannot be read. */
export function swapAreas(procRoot: string): SwapArea[] | undefined {
  return readWith(join(procRoot, 'swaps'), parseSwaps);
}

export function swapCheck(areas: SwapArea[] | undefined): PreflightCheck {
  const base = { id: 'swap', title: 'swap', recommended: 'off (no active swap areas)' };
  if (areas === undefined) {
    return check({ ...base, status: 'warn', found: 'unknown (/proc/swaps unreadable)', fix: 'swapoff -a' });
  }
  if (areas.length === 0) return check({ ...base, status: 'ok', found: 'off' });
  return check({
    ...base,
    status: 'warn',
    found: `on: ${areas.map((a) => `${a.filename} (${a.type}, ${formatBytes(a.size)}, ${formatBytes(a.used)} used)`).join(', ')}`,
    fix: 'swapoff -a',
    detail:
      'swap with hundreds of agents means a cascading slowdown that bricks the host. Agents get memory.swap.max 0, but the rest of the ' +
      'system still swaps; to keep it off after a reboot comment out the swap lines of /etc/fstab (applySetup lists them)',
  });
}

export const THP_FILE = join('kernel', 'mm', 'transparent_hugepage', 'enabled');

/** The selected transparent hugepage mode; `undefined` when the kernel has none. */
export function thpMode(sysRoot: string): string | undefined {
  return readWith(join(sysRoot, THP_FILE), parseSelected);
}

export function thpCheck(sysRoot: string): PreflightCheck {
  const mode = thpMode(sysRoot);
  const path = join(sysRoot, THP_FILE);
  return check({
    id: 'transparent-hugepages',
    title: 'transparent hugepages',
    status: mode === 'always' ? 'warn' : 'ok',
    found: mode ?? 'not available',
    recommended: 'madvise (or never)',
    fix: `echo madvise > ${path}`,
    detail:
      'with "always" every agent heap grows in 2 MiB steps and khugepaged collapses pages behind its back: agents reach ' +
      'their 4G limit sooner and reclaim works harder; persist with transparent_hugepage=madvise on the kernel command line',
  });
}

/** The mount(8) command that makes the scratch tmpfs. */
export function scratchMountArgs(options: ResolvedSetupOptions): string[] {
  return ['-t', 'tmpfs', '-o', `size=${options.scratchSize},mode=1777,nosuid,nodev`, 'tmpfs', options.scratchDir];
}

/** Whether the scratch directory is a tmpfs mount now. */
export function scratchMounted(options: ResolvedSetupOptions): boolean {
  return mountAt(options.procRoot, options.scratchDir)?.fsType === 'tmpfs';
}

export function scratchCheck(options: ResolvedSetupOptions): PreflightCheck {
  const dir = options.scratchDir;
  const mount = mountAt(options.procRoot, dir);
  const base = {
    id: 'scratch',
    title: 'tmpfs scratch space',
    recommended: `tmpfs mounted at ${dir}`,
    fix: `mkdir -p ${dir} && mount ${scratchMountArgs(options).join(' ')}`,
    detail: 'scratch files live in RAM and are charged to the agent that writes them, so they count against its limit',
  };
  if (mount?.fsType === 'tmpfs') {
    const size = mount.superOptions.find((o) => o.startsWith('size='));
    return check({ ...base, status: 'ok', found: `tmpfs at ${dir}${size ? ` (${size})` : ''}` });
  }
  const isDir = lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const found = mount ? `${mount.fsType} mounted at ${dir}, not tmpfs` : isDir ? `${dir} is a plain directory, not a tmpfs mount` : `${dir} does not exist`;
  return check({ ...base, status: 'warn', found });
}

export interface WorkspaceState {
  pool: WorkspacePool;
  /** Slot directories that are missing (or not directories). */
  missing: string[];
  /** Slots whose mode is not 0700. */
  badMode: string[];
}

export function workspaceState(options: ResolvedSetupOptions): WorkspaceState {
  const pool = new WorkspacePool({ root: options.workspaceRoot, slots: options.workspaceSlots });
  const missing: string[] = [];
  const badMode: string[] = [];
  for (let i = 0; i < pool.slots; i++) {
    const dir = join(pool.root, pool.slotName(i));
    const stat = lstatSync(dir, { throwIfNoEntry: false });
    if (!stat?.isDirectory()) missing.push(dir);
    else if ((stat.mode & 0o777) !== 0o700) badMode.push(dir);
  }
  return { pool, missing, badMode };
}

export function workspacesCheck(options: ResolvedSetupOptions): PreflightCheck {
  const { pool, missing, badMode } = workspaceState(options);
  const width = Math.max(3, String(pool.slots).length);
  const present = pool.slots - missing.length;
  const found =
    present === 0
      ? `${pool.root}: no slots`
      : `${pool.root}: ${present} of ${pool.slots} slots${badMode.length > 0 ? `, ${badMode.length} not mode 0700` : ''}`;
  return check({
    id: 'workspaces',
    title: 'workspace pool',
    status: missing.length === 0 && badMode.length === 0 ? 'ok' : 'warn',
    found,
    recommended: `${pool.slots} slot directories (${pool.slotName(0)} … ${pool.slotName(pool.slots - 1)}), mode 0700`,
    fix: `for i in $(seq -f %0${width}g 1 ${pool.slots}); do install -d -m 0700 ${pool.root}/ws-$i; done`,
  });
}
