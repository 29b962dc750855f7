/**
 * A fleet on one queue: three orchestrator processes as nodes, each with its own AgentHost on its
 * own memory-limited root below this file's test parent, on a real redis-server. Every job
 * completes exactly once; a node whose admission is paused takes nothing while the others go
 * on; a node's orchestrator SIGKILLed mid-run → its jobs finish on the others, its restart kills
 * its orphans, nothing is lost and nothing is left in any cgroup.
 *
 * The full run (60 jobs) is the native one; `FLEET_SHORT=1` runs a short one (the v2 VM, where node
 * starts several times slower): fewer, shorter jobs, the same steps.
 *
 * A second test kills a node whose worker runs the orphan guard: its agents die with it, before
 * their jobs' locks expire, so no job ever runs twice at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueAgent, type AgentJobData, type AgentJobResult } from '../../../src/bullmq/index.js';
import { Cgroup } from '../../../src/index.js';
import { leftovers, testParent } from '../../helpers/cgroups.js';
import { defer, runDeferred, tempDir } from '../../helpers/cleanup.js';
import { hasCommand, skipIf } from '../../helpers/kernel.js';
import { useRedis } from '../../helpers/use-redis.js';
import { waitFor } from '../../helpers/wait.js';
import type { NodeConfig } from './fixtures/node.js';

const SHORT = process.env.FLEET_SHORT === '1';
const JOBS = SHORT ? 15 : 60;
const SLOTS = SHORT ? 2 : 4;
/** Long enough that the crashed node's agents are still alive when it restarts (the VM starts node slowly). */
const LONG_SECONDS = SHORT ? 40 : 12;
const LOCK_MS = SHORT ? 10_000 : 5000;
const NODE_SCRIPT = fileURLToPath(new URL('./fixtures/node.ts', import.meta.url));

const parent = testParent('fleet');
const redis = useRedis();
afterEach(runDeferred);

interface Node {
  name: string;
  child: ChildProcess;
  lines: Array<{ kind: string; data: Record<string, unknown> }>;
  send(command: string): void;
}

async function launch(config: NodeConfig): Promise<Node> {
  const child = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
  defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const node: Node = { name: config.node, child, lines: [], send: (command) => void child.stdin!.write(`${command}\n`) };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const space = line.indexOf(' ');
    if (space > 0) node.lines.push({ kind: line.slice(0, space), data: JSON.parse(line.slice(space + 1)) as Record<string, unknown> });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (node.lines.some((l) => l.kind === 'READY')) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    child.once('exit', (code, signal) => {
      clearInterval(timer);
      reject(new Error(`node ${config.node} ended (${code ?? signal}) before READY: ${stderr}`));
    });
  });
  return node;
}

const of = (node: Node, kind: string): Array<Record<string, unknown>> => node.lines.filter((l) => l.kind === kind).map((l) => l.data);
const started = (node: Node): string[] => of(node, 'START').map((d) => d.id as string);
const completed = (node: Node): string[] => of(node, 'OUTCOME').filter((d) => d.outcome === 'completed').map((d) => d.id as string);

/** A job's command: marks its start and end in `marks/<id>`, in between sleeps or holds memory. */
function job(i: number, marks: string): AgentJobData {
  const id = `job-${String(i).padStart(2, '0')}`;
  const long = i < 2 * SLOTS;
  const kind = long ? 'long' : i % 3 === 0 ? 'memory' : 'sleep';
  const work =
    kind === 'long'
      ? `sleep ${LONG_SECONDS}`
      : kind === 'memory'
        ? `stress-ng --vm 1 --vm-bytes ${16 + (i % 4) * 8}M --vm-keep --timeout ${SHORT ? 1 : 1 + (i % 2)}s --quiet`
        : `sleep 0.${2 + (i % 8)}`;
  return {
    id,
    command: 'sh',
    args: ['-c', `umask 000; echo start >> "$MARKS/$NOVA_AGENT_ID"; ${work}; rc=$?; echo end >> "$MARKS/$NOVA_AGENT_ID"; exit $rc`],
    cwd: marks,
    env: { MARKS: marks },
    limits: { memoryMax: '128M', memoryHigh: '128M', pidsMax: 32 },
  };
}

/** A fleet's shared parts: a temp dir with a marks dir, a queue, one memory-limited root per node, and each node's config. */
function setupFleet(label: string, names: string[], memoryMax: string) {
  const dir = tempDir(label);
  const marks = join(dir, 'marks');
  mkdirSync(marks);
  // Each agent runs as a user of its own, and a retried job's next attempt (another user) appends to the same
  // marks file: a plain world-writable dir (no sticky bit, so fs.protected_regular allows it) and files made with umask 0.
  chmodSync(marks, 0o777);
  const queueName = `${label}-${process.pid}`;
  const queue = new Queue<AgentJobData, AgentJobResult>(queueName, { connection: redis().connection });
  defer(() => queue.close());
  const roots = Object.fromEntries(names.map((n) => [n, Cgroup.create(parent, `${label}-${n}`, { limits: { memoryMax, swapMax: 0 } })]));
  defer(async () => {
    for (const root of Object.values(roots)) await root.delete();
  });
  const config = (n: string, extra: Partial<NodeConfig>): NodeConfig => ({
    node: n,
    queue: queueName,
    connection: redis().connection,
    root: roots[n]!.location,
    stateDir: join(dir, `state-${n}`),
    concurrency: SLOTS,
    lockDuration: LOCK_MS,
    stalledInterval: 1000,
    ...extra,
  });
  /** Nothing left in any node's root but the root itself. */
  const expectEmpty = (): void => {
    for (const root of Object.values(roots)) expect(leftovers(root), `leftovers of ${root.path}`).toEqual({ cgroups: [...root.dirs], pids: [] });
  };
  return { marks, queue, roots, config, expectEmpty };
}

describe('a fleet of three nodes on one queue', () => {
  it(`runs ${JOBS} jobs exactly once through a paused node and a crashed one, leaving nothing behind`, { timeout: SHORT ? 900_000 : 240_000 }, async () => {
    expect(hasCommand('stress-ng'), 'stress-ng is installed').toBe(true);
    const { marks, queue, roots, config: nodeConfig, expectEmpty } = setupFleet('fleet', ['a', 'b', 'c'], '1G');
    // a runs without the orphan guard: its orphans must outlive it, for its restart to kill them.
    const config = (n: string, paused = false): NodeConfig => nodeConfig(n, { paused, orphanGuard: n !== 'a' });

    const [a, b, c] = await Promise.all([launch(config('a')), launch(config('b')), launch(config('c', true))]);
    for (let i = 0; i < JOBS; i++) await enqueueAgent(queue, job(i, marks), { attempts: 2 });

    // a and b fill their slots with the long jobs (enqueued first); c, paused, takes nothing.
    await waitFor(() => started(a!).length >= SLOTS && started(b!).length >= SLOTS, { timeout: 60_000, message: 'a and b running their first jobs' });
    // Fetched is not yet running: crash a once each of its agents is past its first line.
    const crashed = started(a!);
    await waitFor(() => crashed.every((id) => existsSync(join(marks, id))), { timeout: 60_000, message: "a's agents running" });
    a!.child.kill('SIGKILL');
    await new Promise((resolve) => a!.child.once('exit', resolve));

    // Restarted (admission still paused, so it does not take its old jobs back): its host adopts
    // the agents the dead orchestrator left, and the worker kills them — their jobs are others' now.
    const a2 = await launch(config('a', true));
    const orphans = of(a2, 'READY')[0]!.orphans as string[];
    expect(orphans.sort()).toEqual([...crashed].sort());
    await waitFor(() => readdirSync(roots.a!.path).filter((e) => e.startsWith('job-')).length === 0, { message: "a's orphan cgroups removed" });
    for (const id of crashed) expect(readFileSync(join(marks, id), 'utf8')).toBe('start\n'); // killed, never ended

    // The paused node took nothing while b went on.
    await waitFor(() => completed(b!).length >= SLOTS + 2, { timeout: 120_000, message: 'b completing jobs' });
    expect(started(c!)).toEqual([]);
    c!.send('resume');
    await waitFor(() => started(c!).length > 0, { timeout: 60_000, message: 'c taking jobs once resumed' });

    // The crashed node's jobs run on the others (after their locks expire), then a2 takes jobs too.
    await waitFor(() => crashed.every((id) => started(b!).includes(id) || started(c!).includes(id)), { timeout: 120_000, message: "a's jobs taken by b or c" });
    a2.send('resume');
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === JOBS, { timeout: SHORT ? 600_000 : 180_000, interval: 250, message: `${JOBS} jobs completed` });

    // Exactly once: one completion per job, one end mark per job (the killed orphans never ended).
    const all = [a!, a2, b!, c!].flatMap(completed);
    expect(all.length).toBe(JOBS);
    expect(new Set(all).size).toBe(JOBS);
    for (let i = 0; i < JOBS; i++) {
      const id = job(i, marks).id;
      const lines = readFileSync(join(marks, id), 'utf8').trim().split('\n');
      expect(lines.filter((l) => l === 'end'), `end marks of ${id}`).toEqual(['end']);
      const result = (await queue.getJob(id))!.returnvalue;
      if (crashed.includes(id)) expect(['b', 'c']).toContain(result.node);
    }
    expect(await queue.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    expect(completed(a2).length + completed(b!).length + completed(c!).length).toBe(JOBS - completed(a!).length);

    // Each node closes its worker and disposes its host: nothing left in any root.
    for (const node of [a2, b!, c!]) {
      node.send('close');
      await waitFor(() => of(node, 'DONE').length > 0, { timeout: 60_000, message: `${node.name} closed` });
    }
    expectEmpty();
  });
});

describe('the orphan guard', () => {
  it("kills a SIGKILLed node's agents before their locks expire; the jobs complete on another node", { timeout: SHORT ? 600_000 : 120_000 }, async (ctx) => {
    // A race against the lock duration that only wall-clock speed decides: under emulation, agents' start-up
    // alone can take longer than the window. Nothing in it is v2-specific but cgroup.kill, which the VM's
    // other suites show; the guard itself is proven natively.
    skipIf(ctx, SHORT && 'timing-bound (the guard must beat the lock duration): run natively, not under emulation');
    const { marks, queue, roots, config: nodeConfig, expectEmpty } = setupFleet('guard', ['x', 'y'], '512M');
    const config = (n: string, paused: boolean): NodeConfig => nodeConfig(n, { paused, concurrency: 2 });
    const [x, y] = await Promise.all([launch(config('x', false)), launch(config('y', true))]);
    expect(of(x, 'READY')[0]!.guard).toEqual(expect.any(Number));
    const sleep = 6;
    for (let i = 0; i < 2; i++) {
      await enqueueAgent(
        queue,
        { id: `guarded-${i}`, command: 'sh', args: ['-c', `umask 000; echo start >> "$MARKS/$NOVA_AGENT_ID"; sleep ${sleep}; echo end >> "$MARKS/$NOVA_AGENT_ID"`], env: { MARKS: marks } },
        { attempts: 1 },
      );
    }
    await waitFor(() => started(x).length === 2, { timeout: 60_000, message: 'x running both jobs' });
    // Both agents past their first line: the copies the guard must stop were really running.
    await waitFor(() => readdirSync(marks).length === 2, { timeout: 30_000, message: "x's agents running" });
    const crash = Date.now();
    x.child.kill('SIGKILL');
    // The guard kills and removes the agents' cgroups; the locks still hold for LOCK_MS.
    await waitFor(() => readdirSync(roots.x!.path).filter((e) => e.startsWith('guarded-')).length === 0, { timeout: LOCK_MS, message: "x's agents killed by its guard" });
    expect(Date.now() - crash).toBeLessThan(LOCK_MS);
    expect(await queue.getJobCounts('active')).toEqual({ active: 2 });
    y.send('resume');
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === 2, { timeout: SHORT ? 300_000 : 60_000, interval: 250, message: 'both jobs completed on y' });
    for (let i = 0; i < 2; i++) {
      expect((await queue.getJob(`guarded-${i}`))!.returnvalue.node).toBe('y');
      // The first copy started and was killed; the second ran to its end: never two at once.
      expect(readFileSync(join(marks, `guarded-${i}`), 'utf8')).toBe('start\nstart\nend\n');
    }
    y.send('close');
    await waitFor(() => of(y, 'DONE').length > 0, { timeout: 60_000, message: 'y closed' });
    expectEmpty();
  });
});
