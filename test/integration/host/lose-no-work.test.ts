/**
 * Lose no work under memory pressure, through a real AgentHost on the real kernel (v1 natively,
 * v2 in the VM): a growing agent is frozen and thawed with its timeouts' clock stopped meanwhile,
 * an eviction notice reaches the agent's `onEviction` before the kill (reason `evicted`),
 * admission holds an agent whose expected peak does not fit and starts it once memory frees, and
 * learned peaks survive a host restart. Host "used" memory is driven by `readMemory` from the
 * agents' real usage, never by filling RAM.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent, HostMemory, KillEvent, QueueEvent } from '../../../src/index.js';
import { EVICTION_AGENT, writeAgentModule } from '../../helpers/agent-module.js';
import { waitFor } from '../../helpers/wait.js';
import { childNames, startHost, untilFile } from './harness.js';

const M = 2 ** 20;
/** Room for node (~40 MB) and what the scripts allocate. */
const ROOMY = { memoryMax: '256M', memoryHigh: '256M', swapMax: 0, pidsMax: 64 };

/** A pretend host of `total` bytes: `base` used outside the agents, plus what `agents` use now. */
function pretend(total: number, base: () => number, agents: () => Agent[] = () => []): () => HostMemory {
  return () => {
    let used = base();
    for (const agent of agents()) {
      try {
        used += agent.state === 'running' || agent.state === 'paused' ? (agent.cgroup?.stats().memory.current ?? 0) : 0;
      } catch {
        // Gone meanwhile.
      }
    }
    return { total, available: total - used, used, usedRatio: used / total };
  };
}

/** Grows 2 MB every 100 ms up to 48 MB, then holds. */
const GROWER = 'const held = []; const t = setInterval(() => { held.push(Buffer.alloc(2 << 20, 1)); if (held.length >= 24) clearInterval(t); }, 100); setInterval(() => {}, 1000);';

let scripts: string;
beforeAll(() => {
  scripts = mkdtempSync(join(tmpdir(), 'nova-lose-no-work-'));
  // Agents of a root host run as users of their own: they read their scripts and write their marks here.
  chmodSync(scripts, 0o1777);
  writeAgentModule(scripts);
  writeFileSync(join(scripts, 'eviction.mjs'), EVICTION_AGENT);
});

afterAll(() => {
  if (scripts) rmSync(scripts, { recursive: true, force: true });
});

describe('pause before kill, on the host', () => {
  it('freezes the newest growing agent (its hard timeout does not run while frozen) and thaws it under the resume mark', async () => {
    const TOTAL = 400 * M;
    let offset = 0.8 * TOTAL;
    let base = 0;
    const agents: Agent[] = [];
    const { host } = await startHost({
      peaks: false,
      monitor: { interval: 200, eviction: false, readMemory: pretend(TOTAL, () => offset - base, () => agents) },
    });
    const events: string[] = [];
    for (const name of ['pause', 'resume', 'hard-timeout'] as const) host.on(name, (agent: Agent) => events.push(`${name}:${agent.id}`));
    const old = await host.spawn('old', { command: process.execPath, args: ['-e', GROWER], limits: ROOMY, timeouts: false });
    const young = await host.spawn('young', { command: process.execPath, args: ['-e', GROWER], limits: ROOMY, timeouts: { soft: false, hard: '12s', grace: 200 } });
    const spawnedAt = Date.now();
    base = old.stats()!.memory.current + young.stats()!.memory.current;
    agents.push(old, young);
    const agentEvents: string[] = [];
    young.on('pause', (e) => agentEvents.push(`pause:${e.id}`));
    young.on('resume', (e) => agentEvents.push(`resume:${e.id}`));

    await waitFor(() => young.state === 'paused', { timeout: 30_000, message: 'young frozen' });
    expect(old.state).toBe('running');
    expect(host.status().counts.paused).toBe(1);
    expect(host.memoryReport().agents.find((row) => row.id === 'young')?.state).toBe('paused');
    // Frozen past its hard deadline: the clock stopped with it.
    const deadline = spawnedAt + 12_000 + 2_000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())));
    expect(young.state).toBe('paused');
    expect(events).toEqual(['pause:young']);
    // Memory comes back under the resume mark: thawed; its clock runs on and the hard timeout comes.
    offset = 0.3 * TOTAL;
    await waitFor(() => events.includes('resume:young'), { timeout: 30_000, message: 'young thawed' });
    expect(agentEvents).toEqual(['pause:young', 'resume:young']);
    const result = await young.result;
    expect(result.reason).toBe('timeout');
    expect(events).toEqual(['pause:young', 'resume:young', 'hard-timeout:young']);
    expect(Date.now() - spawnedAt).toBeGreaterThan(14_000);
  }, 120_000);
});

describe('eviction notice, on the host', () => {
  it("a non-emergency relief kill sends the notice to the agent's onEviction first, kills after the grace: reason evicted", async () => {
    const TOTAL = 1000 * M;
    let used = 0.5;
    const { host, dir } = await startHost({
      peaks: false,
      monitor: { interval: 200, pause: false, eviction: { minGrace: '3s', maxGrace: '3s' }, readMemory: pretend(TOTAL, () => used * TOTAL) },
    });
    const out = join(dir, 'evicted');
    const agent = await host.spawn('evictee', { command: process.execPath, args: [join(scripts, 'eviction.mjs')], cwd: scripts, env: { OUT: out }, limits: ROOMY });
    await waitFor(() => existsSync(`${out}.ready`), { timeout: 30_000, message: 'agent ready' });
    used = 0.9; // above high, below critical: not an emergency
    const kills: KillEvent[] = [];
    agent.on('kill', (event) => kills.push(event));
    let savedWhileAlive = false;
    // The round waits for the evictee's end: its state is saved meanwhile, while it is still alive.
    const relief = host.relieve({ targetPercent: 80, maxKills: 1 });
    await waitFor(
      () => {
        savedWhileAlive ||= existsSync(`${out}.saved`) && agent.state === 'stopping';
        return agent.state === 'exited' || savedWhileAlive;
      },
      { timeout: 10_000, interval: 20, message: 'state saved' },
    );
    expect(savedWhileAlive).toBe(true);
    const report = await relief;
    expect(report.kills.map((k) => [k.id, k.eviction])).toEqual([['evictee', { signal: 'SIGUSR2', graceMs: 3000 }]]);
    expect(readFileSync(`${out}.saved`, 'utf8')).toBe('SIGUSR2 aborted=true');
    const result = await agent.result;
    expect(result).toMatchObject({ reason: 'evicted', signal: 'SIGKILL' });
    expect(kills).toMatchObject([{ reason: 'evicted', force: false }]);
  });
});

describe('admission by expected peak, on the host', () => {
  it('holds an agent whose expected peak does not fit (no cgroup) and starts it once memory frees', async () => {
    const TOTAL = 1000 * M;
    const { host, root, dir } = await startHost({ monitor: { interval: 200, readMemory: pretend(TOTAL, () => 0.5 * TOTAL) } });
    const held: QueueEvent[] = [];
    host.on('queue', (event) => event.reason === 'memory' && held.push(event));
    const stop = join(dir, 'stop-first');
    const first = await host.spawn('first', { command: 'sh', args: untilFile(stop), limits: ROOMY, expectedMemory: '200M' });
    // 500M used + 200M reserved by `first` + 200M expected > 0.85 × 1000M.
    const second = host.spawn('second', { command: 'sleep', args: ['0'], limits: ROOMY, expectedMemory: '200M' });
    await waitFor(() => held.length === 1, { message: 'held for memory' });
    expect(held[0]).toMatchObject({ id: 'second', memory: { expected: 200 * M, source: 'option' } });
    await new Promise((resolve) => setTimeout(resolve, 600)); // several monitor ticks: still held
    expect(host.get('second')!.state).toBe('queued');
    expect(childNames(root)).toEqual(['first']);
    writeFileSync(stop, '');
    await first.result;
    const started = await second;
    expect((await started.result).reason).toBe('exit');
  });

  it('learns the peak of an agent that ran to its end per profile; a restarted host still knows it', async () => {
    const TOTAL = 1000 * M;
    const memory = pretend(TOTAL, () => 0.5 * TOTAL);
    const first = await startHost({ monitor: { interval: 200, readMemory: memory } });
    const learner = await first.host.spawn('learner', {
      command: process.execPath,
      args: ['-e', 'const b = Buffer.alloc(24 << 20, 1); setTimeout(() => b.length, 300);'],
      limits: ROOMY,
      profile: 'repo-x:test',
    });
    const { peakMemory, reason } = await learner.result;
    expect(reason).toBe('exit');
    expect(peakMemory).toBeGreaterThan(24 * M);
    await first.host.dispose();

    const second = await startHost({ stateDir: first.stateDir, monitor: { interval: 200, readMemory: memory } });
    const held: QueueEvent[] = [];
    second.host.on('queue', (event) => event.reason === 'memory' && held.push(event));
    const stop = join(second.dir, 'stop-big');
    // 500M used + 345M reserved leaves 5M under 0.85 × 1000M: the profile's learned peak does not fit.
    const big = await second.host.spawn('big', { command: 'sh', args: untilFile(stop), limits: { ...ROOMY, memoryMax: '512M' }, expectedMemory: '345M' });
    const next = second.host.spawn('next', { command: 'true', limits: ROOMY, profile: 'repo-x:test' });
    await waitFor(() => held.length === 1, { message: 'held for memory' });
    expect(held[0]!.memory).toMatchObject({ expected: peakMemory, source: 'profile' });
    writeFileSync(stop, '');
    await big.result;
    expect((await (await next).result).reason).toBe('exit');
  });
});
