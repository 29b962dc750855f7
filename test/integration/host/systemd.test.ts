/**
 * The delegated-subtree path with systemd as PID 1 (run alone, in the VM's --systemd mode:
 * `npm run test:vm:systemd`): a non-root user's transient service with Delegate=yes, started through
 * that user's own manager, runs the host without `cgroupRoot`. The host must move itself into a
 * `supervisor` leaf, create its agents' root beside it, and keep agents isolated there — all
 * as the user, inside the subtree systemd delegated, nowhere else.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCommand, kernelStackBytes, skipIf } from '../../helpers/kernel.js';
import { cgroupsOf, isAlive } from '../../helpers/procs.js';
// Not the harness: it loads the whole library, and this file mostly skips (each file's imports are slow in the VM).
import { calmAndHog, finishOrchestrator, launchOrchestrator } from './fixtures/client.js';

const SMALL = { memoryMax: '64M', memoryHigh: '64M', swapMax: 0, pidsMax: 64 };
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

const USER = 'testuser';

function pid1(): string {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function uidOf(user: string): number | undefined {
  try {
    return Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return undefined;
  }
}

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

describe('systemd Delegate=yes', () => {
  it(`a host run by ${USER} in a delegated user service places agents below a supervisor leaf`, async (ctx) => {
    skipIf(ctx, pid1() !== 'systemd' && `PID 1 is ${pid1()}, not systemd: run it with \`npm run test:vm:systemd\``);
    const uid = uidOf(USER);
    skipIf(ctx, uid === undefined && `no user ${USER}`);
    skipIf(ctx, (!hasCommand('systemd-run') || !hasCommand('su')) && 'systemd-run or su is missing');

    // su opens a login session, so logind starts the user's manager; the service gets the
    // pipes of this process as its stdin/stdout (--pipe), so closing stdin tells it to finish.
    const wrap = (command: string[]): string[] => [
      'su',
      '-l',
      USER,
      '-c',
      ['systemd-run', '--user', '--wait', '--pipe', '--quiet', '-p', 'Delegate=yes', `--working-directory=${process.cwd()}`, ...command]
        .map(quote)
        .join(' '),
    ];
    const { child, report, lines } = await launchOrchestrator(
      {
        limits: SMALL,
        // The checkout is root's: the hog works in /tmp.
        agents: calmAndHog('/tmp'),
        awaitResults: ['hog'],
        untilStdinEnds: true,
      },
      wrap,
      (fn) => cleanups.push(fn),
    );

    // The service's own cgroup, in the user's manager, delegated.
    const base = dirname(report.supervisor!);
    expect(base).toMatch(new RegExp(`^/sys/fs/cgroup/user\\.slice/user-${uid}\\.slice/user@${uid}\\.service/.+\\.service$`));
    expect(report.root).toBe(`${base}/nova-agents`);
    const inTree = (path: string): string => path.slice('/sys/fs/cgroup'.length);
    expect(cgroupsOf(report.pid)?.unified).toBe(inTree(report.supervisor!));
    expect(readFileSync(`${base}/cgroup.procs`, 'utf8')).toBe('');
    expect(readFileSync(`${report.supervisor}/memory.min`, 'utf8').trim()).toBe(String(128 * 1024 ** 2));

    const calm = report.agents.calm!;
    expect(cgroupsOf(calm.pid!)?.unified).toBe(inTree(`${report.root}/calm`));
    expect(readFileSync(`${report.root}/calm/memory.max`, 'utf8').trim()).toBe(String(64 * 1024 ** 2));
    // Forked from inside its cgroup (the orchestrator steps out of its supervisor leaf for the fork):
    // the kernel charged the agent's stack to the agent, not to the orchestrator.
    expect(kernelStackBytes(`${report.root}/calm`)).toBeGreaterThan(0);
    // Made by the user, inside what systemd delegated to them.
    expect(statSync(report.root).uid).toBe(uid);
    expect(statSync(`${report.root}/calm`).uid).toBe(uid);
    expect(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${calm.pid}/status`, 'utf8'))?.[1]).toBe(String(uid));

    // The hog died alone.
    expect(report.results.hog).toMatchObject({ reason: 'oom' });
    expect(isAlive(calm.pid!)).toBe(true);
    expect(isAlive(report.pid)).toBe(true);

    const { code, done } = await finishOrchestrator(child, lines);
    expect(code).toBe(0);
    expect(done).toEqual({ rootExists: false, agentsLeft: [] });
    expect(isAlive(calm.pid!)).toBe(false);
  }, 300_000);
});
