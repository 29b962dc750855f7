/**
 * What applySetup changed lives in kernel memory and is gone after a reboot. It never edits /etc
 * itself (package managers, config management and people own those files): it says what to add.
 */
import { join } from 'node:path';
import type { SwapArea } from '../cgroup/parse.js';
import type { ResolvedSetupOptions } from './options.js';
import { readText } from './read.js';
import type { SysctlState } from './sysctl.js';

/** Text to put into a file under /etc by hand (or by configuration management). */
export interface PersistHint {
  /** The file (or place) it belongs in, e.g. `/etc/sysctl.d/90-nova-agents.conf`. */
  file: string;
  /** What to do with {@link text}. */
  description: string;
  text: string;
}

export const SYSCTL_CONF = '/etc/sysctl.d/90-nova-agents.conf';

/** Non-comment fstab lines split into fields. fstab is configuration, not kernel text. */
function fstabEntries(fstab: string): { line: string; fields: string[] }[] {
  return (readText(fstab) ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
    .map((line) => ({ line, fields: line.trim().split(/\s+/) }));
}

export function persistHints(
  options: ResolvedSetupOptions & { fstab: string },
  state: { swap: SwapArea[] | undefined; sysctls: SysctlState[]; thpChanged: boolean },
): PersistHint[] {
  const hints: PersistHint[] = [];
  const entries = fstabEntries(options.fstab);

  const swapLines = entries.filter((e) => e.fields[2] === 'swap').map((e) => e.line);
  if (swapLines.length > 0) {
    hints.push({
      file: options.fstab,
      description: 'comment out these swap lines (swap stays off after a reboot)',
      text: `${swapLines.map((line) => `# ${line}`).join('\n')}\n`,
    });
  } else if ((state.swap?.length ?? 0) > 0) {
    hints.push({
      file: 'systemd',
      description: 'swap is not in fstab: a systemd swap unit or zram-generator turns it on; mask it',
      text: 'systemctl list-units --type swap --all   # then: systemctl mask --now <unit>\n',
    });
  }

  // A value above the recommended one is left out: it is a default (or someone's tuning) that a
  // fixed number in sysctl.d would lower after the next boot.
  const sysctls = state.sysctls.filter(
    (s) => s.spec.persist !== false && s.found !== undefined && (s.status !== 'ok' || s.found === s.recommended),
  );
  if (sysctls.length > 0) {
    hints.push({
      file: SYSCTL_CONF,
      description: 'create it; `sysctl --system` loads it now, every boot loads it',
      text: ['# nova-agent-host: kernel parameters for ~300 concurrent agents', ...sysctls.map((s) => `${s.spec.key} = ${s.recommended}`)].join('\n') + '\n',
    });
  }

  if (!entries.some((e) => e.fields[1] === options.scratchDir)) {
    hints.push({
      file: options.fstab,
      description: 'add the scratch tmpfs',
      text: `tmpfs ${options.scratchDir} tmpfs size=${options.scratchSize},mode=1777,nosuid,nodev 0 0\n`,
    });
  }

  if (state.thpChanged) {
    hints.push({
      file: join('/etc', 'default', 'grub'),
      description: 'add to GRUB_CMDLINE_LINUX, then run update-grub',
      text: 'transparent_hugepage=madvise\n',
    });
  }
  return hints;
}
