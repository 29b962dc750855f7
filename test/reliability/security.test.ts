/**
 * Scenario 12: no shell ever sees a user string (arguments arrays only: metacharacters arrive
 * verbatim), owner-only modes on workspaces and state, no orchestrator secret (environment or
 * open file) reaches an agent unless asked for.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_CGROUP_ENV, AGENT_ID_ENV, ErrorCode } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { failure, scratch, startHost } from './helpers.js';

/** Strings a shell would act on. Each names a file that must never appear. */
function hostileStrings(dir: string): { strings: string[]; traps: string[] } {
  const trap = (name: string): string => join(dir, `pwned-${name}`);
  const traps = ['semi', 'subst', 'tick', 'and', 'pipe', 'newline', 'brace'].map(trap);
  const strings = [
    `; touch ${trap('semi')}`,
    `$(touch ${trap('subst')})`,
    `\`touch ${trap('tick')}\``,
    `&& touch ${trap('and')}`,
    `| touch ${trap('pipe')}`,
    `\ntouch ${trap('newline')}`,
    `\${IFS}touch\${IFS}${trap('brace')}`,
    '*',
    "'",
    '"',
    '\\',
    '',
    ' spaced  out ',
    '--',
    '-c',
    '$HOME',
    '>',
    '日本語 ✓',
  ];
  return { strings, traps };
}

/** This process's descriptors without FD_CLOEXEC (fd → target): what any child inherits whatever the library does. */
function inheritedWithoutCloexec(): Map<number, string> {
  const result = new Map<number, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const flags = parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
      if ((flags & 0o2000000) === 0) result.set(Number(fd), readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // Closed meanwhile (the fd readdir itself used).
    }
  }
  return result;
}

describe('12. no shell, owner-only files, no leaked secrets', () => {
  it('arguments, environment values and the working directory reach the agent verbatim; nothing is evaluated', async () => {
    const { host, dir } = await startHost({}, 'noshell');
    const { strings, traps } = hostileStrings(dir);
    const out = join(dir, 'args.bin');
    const cwd = join(dir, `we ird'"$(touch pwned-cwd)`);
    mkdirSync(cwd);
    const agent = await host.spawn('verbatim', {
      command: 'sh',
      // The agent itself prints what it got: its arguments, one env value, its cwd, NUL-separated.
      args: ['-c', 'printf "%s\\0" "$@" "$HOSTILE" "$(pwd)" > "$OUT"', 'sh', ...strings],
      env: { HOSTILE: strings.join(' '), OUT: out },
      cwd,
    });
    expect((await agent.result).exitCode).toBe(0);
    const got = readFileSync(out, 'utf8').split('\0').slice(0, -1);
    expect(got).toEqual([...strings, strings.join(' '), cwd]);
    expect(agent.args).toEqual(['-c', expect.any(String), 'sh', ...strings]);

    // The same through run() inside a live agent.
    const holder = await host.spawn('holder', { command: 'sleep', args: ['30'] });
    const runOut = join(dir, 'run.bin');
    const sub = host.run('holder', 'sh', ['-c', 'printf "%s\\0" "$@" > "$OUT"', 'sh', ...strings], { env: { OUT: runOut } });
    expect((await sub).exitCode).toBe(0);
    expect(readFileSync(runOut, 'utf8').split('\0').slice(0, -1)).toEqual(strings);
    await holder.kill({ force: true });

    // A command is a file name, never a command line.
    for (const command of [`true; touch ${traps[0]}`, `sh -c 'touch ${traps[1]}'`, `$(touch ${traps[2]})`]) {
      expect((await failure(() => host.spawn('cmd', { command }))).code, command).toBe(ErrorCode.SPAWN_NOT_FOUND);
    }
    for (const trap of [...traps, join(dir, 'pwned-cwd'), join(cwd, 'pwned-cwd'), join(process.cwd(), 'pwned-cwd')]) {
      expect(existsSync(trap), trap).toBe(false);
    }
  });

  it('workspaces, leases and state are owner-only (0700 / 0600), even slots that existed with wider modes', async () => {
    // The pool makes its root 0711: agents of their own users reach their slot, but list nothing.
    const wsRoot = join(scratch('ws'), 'pool');
    mkdirSync(join(wsRoot, 'ws-002'), { recursive: true, mode: 0o700 });
    chmodSync(join(wsRoot, 'ws-002'), 0o777);
    const { host, stateDir, dir } = await startHost({ workspaces: { root: wsRoot, slots: 3 } }, 'modes');
    const stop = join(dir, 'stop');
    const agents = await Promise.all(
      ['a', 'b'].map((id) => host.spawn(id, { command: 'sh', args: ['-c', `while [ ! -e '${stop}' ]; do sleep 0.1; done`], workspace: true })),
    );
    const mode = (path: string): number => statSync(path).mode & 0o7777;
    expect(mode(wsRoot)).toBe(0o711);
    expect(mode(join(wsRoot, '.leases'))).toBe(0o700);
    for (const slot of ['ws-001', 'ws-002', 'ws-003']) expect(mode(join(wsRoot, slot)), slot).toBe(0o700);
    const locks = readdirSync(join(wsRoot, '.leases'));
    expect(locks.sort()).toEqual(['ws-001.lock', 'ws-002.lock']);
    for (const lock of locks) expect(mode(join(wsRoot, '.leases', lock)), lock).toBe(0o600);
    expect(mode(stateDir)).toBe(0o700);
    const records = readdirSync(stateDir);
    expect(records.sort()).toEqual(['a.json', 'b.json', 'host.pid']);
    for (const record of records) expect(mode(join(stateDir, record)), record).toBe(0o600);
    for (const agent of agents) expect(mode(agent.workspace!)).toBe(0o700);
    // Each slot belongs to its agent's own user while leased (root when the orchestrator is not root).
    const owners = agents.map((agent) => statSync(agent.workspace!).uid);
    if (process.getuid?.() === 0) expect(new Set(owners).size).toBe(2);
    if (process.getuid?.() === 0) expect(owners.every((uid) => uid >= 200_000)).toBe(true);
    await Promise.all(agents.map((a) => a.kill({ force: true })));
  });

  it("the orchestrator's secrets stay out of agents unless asked for: environment (extendEnv) and open files", async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    process.env.NOVA_RELIABILITY_SECRET = secret;
    try {
      const { host } = await startHost({}, 'secret');
      // /proc/<pid>/environ is the environment the running image was exec'd with: read it once the
      // process is `sleep` itself (before that it may still be the forked orchestrator or the shim).
      const environ = async (pid: number): Promise<Record<string, string>> => {
        await waitFor(() => readlinkSync(`/proc/${pid}/exe`).endsWith('/sleep'), { message: `pid ${pid} exec'd sleep` });
        return parsedEnviron(pid);
      };
      const parsedEnviron = (pid: number): Record<string, string> =>
        Object.fromEntries(
          readFileSync(`/proc/${pid}/environ`, 'utf8')
            .split('\0')
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        );
      const plain = await host.spawn('plain', { command: 'sleep', args: ['30'], env: { GIVEN: 'yes' } });
      const env = await environ(plain.pid!);
      expect(env.NOVA_RELIABILITY_SECRET).toBeUndefined();
      expect(Object.values(env).join('\n')).not.toContain(secret);
      // Only the documented few are inherited, plus the explicit env, the agent's own two, and the
      // PWD that the join shim (sh) may export.
      const inherited = ['PATH', 'HOME', 'LANG', 'TZ'].filter((k) => process.env[k] !== undefined);
      expect(Object.keys(env).filter((k) => k !== 'PWD').sort()).toEqual([...inherited, 'GIVEN', AGENT_ID_ENV, AGENT_CGROUP_ENV].sort());
      // No descriptor the orchestrator opened (cgroup files the monitor keeps open, inotify, pipes,
      // state files) is inherited: stdio is /dev/null, and any other fd is one this process itself
      // inherited without close-on-exec (from whatever started it), which no library can close.
      // Right after exec, `sleep` opens and closes locale files of its own: an inherited descriptor stays
      // for good, so the table is read until it holds only what may be there (or the wait times out on a leak).
      const foreign = inheritedWithoutCloexec();
      const descriptors = (pid: number): Map<number, string> => {
        const table = new Map<number, string>();
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          try {
            table.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
          } catch {
            // Closed between the listing and the read: one of the image's own, gone.
          }
        }
        return table;
      };
      const unexpected = (table: Map<number, string>): string[] =>
        [...table].filter(([fd, target]) => (fd <= 2 ? target !== '/dev/null' : foreign.get(fd) !== target)).map(([fd, target]) => `${fd} → ${target}`);
      const table = await waitFor(
        () => {
          const now = descriptors(plain.pid!);
          return unexpected(now).length === 0 ? now : undefined;
        },
        { timeout: 5000, message: `agent ${plain.pid} holds only stdio (/dev/null) and this process's own inherited descriptors` },
      ).catch(() => descriptors(plain.pid!));
      expect(unexpected(table)).toEqual([]);
      expect([...table.keys()].sort((a, b) => a - b).slice(0, 3)).toEqual([0, 1, 2]);

      const asked = await host.spawn('asked', { command: 'sleep', args: ['30'], extendEnv: true });
      expect((await environ(asked.pid!)).NOVA_RELIABILITY_SECRET).toBe(secret);
      const dropped = await host.spawn('dropped', { command: 'sleep', args: ['30'], extendEnv: true, env: { NOVA_RELIABILITY_SECRET: undefined } });
      expect((await environ(dropped.pid!)).NOVA_RELIABILITY_SECRET).toBeUndefined();

      // run() inside an agent follows the same rule.
      const sub = host.run('plain', 'sleep', ['30']);
      const pid = await waitFor(() => sub.pid);
      expect((await environ(pid)).NOVA_RELIABILITY_SECRET).toBeUndefined();
      await Promise.all([plain, asked, dropped].map((a) => a.kill({ force: true })));
      await sub;
    } finally {
      delete process.env.NOVA_RELIABILITY_SECRET;
    }
  });
});
