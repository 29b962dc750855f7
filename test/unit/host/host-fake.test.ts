/**
 * AgentHost's own logic on a fake cgroupfs tree (plain directories in a temp dir, no root, no
 * kernel enforcement): what it creates and in which order it reports. The processes are real
 * (`true`, `sleep`); their cgroups are only directories here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import { ErrorCode } from '../../../src/errors.js';
import { AgentHost, type AgentHostOptions } from '../../../src/host/agent-host.js';
import type { QueueEvent } from '../../../src/host/events.js';
import type { HostMemory } from '../../../src/monitor/types.js';
import { fakeTree } from '../../helpers/fake-tree.js';
import { waitFor } from '../../helpers/wait.js';

const hosts: AgentHost[] = [];
afterEach(async () => {
  for (const host of hosts.splice(0)) await host.dispose();
});

function memory(usedRatio: number): HostMemory {
  const total = 16 * 1024 ** 3;
  return { total, available: total * (1 - usedRatio), used: total * usedRatio, usedRatio, swapTotal: 0, swapFree: 0 };
}

/** A started host whose agents' root is a plain directory standing in for a v2 cgroup. */
async function fakeHost(options: Partial<AgentHostOptions> = {}): Promise<{ host: AgentHost; dir: string; events: string[] }> {
  const tree = fakeTree({ 'cg/cgroup.controllers': 'cpu io memory pids\n', 'cg/cgroup.subtree_control': '\n', 'state/': '' });
  const dir = tree.path('cg');
  const hierarchy: CgroupHierarchy = { mode: 'unified', version: 2, mounts: { unified: dir }, own: { unified: dir }, readOnly: [] };
  const host = new AgentHost({
    cgroupRoot: new Cgroup({ unified: dir }, { hierarchy }),
    stateDir: tree.path('state'),
    preflight: 'off',
    monitor: false,
    pollInterval: 0,
    timeouts: false,
    // No backstop: the root's own limit files would be written into the fake tree.
    agentsMemoryMax: false,
    ...options,
  });
  hosts.push(host);
  const events: string[] = [];
  host.on('queue', (e) => events.push(`queue:${e.reason}${e.id ? `:${e.id}` : ''}`));
  host.on('pressure', (e) => events.push(`pressure:${e.scope === 'host' ? e.level : e.kind}`));
  host.on('exit', (agent, r) => events.push(`exit:${agent.id}:${r.reason}`));
  await host.start();
  return { host, dir, events };
}

describe('AgentHost on a fake cgroupfs tree', () => {
  it('a missing command fails before anything is created or queued: no directory, no queue or exit event', async () => {
    const { host, dir, events } = await fakeHost();
    await expect(host.spawn('ghost', { command: 'no-such-agent-command-x' })).rejects.toMatchObject({ code: ErrorCode.SPAWN_NOT_FOUND });
    await expect(host.spawn('ghost', { command: 'true', cwd: '/nonexistent/dir' })).rejects.toMatchObject({ code: ErrorCode.SPAWN_NOT_FOUND });
    expect(readdirSync(dir).filter((f) => !f.startsWith('cgroup.'))).toEqual([]);
    expect(events).toEqual([]);
    expect(host.get('ghost')).toBeUndefined();
  });

  it('a per-spawn memoryMax without memoryHigh writes memory.high at ¾ of it; the host default stays 4G / 3G', async () => {
    const { host, dir } = await fakeHost();
    host.on('error', () => undefined); // the plain directories cannot be removed like cgroups
    const small = await host.spawn('small', { command: 'true', limits: { memoryMax: '256M' }, keepCgroup: true });
    const plain = await host.spawn('plain', { command: 'true', keepCgroup: true });
    await Promise.all([small.result, plain.result]);
    const read = (id: string, file: string): string => readFileSync(join(dir, id, file), 'utf8').trim();
    expect([read('small', 'memory.max'), read('small', 'memory.high')]).toEqual([String(256 * 1024 ** 2), String(192 * 1024 ** 2)]);
    expect([read('plain', 'memory.max'), read('plain', 'memory.high')]).toEqual([String(4 * 1024 ** 3), String(3 * 1024 ** 3)]);
  });

  it('emits pressure before the queue pause or resume it causes', async () => {
    let ratio = 0.5;
    const { host, events } = await fakeHost({ monitor: { interval: 20, readMemory: () => memory(ratio) } });
    ratio = 0.9;
    await waitFor(() => host.admissionPaused !== undefined);
    ratio = 0.5;
    await waitFor(() => host.admissionPaused === undefined);
    expect(events).toEqual(['pressure:high', 'queue:paused', 'pressure:normal', 'queue:resumed']);
  });

  it('kill() of a queued agent drops it (ERR_ABORTED); status().queue counts running, with pending as its alias', async () => {
    const { host } = await fakeHost({ maxConcurrent: 1 });
    host.on('error', () => undefined);
    const first = await host.spawn('first', { command: 'sleep', args: ['0.3'] });
    const second = host.spawn('second', { command: 'true' });
    expect(host.status().queue).toMatchObject({ size: 1, running: 1, pending: 1 });
    expect(host.get('second')!.state).toBe('queued');
    expect((await host.kill('second')).reason).toBe('killed');
    await expect(second).rejects.toMatchObject({ code: ErrorCode.ABORTED });
    // A fake cgroup cannot be killed (its files are plain files): the first agent ends on its own.
    expect((await first.result).reason).toBe('exit');
    await waitFor(() => host.status().queue.running === 0);
    expect(host.status().queue).toMatchObject({ size: 0, running: 0, pending: 0 });
  });
});

describe('admission by expected peak, on a fake tree', () => {
  const G = 1024 ** 3;

  it('holds an agent whose expected peak does not fit (queue event `memory` with the figures), starts it once memory frees', async () => {
    const { host, events } = await fakeHost({ monitor: { interval: 20, readMemory: () => memory(0.5) } });
    host.on('error', () => undefined);
    const held: QueueEvent[] = [];
    host.on('queue', (e) => e.reason === 'memory' && held.push(e));
    const first = await host.spawn('first', { command: 'sleep', args: ['0.5'], expectedMemory: '4G' });
    // 8G used outside the agents + 4G reserved by `first` + 4G expected > 0.85 × 16G.
    const second = host.spawn('second', { command: 'true', expectedMemory: '4G' });
    expect(host.get('second')!.state).toBe('queued');
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ id: 'second', memory: { expected: 4 * G, source: 'option', reserved: 4 * G, baseline: 8 * G } });
    expect(held[0]!.memory!.limit).toBeCloseTo(0.85 * 16 * G, -3);
    expect(held[0]!.why).toMatch(/second waits for memory/);
    expect(events.slice(0, 2)).toEqual(['queue:queued:second', 'queue:memory:second']);
    await first.result;
    expect((await (await second).result).reason).toBe('exit');
  });

  it('learns the peak of an agent that ran to its end, per profile, and a restarted host still knows it', async () => {
    const { host: shared, dir } = await fakeHost({ monitor: { interval: 20, readMemory: () => memory(0.25) } });
    shared.on('error', () => undefined);
    // On a fake tree the agent plays the kernel: it writes its own cgroup's peak.
    const script = 'echo 1 > "$NOVA_AGENT_CGROUP/memory.current"; echo 5368709120 > "$NOVA_AGENT_CGROUP/memory.peak"';
    // As root: the fake tree's files are root's (a real cgroup's are the kernel's, never the agent's to write).
    const learner = await shared.spawn('learner', { command: 'sh', args: ['-c', script], profile: 'repo-x:build', user: 'root' });
    expect(await learner.result).toMatchObject({ reason: 'exit', peakMemory: 5 * G });
    const stateDir = join(dir, '..', 'state');
    await shared.dispose();

    // Expected peaks are capped at memoryMax (4G by default).
    const { host } = await fakeHost({ stateDir, limits: { memoryMax: '8G' }, monitor: { interval: 20, readMemory: () => memory(0.25) } });
    host.on('error', () => undefined);
    const held: QueueEvent[] = [];
    host.on('queue', (e) => e.reason === 'memory' && held.push(e));
    await host.spawn('big', { command: 'sleep', args: ['0.3'], expectedMemory: '6G' });
    // 4G outside + 6G reserved: 3.6G left under 0.85 × 16G; the profile's learned 5G does not fit.
    const next = host.spawn('next', { command: 'true', profile: 'repo-x:build' });
    expect(held.map((e) => [e.id, e.memory!.expected, e.memory!.source])).toEqual([['next', 5 * G, 'profile']]);
    expect((await (await next).result).reason).toBe('exit');
  });

  it('peaks: false admits by the level alone', async () => {
    const { host } = await fakeHost({ peaks: false, monitor: { interval: 20, readMemory: () => memory(0.5) } });
    host.on('error', () => undefined);
    const a = await host.spawn('a', { command: 'sleep', args: ['0.3'], expectedMemory: '8G' });
    const b = await host.spawn('b', { command: 'true', expectedMemory: '8G' });
    expect(b.state).not.toBe('queued');
    await Promise.all([a.result, b.result]);
  });

  it('rejects a bad expectedMemory or profile before anything is queued', async () => {
    const { host } = await fakeHost();
    await expect(host.spawn('x', { command: 'true', expectedMemory: 'max' })).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    await expect(host.spawn('x', { command: 'true', profile: '' })).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    expect(host.get('x')).toBeUndefined();
  });
});
