/**
 * collectMetrics() on a real AgentHost: one `sleep` agent in a real memory-limited cgroup below
 * this process's own, scraped through a real prom-client Registry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentHost, Cgroup, collectMetrics } from '../../src/index.js';
import { testParent } from '../helpers/cgroups.js';

const root = testParent('metrics');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-metrics-'));
  console.log(`cgroup v${Cgroup.self().version}, below ${Cgroup.self().path}`);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The value of the sample line `series` (name and labels, exactly) in a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('collectMetrics on a real host', () => {
  it("exposes a running agent's memory, limit and pids, and counts its spawn, kill and exit", async () => {
    const host = new AgentHost({ cgroupRoot: root, stateDir: join(dir, 'state'), limits: { memoryMax: '64M', pidsMax: 16 }, timeouts: false, killGrace: 200 });
    await host.start();
    const registry = new Registry();
    const metrics = await collectMetrics(host, { registry });
    try {
      const agent = await host.spawn('metrics-sleeper', { command: 'sleep', args: ['30'] });
      const text = await registry.metrics();
      const current = sample(text, 'nova_agent_host_agent_memory_current_bytes{agent="metrics-sleeper"}');
      // A sleeping process charges something to its cgroup, far below the limit.
      expect(current).toBeGreaterThan(0);
      expect(current).toBeLessThan(64 * 2 ** 20);
      expect(sample(text, 'nova_agent_host_agent_memory_limit_bytes{agent="metrics-sleeper"}')).toBe(64 * 2 ** 20);
      expect(sample(text, 'nova_agent_host_agent_pids{agent="metrics-sleeper"}')).toBe(1);
      expect(sample(text, 'nova_agent_host_agents{state="running"}')).toBe(1);
      expect(sample(text, 'nova_agent_host_spawns_total')).toBe(1);
      expect(sample(text, 'nova_agent_host_host_memory_total_bytes')).toBeGreaterThan(0);
      expect(sample(text, 'nova_agent_host_pressure_level')).toBeGreaterThanOrEqual(0);

      const result = await agent.kill({ force: true });
      expect(result.reason).toBe('killed');
      await new Promise((resolve) => setImmediate(resolve));
      const after = await registry.metrics();
      expect(sample(after, 'nova_agent_host_agent_memory_current_bytes{agent="metrics-sleeper"}')).toBeUndefined();
      expect(sample(after, 'nova_agent_host_kills_total{reason="killed"}')).toBe(1);
      expect(sample(after, 'nova_agent_host_exits_total{reason="killed"}')).toBe(1);
      expect(sample(after, 'nova_agent_host_agents{state="running"}')).toBe(0);
    } finally {
      metrics.dispose();
      await host.dispose();
    }
    expect(registry.getMetricsAsArray()).toEqual([]);
  });
});
