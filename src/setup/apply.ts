/**
 * `applySetup()`: the host setup (swap off, cgroup root, kernel parameters, scratch tmpfs, workspace pool) as an idempotent function. Each step first reads
 * the state preflight() reads and acts only where it differs, so a second run changes nothing.
 */
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exists, readOptional } from '../cgroup/files.js';
import { parseList } from '../cgroup/parse.js';
import { REQUIRED_CONTROLLERS } from './checks-cgroup.js';
import { scratchMountArgs, scratchMounted, swapAreas, THP_FILE, thpMode, workspaceState } from './checks-system.js';
import { resolveSetupOptions, type ResolvedSetupOptions, type SetupOptions } from './options.js';
import { persistHints, type PersistHint } from './persist.js';
import { memTotal, mountAt } from './read.js';
import { agentsRoot } from './root.js';
import { makeRoot } from '../host/placement.js';
import { SYSCTLS, sysctlPath, sysctlState } from './sysctl.js';

/** Runs a command with an argument array (never a shell); rejects when it fails. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<void>;

/** Options of {@link applySetup}: the set-up itself plus how to run (or only list) it. */
export interface ApplySetupOptions extends SetupOptions {
  /** List the actions without doing any. Default `false`. */
  dryRun?: boolean;
  /** The fstab to read (never written) for the persistence hints. Default `/etc/fstab`. */
  fstab?: string;
  /** Runs `swapoff` and `mount`. Default: execa, without a shell. Tests replace it. */
  run?: CommandRunner;
}

/** One step of the host setup, with the shell command it stands for. */
export interface SetupAction {
  /** The preflight check it fixes: `swap`, `cgroup-root`, `sysctl:<key>`, `transparent-hugepages`, `scratch`, `workspaces`. */
  id: string;
  /** What the step does, for people. */
  description: string;
  /** The equivalent shell command. */
  command: string;
  /** It changed something (in a dry run: it would). */
  changed: boolean;
  /** Why it failed; the other actions still ran. */
  error?: string;
}

/** What {@link applySetup} did (or, in a dry run, would do). */
export interface SetupResult {
  /** Nothing was changed: the actions are what would be done. */
  dryRun: boolean;
  /** No action failed. */
  ok: boolean;
  actions: SetupAction[];
  /** What to add under /etc so the setup survives a reboot. */
  persist: PersistHint[];
}

const defaultRunner: CommandRunner = async (file, args) => {
  // Loaded on first use: an orchestrator that never applies setup does not carry execa (~14 MB).
  const { execa } = await import('execa');
  await execa(file, args, { stdin: 'ignore' });
};

/**
 * As root: swap off, the agents' cgroup root with memory and pids enabled, the kernel parameters,
 * transparent hugepages to madvise, the scratch tmpfs and the workspace pool. Idempotent; a failed
 * step is reported in its action and the others still run. Never edits /etc: see `persist`.
 */
export async function applySetup(options: ApplySetupOptions = {}): Promise<SetupResult> {
  const resolved = resolveSetupOptions(options);
  const dryRun = options.dryRun ?? false;
  const run = options.run ?? defaultRunner;
  const actions: SetupAction[] = [];
  const act = async (action: Omit<SetupAction, 'error'>, work: () => void | Promise<void>): Promise<void> => {
    const done: SetupAction = { ...action };
    if (action.changed && !dryRun) {
      try {
        await work();
      } catch (error) {
        done.error = messageOf(error);
      }
    }
    actions.push(done);
  };

  const swap = swapAreas(resolved.procRoot);
  await act(
    {
      id: 'swap',
      description: swap === undefined ? 'swap: /proc/swaps unreadable, turning it off anyway' : swap.length > 0 ? `turn swap off (${swap.map((a) => a.filename).join(', ')})` : 'swap is off',
      command: 'swapoff -a',
      changed: swap === undefined || swap.length > 0,
    },
    async () => {
      await run('swapoff', ['-a']);
      const left = swapAreas(resolved.procRoot);
      if (left === undefined || left.length > 0) throw new Error(`swap still active after swapoff -a: ${left?.map((a) => a.filename).join(', ') ?? 'unknown'}`);
    },
  );

  await cgroupRootAction(resolved, act);

  const mem = memTotal(resolved.procRoot);
  const sysctls = SYSCTLS.map((spec) => sysctlState(spec, resolved.procRoot, mem));
  for (const state of sysctls) {
    const { spec, found, recommended, status } = state;
    await act(
      {
        id: `sysctl:${spec.key}`,
        description:
          found === undefined
            ? `${spec.key}: not available on this kernel, skipped`
            : status === 'ok'
              ? `${spec.key} = ${found}`
              : `${spec.key}: ${found} → ${recommended}`,
        command: `sysctl -w ${spec.key}=${recommended}`,
        changed: found !== undefined && status !== 'ok',
      },
      () => {
        writeFileSync(sysctlPath(resolved.procRoot, spec.key), String(recommended));
        const after = sysctlState(spec, resolved.procRoot, mem);
        if (after.status !== 'ok') throw new Error(`${spec.key}: the kernel kept ${after.found} instead of ${recommended}`);
      },
    );
  }

  const thp = thpMode(resolved.sysRoot);
  const thpPath = join(resolved.sysRoot, THP_FILE);
  await act(
    {
      id: 'transparent-hugepages',
      description: thp === 'always' ? 'transparent hugepages: always → madvise' : `transparent hugepages: ${thp ?? 'not available'}`,
      command: `echo madvise > ${thpPath}`,
      changed: thp === 'always',
    },
    () => writeFileSync(thpPath, 'madvise'),
  );

  const dir = resolved.scratchDir;
  await act(
    {
      id: 'scratch',
      description: scratchMounted(resolved) ? `scratch tmpfs mounted at ${dir}` : `mount a tmpfs scratch at ${dir} (size ${resolved.scratchSize})`,
      command: `mkdir -p ${dir} && mount ${scratchMountArgs(resolved).join(' ')}`,
      changed: !scratchMounted(resolved),
    },
    async () => {
      const other = mountAt(resolved.procRoot, dir);
      if (other) throw new Error(`${other.fsType} is already mounted at ${dir}: not mounting a tmpfs over it`);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      // A tmpfs over files would hide them (not delete them), and agents would miss them.
      if (readdirSync(dir).length > 0) throw new Error(`${dir} is not empty: mounting a tmpfs would hide its files`);
      await run('mount', scratchMountArgs(resolved));
      if (!scratchMounted(resolved)) throw new Error(`mount succeeded but ${dir} is not a tmpfs mount`);
    },
  );

  const workspaces = workspaceState(resolved);
  const fixes = workspaces.missing.length + workspaces.badMode.length;
  await act(
    {
      id: 'workspaces',
      description:
        fixes === 0
          ? `workspace pool: ${workspaces.pool.slots} slots in ${workspaces.pool.root}`
          : `workspace pool in ${workspaces.pool.root}: ${[
              workspaces.missing.length > 0 ? `create ${workspaces.missing.length}` : '',
              workspaces.badMode.length > 0 ? `set mode 0700 on ${workspaces.badMode.length}` : '',
            ]
              .filter(Boolean)
              .join(', ')} of ${workspaces.pool.slots} slots`,
      command: `install -d -m 0700 ${workspaces.pool.root}/${workspaces.pool.slotName(0)} … ${workspaces.pool.root}/${workspaces.pool.slotName(workspaces.pool.slots - 1)}`,
      changed: fixes > 0,
    },
    () => {
      // A slot replaced by a file or a link is not repaired behind the operator's back.
      const blocked = workspaces.missing.filter((slot) => lstatSync(slot, { throwIfNoEntry: false }) !== undefined);
      if (blocked.length > 0) throw new Error(`not directories: ${blocked.join(', ')}`);
      workspaces.pool.prepare();
    },
  );

  return {
    dryRun,
    ok: actions.every((a) => a.error === undefined),
    actions,
    persist: persistHints(
      { ...resolved, fstab: options.fstab ?? '/etc/fstab' },
      { swap, sysctls, thpChanged: thp === 'always' },
    ),
  };
}

type Act = (action: Omit<SetupAction, 'error'>, work: () => void | Promise<void>) => Promise<void>;

async function cgroupRootAction(options: ResolvedSetupOptions, act: Act): Promise<void> {
  const placed = agentsRoot(options);
  const { parent, root } = placed;
  if (!parent || !root) {
    await act({ id: 'cgroup-root', description: "agents' root cgroup: no usable cgroup hierarchy", command: '-', changed: true }, () => {
      throw new Error('no cgroup memory controller: see the cgroup-mode check of preflight()');
    });
    return;
  }
  const enable = REQUIRED_CONTROLLERS.map((c) => `+${c}`).join(' ');
  const lacks = (dir: string): boolean => {
    const enabled = parseList(readOptional(dir, 'cgroup.subtree_control') ?? '');
    return REQUIRED_CONTROLLERS.some((c) => !enabled.includes(c));
  };
  const missing = !root.exists();
  const changed = missing || (root.version === 2 && (lacks(parent.path) || lacks(root.path)));
  const command =
    root.version === 2
      ? `echo '${enable}' > ${join(parent.path, 'cgroup.subtree_control')} && mkdir -p ${root.path} && echo '${enable}' > ${join(root.path, 'cgroup.subtree_control')}`
      : `mkdir -p ${root.dirs.join(' ')}`;
  await act(
    {
      id: 'cgroup-root',
      description: changed
        ? `${missing ? 'create' : 'enable controllers in'} the agents' root cgroup ${root.path}`
        : `agents' root cgroup ${root.path} (${REQUIRED_CONTROLLERS.join(', ')} enabled)`,
      command,
      changed,
    },
    () => {
      // create() enables the controllers in the parent (up to the mount) before making the child.
      const made = makeRoot({ root, parent });
      made.enableControllers();
      if (!exists(made.path)) throw new Error(`${made.path} was not created`);
    },
  );
}

function messageOf(error: unknown): string {
  const shortMessage = (error as { shortMessage?: unknown } | undefined)?.shortMessage;
  const stderr = (error as { stderr?: unknown } | undefined)?.stderr;
  if (typeof shortMessage === 'string') return typeof stderr === 'string' && stderr !== '' ? `${shortMessage}: ${stderr.trim()}` : shortMessage;
  return error instanceof Error ? error.message : String(error);
}
