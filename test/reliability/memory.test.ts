/**
 * Scenarios 1 and 4: agents that misbehave with memory.
 * 1. A memory bomb beyond memory.max dies alone (reason 'oom', one `oom` event); five
 *    neighbours keep running and finish normally.
 * 4. A hog pinned at memory.high with no swap (v2) is throttled instead of OOM-killed — a
 *    livelock the host's MemoryMonitor detects and, with `livelock.action: 'kill'`, ends.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, type KillEvent, type OomEvent } from '../../src/index.js';
import type { AgentPressureEvent } from '../../src/monitor/index.js';
import { skipIf } from '../helpers/kernel.js';
import { alive, defer, kernelOomKills, processesIn, startHost, untilFile } from './helpers.js';

const MiB = 1024 ** 2;

describe('1. memory bomb', () => {
  it("only the bomb dies, reason 'oom' with exactly one oom event; five neighbours finish normally", async () => {
    const { host, root, dir } = await startHost({}, 'bomb');
    const stop = join(dir, 'stop');
    const ooms: Array<[string, OomEvent]> = [];
    host.on('oom', (agent, event) => ooms.push([agent.id, event]));
    const neighbours = await Promise.all(
      Array.from({ length: 5 }, (_, i) => host.spawn(`neighbour-${i}`, { command: 'sh', args: untilFile(stop) })),
    );
    const bomb = await host.spawn('bomb', {
      command: 'stress-ng',
      args: ['--vm', '1', '--vm-bytes', '256M', '--vm-keep', '--oomable', '--timeout', '120s', '--quiet'],
      // memory.high 'max': on v2 without swap a hog between high and max is throttled, not killed.
      limits: { memoryMax: '64M', memoryHigh: 'max' },
      keepCgroup: true,
    });
    const kept = bomb.cgroup!;
    defer(() => kept.delete());

    const result = await bomb.result;
    expect(result.reason).toBe('oom');
    const kills = kernelOomKills(kept);
    expect(kills).toBeGreaterThanOrEqual(1);
    expect(result.oomKills).toBe(kills);
    expect(result.peakMemory).toBeLessThanOrEqual(64 * MiB + MiB);
    expect(ooms.map(([id]) => id)).toEqual(['bomb']);
    expect(ooms[0]![1].total).toBe(kills);
    // Nothing of the bomb is left running, by the kernel's count and by /proc.
    expect(processesIn(kept)).toEqual([]);

    // Every neighbour ran on, untouched by the OOM killer, and ends on its own.
    for (const neighbour of neighbours) {
      expect(neighbour.state).toBe('running');
      expect(alive([neighbour.pid!])).toEqual([neighbour.pid]);
      expect(kernelOomKills(neighbour.cgroup!)).toBe(0);
    }
    writeFileSync(stop, '');
    const results = await Promise.all(neighbours.map((n) => n.result));
    for (const r of results) expect(r).toMatchObject({ reason: 'exit', exitCode: 0, signal: null, oomKills: 0 });
    expect(host.status().oomKills).toBe(kills);
    expect(ooms).toHaveLength(1);
    // The host itself is still in its own cgroup and can still start agents.
    const after = await host.spawn('after', { command: 'true' });
    expect((await after.result).reason).toBe('exit');
    expect(root.children().map((c) => c.name)).toEqual(['bomb']);
  });
});

describe('4. swapless livelock at memory.high', () => {
  it("a hog pinned at memory.high is detected by the host's monitor and killed per policy (reason relief); a neighbour lives", async (ctx) => {
    skipIf(ctx, Cgroup.self().version !== 2 && 'cgroup v1 has no memory.high (throttling) nor per-cgroup PSI: no livelock to detect');
    const { host, dir } = await startHost({ monitor: { interval: 250, livelock: { highPressure: 30, duration: '2s', action: 'kill' } } }, 'livelock');
    const pressure: AgentPressureEvent[] = [];
    host.on('pressure', (event) => event.scope === 'agent' && pressure.push(event as unknown as AgentPressureEvent));
    const kills: KillEvent[] = [];
    host.on('kill', (agent, event) => kills.push({ ...event, details: { ...event.details, id: agent.id } }));
    const errors: Error[] = [];
    host.on('error', (error) => errors.push(error));

    const stop = join(dir, 'stop');
    const neighbour = await host.spawn('neighbour', { command: 'sh', args: untilFile(stop) });
    const hog = await host.spawn('hog', {
      command: 'stress-ng',
      args: ['--vm', '1', '--vm-bytes', '200M', '--vm-keep', '--oomable', '--timeout', '300s', '--quiet'],
      limits: { memoryHigh: '32M', memoryMax: '256M', swapMax: 0 },
    });
    const result = await hog.result;

    expect(result.reason).toBe('relief');
    // Held at memory.high, never OOM-killed: that is what makes it a livelock.
    expect(result.oomKills).toBe(0);
    const ofHog = pressure.filter((e) => e.id === 'hog');
    expect(ofHog.map((e) => e.kind)).toEqual(expect.arrayContaining(['throttled', 'livelock']));
    const livelock = ofHog.find((e) => e.kind === 'livelock')!;
    expect(livelock.sample.events.high).toBeGreaterThan(0);
    expect(livelock.sample.pressure?.full?.avg10).toBeGreaterThanOrEqual(30);
    expect(kills).toEqual([
      expect.objectContaining({ reason: 'relief', force: true, details: expect.objectContaining({ id: 'hog', trigger: 'livelock' }) }),
    ]);
    expect(pressure.filter((e) => e.id === 'neighbour')).toEqual([]);
    expect(errors).toEqual([]);

    expect(neighbour.state).toBe('running');
    writeFileSync(stop, '');
    expect(await neighbour.result).toMatchObject({ reason: 'exit', exitCode: 0 });
  });
});
