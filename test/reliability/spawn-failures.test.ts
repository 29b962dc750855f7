/**
 * Scenario 10: spawns that fail — ENOENT and EACCES before anything starts, an exec that fails
 * after the join (missing interpreter, unknown format), and EMFILE at every step of a spawn (a
 * child orchestrator under a low `ulimit -n`). Whatever fails, the agent's cgroup and workspace
 * are released and the error is typed.
 */
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/index.js';
import { hasCommand, skipIf } from '../helpers/kernel.js';
import type { EmfileConfig, EmfileDone, EmfileRound } from './fixtures/emfile.js';
import { agentsRoot, cgroupTree, failure, IN_VM, runFixture, scratch, startHost } from './helpers.js';

describe('10. spawn failures release the cgroup and the workspace', () => {
  it('ENOENT, EACCES (typed, before anything starts); a failed exec (typed, or the agent ends 126/127)', async () => {
    const wsRoot = join(scratch('ws'), 'pool');
    const { host, root, dir } = await startHost({ workspaces: { root: wsRoot, slots: 2 } }, 'spawnfail');
    const script = (name: string, text: string, mode = 0o755): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    };
    const before = cgroupTree(root);
    const rows: Array<[string, string, string]> = [
      ['ENOENT', '/nonexistent/agent', ErrorCode.SPAWN_NOT_FOUND],
      ['EACCES (mode 0644)', script('not-executable.sh', '#!/bin/sh\nexit 0\n', 0o644), ErrorCode.SPAWN_PERMISSION],
      ['EACCES (a directory)', dir, ErrorCode.SPAWN_NOT_FOUND],
    ];
    for (const [what, command, code] of rows) {
      expect((await failure(() => host.spawn('failing', { command, workspace: true }))).code, what).toBe(code);
      expect(cgroupTree(root), what).toEqual(before);
      expect(host.workspaces!.leases().size, what).toBe(0);
    }
    // The file exists and is executable, but exec(2) fails. Forked from inside the cgroup, the
    // failure is the spawn's typed error, or, for an unknown format, execvp's rule: run it with
    // sh, which fails (127); through the shim (after its join) the shell's status (126/127).
    const afterJoin: Array<[string, string, number[], string]> = [
      ['a missing interpreter', script('bad-interpreter.sh', '#!/nonexistent/interpreter\n'), [127], ErrorCode.SPAWN_NOT_FOUND],
      ['an unknown format', script('garbage.bin', '\u0000\u0001\u0002garbage\u0000'), [126, 127], ErrorCode.SPAWN_FAILED],
    ];
    for (const [what, command, exitCodes, code] of afterJoin) {
      const outcome = await host.spawn('failing', { command, workspace: true }).then(
        async (agent) => (await agent.result).exitCode,
        (error: unknown) => (error as { code?: string }).code,
      );
      expect([...exitCodes, code], `${what}: ${String(outcome)}`).toContain(outcome);
      expect(cgroupTree(root), what).toEqual(before);
      expect(host.workspaces!.leases().size, what).toBe(0);
      expect(readdirSync(join(wsRoot, 'ws-001')), what).toEqual([]);
    }
  });

  it('EMFILE at every step of a spawn (a child orchestrator under ulimit -n 96): typed errors; every cgroup and lease released', { timeout: 120_000 }, async (ctx) => {
    skipIf(ctx, !hasCommand('prlimit') && 'prlimit(1) is missing');
    const root = agentsRoot('emfile');
    const dir = scratch('emfile');
    const config: EmfileConfig = { cgroupRoot: root.location, stateDir: join(dir, 'state'), workspaces: { root: join(dir, 'ws'), slots: 32 }, rounds: IN_VM ? 12 : 24 };
    const run = runFixture('emfile.ts', config, ['prlimit', '--nofile=96:96']);
    const done = await run.line<EmfileDone>('DONE', 110_000);
    const rounds = run.lines.filter((l) => l.startsWith('ROUND ')).map((l) => JSON.parse(l.slice(6)) as EmfileRound);
    const table = rounds.map((r) => `free ${r.free}: ${r.outcome}`).join('\n');

    // With no descriptor free nothing starts; with enough, everything does.
    expect(rounds[0]!.outcome, table).not.toBe('spawned');
    expect(rounds.at(-1)!.outcome, table).toBe('spawned');
    for (const round of rounds) {
      expect(round.typed, `free ${round.free}: ${round.outcome}`).toBe(true);
      const spawnedSoFar = rounds.filter((r) => r.free <= round.free && r.outcome === 'spawned').length;
      if (round.outcome !== 'spawned') {
        // Released at once, even while the table is still full.
        expect(round.cgroups, `free ${round.free}`).not.toContain(`agent-${round.free}`);
        expect(round.leases, `free ${round.free}`).toBeLessThanOrEqual(spawnedSoFar);
      }
    }
    // The agents that did start ran normally; nothing is left after dispose.
    for (const result of done.results) expect(result).toMatch(/:exit:0$/);
    expect(done.cgroups).toEqual([]);
    expect(done.leases).toBe(0);
    expect(done.records).toEqual([]);
    expect(root.children()).toEqual([]);
    console.log(`EMFILE sweep:\n${table}\nerror events: ${done.errors.join(', ') || 'none'}`);
  });
});
