/**
 * The cgroup checks: is there a memory controller, are memory and pids delegated to the agents'
 * root, may this process write there, and can agents be kept off swap.
 */
import { join } from 'node:path';
import { childDirs, exists, readOptional, writable } from '../cgroup/files.js';
import { parseList } from '../cgroup/parse.js';
import type { Cgroup } from '../cgroup/cgroup.js';
import type { HierarchyKey } from '../cgroup/detect.js';
import { readText } from './read.js';
import type { AgentsRoot } from './root.js';
import { check, worst, type CheckStatus, type PreflightCheck } from './report.js';

/** Controllers agents need below their root: memory limits, and pids.max against fork bombs. */
export const REQUIRED_CONTROLLERS = ['memory', 'pids'] as const;
const ENABLE = REQUIRED_CONTROLLERS.map((c) => `+${c}`).join(' ');
const GRUB = '/etc/default/grub';

export function modeCheck({ hierarchy }: AgentsRoot): PreflightCheck {
  const title = 'cgroup hierarchy';
  const recommended = 'cgroup v2 (unified hierarchy) with the memory controller';
  if (hierarchy.version === 2) {
    return check({ id: 'cgroup-mode', title, status: 'ok', found: `cgroup v2 (${hierarchy.mode}) at ${hierarchy.mounts.unified}`, recommended });
  }
  if (hierarchy.version === 1) {
    return check({
      id: 'cgroup-mode',
      title,
      status: 'warn',
      found: `${hierarchy.mode}: the memory controller is on cgroup v1 at ${hierarchy.mounts.memory}`,
      recommended,
      fix: `sed -i 's/^GRUB_CMDLINE_LINUX="/&systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all /' ${GRUB} && update-grub && reboot`,
      detail: 'v1 still isolates memory, but approximates memory.high with a soft limit and has no per-cgroup pressure or cgroup.kill',
    });
  }
  const mounted = hierarchy.mode !== 'none';
  return check({
    id: 'cgroup-mode',
    title,
    status: 'fail',
    found: mounted ? `${hierarchy.mode}, but no memory controller is available` : 'no cgroup filesystem mounted',
    recommended,
    fix: mounted
      ? `sed -i -e 's/cgroup_disable=memory//' -e 's/^GRUB_CMDLINE_LINUX="/&cgroup_enable=memory /' ${GRUB} && update-grub && reboot`
      : 'mount -t cgroup2 cgroup2 /sys/fs/cgroup',
    detail: 'without a memory controller nothing limits an agent: one runaway build takes the machine down',
  });
}

export function controllersCheck(placed: AgentsRoot): PreflightCheck {
  const { hierarchy, parent, root } = placed;
  const id = 'cgroup-controllers';
  const title = 'cgroup controllers delegated';
  const recommended = `${REQUIRED_CONTROLLERS.join(', ')} available to the agents' root and enabled below it`;
  if (!parent || !root) {
    return check({ id, title, status: 'fail', found: 'no usable cgroup hierarchy', recommended, fix: undefined });
  }
  if (root.version === 1) {
    const missing = (['pids', 'freezer'] as const).filter((c) => hierarchy.mounts[c] === undefined);
    return check({
      id,
      title,
      status: missing.length > 0 ? 'warn' : 'ok',
      found: `v1 hierarchies mounted: ${(['memory', 'pids', 'freezer'] as const).filter((c) => hierarchy.mounts[c] !== undefined).join(', ')}`,
      recommended: 'memory, pids and freezer mounted',
      fix: missing.map((c) => `mkdir -p /sys/fs/cgroup/${c} && mount -t cgroup -o ${c} cgroup /sys/fs/cgroup/${c}`).join(' && '),
      detail: 'without pids, pids.max (the fork-bomb limit) is not applied; without freezer, killing an agent races with its forks',
    });
  }

  const parentDir = parent.path;
  const available = listIn(parentDir, 'cgroup.controllers');
  if (available === undefined) {
    return check({
      id,
      title,
      status: 'fail',
      found: `${parentDir} does not exist`,
      recommended,
      fix: `mkdir -p ${parentDir}`,
      detail: "the agents' root is created in an existing cgroup",
    });
  }
  const missing = REQUIRED_CONTROLLERS.filter((c) => !available.includes(c));
  const found = [`available in ${parentDir}: ${available.join(' ') || 'none'}`];
  if (missing.length > 0) {
    const atMountRoot = parentDir === hierarchy.mounts.unified;
    return check({
      id,
      title,
      status: 'fail',
      found: found[0]!,
      recommended,
      fix: atMountRoot
        ? `sed -i 's/cgroup_disable=[^ "]*//g' ${GRUB} && update-grub && reboot`
        : `echo '${missing.map((c) => `+${c}`).join(' ')}' > ${join(parentDir, '..', 'cgroup.subtree_control')}`,
      detail: atMountRoot
        ? 'the kernel offers no such controller (disabled on its command line?)'
        : 'the cgroup above was not delegated with them: for a systemd unit set Delegate=yes (systemd-run -p Delegate=yes ...)',
    });
  }

  let status: CheckStatus = 'ok';
  const fixes: string[] = [];
  const enabledBelow = (dir: string): void => {
    const enabled = listIn(dir, 'cgroup.subtree_control') ?? [];
    found.push(`enabled below ${dir}: ${enabled.join(' ') || 'none'}`);
    if (REQUIRED_CONTROLLERS.some((c) => !enabled.includes(c))) {
      status = worst(status, 'warn');
      fixes.push(`echo '${ENABLE}' > ${join(dir, 'cgroup.subtree_control')}`);
    }
  };
  enabledBelow(parentDir);
  if (exists(root.path)) enabledBelow(root.path);
  else fixes.push(`mkdir ${root.path} && echo '${ENABLE}' > ${join(root.path, 'cgroup.subtree_control')}`);
  return check({
    id,
    title,
    status,
    found: found.join('; '),
    recommended,
    fix: fixes.join(' && '),
    detail: placed.delegated
      ? `${parentDir} is a delegated cgroup: AgentHost.start() moves the orchestrator into a "supervisor" leaf and enables them itself`
      : 'applySetup() and AgentHost.start() enable them',
  });
}

export function rootCheck(placed: AgentsRoot, uid: number | undefined): PreflightCheck {
  const { hierarchy, parent, root } = placed;
  const id = 'cgroup-root';
  const title = "agents' root cgroup";
  const recommended = 'exists and is writable by the orchestrator';
  if (!parent || !root) return check({ id, title, status: 'fail', found: 'no usable cgroup hierarchy', recommended });
  const keys = Object.keys(root.location) as HierarchyKey[];
  const readOnly = keys.filter((key) => hierarchy.readOnly.includes(key));
  if (readOnly.length > 0) {
    return check({
      id,
      title,
      status: 'fail',
      found: `cgroupfs is mounted read-only (${readOnly.map((key) => hierarchy.mounts[key]).join(', ')})`,
      recommended,
      fix: `mount -o remount,rw ${hierarchy.mounts[readOnly[0]!]}`,
      detail: 'in a container: give it its own cgroup namespace with a writable cgroupfs (docker run --cgroupns=private, podman defaults)',
    });
  }
  const owner = uid === undefined || uid === 0 ? undefined : `${uid}:${process.getgid?.() ?? uid}`;
  if (root.exists()) {
    const notWritable = root.dirs.filter((dir) => !writable(dir) || !writable(dir, 'cgroup.procs'));
    if (notWritable.length === 0) return check({ id, title, status: 'ok', found: `${root.dirs.join(', ')} (writable)`, recommended });
    return check({
      id,
      title,
      status: 'fail',
      found: `${notWritable.join(', ')} not writable by uid ${uid ?? '?'}`,
      recommended,
      fix: delegateCommand(root, owner ?? 'root:root'),
      detail: 'run the orchestrator as root, or delegate the root to its user (only these files, so agents cannot lift their own limits)',
    });
  }
  const parentWritable = parent.dirs.every((dir) => writable(dir));
  const mkdir = `mkdir -p ${root.dirs.join(' ')}${root.version === 2 ? ` && echo '${ENABLE}' > ${join(root.path, 'cgroup.subtree_control')}` : ''}`;
  return check({
    id,
    title,
    status: parentWritable ? 'warn' : 'fail',
    found: `${root.dirs.join(', ')} ${root.dirs.length === 1 ? 'does' : 'do'} not exist${parentWritable ? '' : `, and uid ${uid ?? '?'} cannot create ${root.dirs.length === 1 ? 'it' : 'them'}`}`,
    recommended,
    fix: parentWritable || !owner ? mkdir : `${mkdir} && ${delegateCommand(root, owner)}`,
    detail: parentWritable ? 'applySetup() or AgentHost.start() creates it' : 'run the orchestrator as root, or create the root and delegate it to its user',
  });
}

function delegateCommand(root: Cgroup, owner: string): string {
  const files = root.version === 2 ? ['cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads'] : ['cgroup.procs', 'tasks'];
  return `chown ${owner} ${root.dirs.flatMap((dir) => [dir, ...files.map((f) => join(dir, f))]).join(' ')}`;
}

/** Where the kernel shows whether swap is accounted per cgroup: v2 memory.swap.max, v1 memsw. */
function swapControlFile(placed: AgentsRoot): { dir: string; file: string } | undefined {
  const { hierarchy, parent, root } = placed;
  if (!root || !parent) return undefined;
  if (root.version === 1) return { dir: hierarchy.mounts.memory!, file: 'memory.memsw.limit_in_bytes' };
  const file = 'memory.swap.max';
  // The root cgroup has no memory.* files: look in a non-root cgroup with the memory controller.
  const mount = hierarchy.mounts.unified!;
  const candidates = [root.path, parent.path === mount ? undefined : parent.path, ...childDirs(mount).map((name) => join(mount, name))];
  for (const dir of candidates) if (dir !== undefined && exists(dir, 'memory.max')) return { dir, file };
  return undefined;
}

export function swapAccountingCheck(placed: AgentsRoot, swapOn: boolean): PreflightCheck {
  const id = 'swap-accounting';
  const title = 'per-cgroup swap limit';
  const version = placed.root?.version;
  const recommended = version === 1 ? 'memory.memsw.limit_in_bytes present' : 'memory.swap.max present (agents get 0)';
  const where = swapControlFile(placed);
  const present = where ? exists(where.dir, where.file) : undefined;
  if (present) return check({ id, title, status: 'ok', found: `${where!.file} present (in ${where!.dir})`, recommended });
  const found = present === undefined ? 'unknown: no cgroup with the memory controller to look in yet' : `${where!.file} missing (in ${where!.dir})`;
  if (!swapOn) {
    return check({ id, title, status: 'ok', found: `${found}; swap is off, so there is nothing to limit`, recommended });
  }
  return check({
    id,
    title,
    status: present === undefined ? 'warn' : 'fail',
    found: `${found}, and swap is on`,
    recommended,
    fix: 'swapoff -a',
    detail:
      'without swap accounting swapMax 0 cannot be applied: agents can be swapped out, a cascading slowdown of the whole host; ' +
      'turn swap off, or boot with swapaccount=1 on kernels that still read it',
  });
}

export function psiCheck(procRoot: string): PreflightCheck {
  // With psi=0 the file exists but reading it fails (EOPNOTSUPP): only a read proves it works.
  const present = readText(join(procRoot, 'pressure', 'memory')) !== undefined;
  return check({
    id: 'psi',
    title: 'pressure stall information',
    status: present ? 'ok' : 'warn',
    found: present ? `${join(procRoot, 'pressure', 'memory')} present` : `${join(procRoot, 'pressure', 'memory')} missing`,
    recommended: 'present',
    fix: `sed -i 's/^GRUB_CMDLINE_LINUX="/&psi=1 /' ${GRUB} && update-grub && reboot`,
    detail: 'memory pressure shows reclaim stalls before memory runs out: the monitor uses it to stop spawning early',
  });
}

function listIn(dir: string, file: string): string[] | undefined {
  const text = readOptional(dir, file);
  return text === undefined ? undefined : parseList(text);
}
