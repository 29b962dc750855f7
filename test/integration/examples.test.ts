/**
 * Smoke test of examples/: each example runs with the one command its header documents
 * (`node --import tsx examples/X.ts …`, from the project root, with short arguments), exits 0 and
 * prints its key line; afterwards nothing it created is left below this process's cgroup.
 *
 * The examples import the package by name. tsx maps `nova-agent-host` and `nova-agent-host/agent`
 * through tsconfig.json `paths` to src/, so no build is needed; `beforeAll` checks where the name
 * resolves and, should it ever be dist/ (a changed tsconfig), builds once when dist/ is missing.
 *
 * Not in the cgroup v2 VM: its checkout is read-only and node runs under software emulation there
 * (a dozen tsx start-ups would take minutes); the AgentHost paths the examples use are covered by
 * the host suites on both versions, and the examples are exercised natively.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cgroup } from '../../src/index.js';
import { startRedis } from '../helpers/redis.js';

const ROOT = resolve(import.meta.dirname, '../..');
const IN_VM = hostname() === 'cgroup2-vm';
/** Cgroups the examples make below their own cgroup: the hosts' default root and create-agent-cgroup's. */
const EXAMPLE_CGROUPS = /^(nova-agents(-[0-9a-f]{8})?|agent-example-\d+)$/;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Sent once stderr matches `when` (for the harness that runs until signalled). */
  signal?: { name: NodeJS.Signals; when: RegExp };
  timeoutMs?: number;
  /** Over this process's environment. */
  env?: Record<string, string>;
}

function runExample(file: string, args: string[] = [], options: RunOptions = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('examples', file), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
      if (options.signal && !signalled && options.signal.when.test(stderr)) {
        signalled = true;
        child.kill(options.signal.name);
      }
    });
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

/** Example cgroups present below this process's cgroup, in every hierarchy it spans. */
function exampleCgroups(): string[] {
  const found: string[] = [];
  for (const dir of Cgroup.self().dirs) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && EXAMPLE_CGROUPS.test(entry.name)) found.push(join(dir, entry.name));
    }
  }
  return found.sort();
}

/** Why the examples cannot run here, or undefined when they can (building dist/ first if the name resolves there). */
function unavailable(): string | undefined {
  if (IN_VM) return 'examples run natively only (read-only checkout, emulated node in the cgroup2 VM)';
  const probe = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "console.log(import.meta.resolve('nova-agent-host'))"], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (probe.status !== 0) return `tsx cannot resolve nova-agent-host: ${probe.stderr.trim()}`;
  const target = fileURLToPath(probe.stdout.trim());
  if (existsSync(target)) return undefined;
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(target)) return `${target} is missing and could not be built: ${build.stderr.trim()}`;
  return undefined;
}

describe('examples/', () => {
  let skipReason: string | undefined;
  let before: string[] = [];
  let scratch: string;

  beforeAll(() => {
    skipReason = unavailable();
    if (skipReason) process.stderr.write(`[skipped] examples: ${skipReason}\n`);
    else before = exampleCgroups();
    scratch = mkdtempSync(join(tmpdir(), 'nova-examples-'));
  }, 120_000);

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    // agent-with-timeouts.ts keeps its agents' saved state in tmpdir; it is the demo's output, not ours to keep.
    for (const id of ['quick', 'slow']) rmSync(join(tmpdir(), `${id}.state.json`), { force: true });
  });

  const cases: Array<{ file: string; args?: string[]; expect: RegExp[]; options?: RunOptions }> = [
    { file: 'quickstart.ts', expect: [/quickstart: OK/, /hog ended: reason=oom/] },
    { file: 'create-agent-cgroup.ts', expect: [/memory\.max 4\.0G/, /removed: true/] },
    { file: 'spawn-agent.ts', args: ['smoke-001'], expect: [/hello from smoke-001/, /smoke-001: exit, exit code 0/] },
    { file: 'kill-agent.ts', args: ['--force'], expect: [/agent-123: killed, exit code null, signal SIGKILL/] },
    { file: 'run-in-cgroup.ts', expect: [/running in .*nova-agents\/agent-001/, /agent's processes now: \d+/] },
    { file: 'agent-status.ts', expect: [/agent-003/, /as JSON: \{"queued":\d+/] },
    { file: 'check-agent-memory.ts', expect: [/agent-003 .*4\.0G/, /^TOTAL /m] },
    { file: 'watch-memory.ts', args: ['--seconds', '2'], expect: [/host \S+\/\S+ \([\d.]+%, \w+\) agents \d+/] },
    { file: 'emergency-memory-relief.ts', args: ['--dry-run'], expect: [/relieving down to [\d.]+% \(dry run\)/, /outcome: [\w-]+/] },
    { file: 'setup-agent-host.ts', expect: [/capacity of this host/, /dry run: run again with --apply/] },
    { file: 'agent-with-timeouts.ts', expect: [/quick: reason=exit exitCode=0/, /slow: reason=timeout exitCode=0/] },
    { file: 'agent-harness.ts', expect: [/^cgroup: /m, /done: 120 steps/] },
    {
      file: 'agent-timeouts-harness.ts',
      args: ['--step-ms', '20'],
      expect: [/SIGUSR1: soft timeout, wrapping up/, /wrapped up after the soft timeout/],
      options: { signal: { name: 'SIGUSR1', when: /working \(pid/ } },
    },
  ];

  /** Run together against one Redis, in the last test. */
  const fleet = ['fleet-worker.ts', 'fleet-producer.ts'];

  it('covers every file in examples/', () => {
    const files = readdirSync(join(ROOT, 'examples')).filter((name) => name.endsWith('.ts'));
    expect([...cases.map((c) => c.file), ...fleet].sort()).toEqual(files.sort());
  });

  for (const example of cases) {
    const command = ['examples/' + example.file, ...(example.args ?? [])].join(' ');
    it(command, async (ctx) => {
      if (skipReason) ctx.skip(true, skipReason);
      const args = example.file === 'agent-timeouts-harness.ts' ? [...example.args!, '--state', join(scratch, 'harness.json')] : example.args;
      const run = await runExample(example.file, args, example.options);
      const output = `${run.stdout}\n${run.stderr}`;
      expect({ code: run.code, signal: run.signal }, `${command}\n${output}`).toEqual({ code: 0, signal: null });
      for (const line of example.expect) expect(output, command).toMatch(line);
      expect(exampleCgroups(), `cgroups left by ${command}`).toEqual(before);
    });
  }

  it('examples/fleet-worker.ts --max-jobs 3 with examples/fleet-producer.ts 3, on a local redis-server', async (ctx) => {
    if (skipReason) ctx.skip(true, skipReason);
    const redis = await startRedis();
    try {
      const env = { REDIS_URL: `redis://127.0.0.1:${redis.port}` };
      const worker = runExample('fleet-worker.ts', ['--max-jobs', '3'], { env, timeoutMs: 60_000 });
      const producer = await runExample('fleet-producer.ts', ['3'], { env, timeoutMs: 60_000 });
      const node = await worker;
      expect({ code: producer.code, signal: producer.signal }, producer.stderr).toEqual({ code: 0, signal: null });
      expect({ code: node.code, signal: node.signal }, node.stderr).toEqual({ code: 0, signal: null });
      expect(producer.stderr).toMatch(/added 3 job\(s\) to agents/);
      expect(producer.stderr.match(/: exit exit 0 on /g)).toHaveLength(3);
      expect(node.stderr).toMatch(/fleet worker on 127\.0\.0\.1:\d+, 8 slots/);
      expect(node.stderr).toMatch(/stopped after 3 completed job\(s\)/);
      expect(exampleCgroups(), 'cgroups left by the fleet examples').toEqual(before);
    } finally {
      await redis.stop();
    }
  });
});
