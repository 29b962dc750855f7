/**
 * collectMetrics() against a real prom-client Registry and a fake host: an emitter with a
 * status() whose figures the tests set, so every gauge and counter can be checked exactly.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isAgentHostError } from '../../../src/errors.js';
import type { Agent, AgentResult } from '../../../src/host/agent.js';
import type { AgentHostEvents } from '../../../src/host/agent-host.js';
import type { AgentStatusRow, HostStatus } from '../../../src/host/report.js';
import type { AgentSample } from '../../../src/monitor/types.js';
import { collectMetrics, type MetricsHandle } from '../../../src/metrics/index.js';
import { loadPromClient } from '../../../src/metrics/prometheus.js';
import { Emitter } from '../../../src/util/emitter.js';

const GiB = 1024 ** 3;

class FakeHost extends Emitter<AgentHostEvents> {
  statusCalls = 0;
  monitor: { level?: unknown } | undefined;
  current: HostStatus = status();
  status(): HostStatus {
    this.statusCalls++;
    return this.current;
  }
}

function row(id: string, current: number, extra: Partial<AgentStatusRow> = {}): AgentStatusRow {
  return { id, state: 'running', uptimeMs: 1000, priority: 0, pid: 100, current, peak: current * 2, workingSet: current / 2, limit: 4 * GiB, percentOfLimit: 0, pids: 3, oomKills: 0, ...extra };
}

function status(extra: Partial<HostStatus> = {}): HostStatus {
  return {
    at: 0,
    root: '/sys/fs/cgroup/nova-agents',
    memory: { total: 16 * GiB, available: 12 * GiB, used: 4 * GiB, usedRatio: 0.25, swapTotal: 0, swapFree: 0 },
    level: undefined,
    counts: { queued: 2, starting: 0, running: 2, paused: 0, stopping: 1, exited: 0 },
    agents: [row('a1', 100 * 2 ** 20), row('a2', 200 * 2 ** 20, { limit: Infinity }), { id: 'q1', state: 'queued', uptimeMs: undefined, priority: 0 }],
    oomKills: 3,
    queue: { size: 2, running: 3, pending: 3, paused: false, why: undefined },
    ...extra,
  };
}

const agent = { id: 'a1' } as Agent;
const result = (reason: AgentResult['reason']): AgentResult => ({ id: 'a1', exitCode: 0, signal: null, reason, peakMemory: 0, oomKills: 0, durationMs: 1 });

/** `name{labels} value` lines of the scrape text, as a map. */
async function scrape(registry: Registry): Promise<Map<string, string>> {
  const text = await registry.metrics();
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), line.slice(at + 1));
  }
  return values;
}

const handles: MetricsHandle[] = [];
async function collect(host: FakeHost, registry = new Registry(), prefix?: string): Promise<{ registry: Registry; handle: MetricsHandle }> {
  const handle = await collectMetrics(host, { registry, ...(prefix === undefined ? {} : { prefix }) });
  handles.push(handle);
  return { registry, handle };
}
afterEach(() => {
  for (const handle of handles.splice(0)) handle.dispose();
});

describe('collectMetrics', () => {
  it('exposes host, queue, state and per-agent gauges read from status() at scrape time', async () => {
    const host = new FakeHost();
    const { registry } = await collect(host);
    expect(host.statusCalls).toBe(0);
    const m = await scrape(registry);
    expect(Object.fromEntries(m)).toMatchObject({
      nova_agent_host_host_memory_used_bytes: String(4 * GiB),
      nova_agent_host_host_memory_total_bytes: String(16 * GiB),
      nova_agent_host_host_memory_used_ratio: '0.25',
      nova_agent_host_pressure_level: '0',
      nova_agent_host_queue_length: '2',
      nova_agent_host_queue_pending: '3',
      nova_agent_host_admission_paused: '0',
      'nova_agent_host_agents{state="queued"}': '2',
      'nova_agent_host_agents{state="running"}': '2',
      'nova_agent_host_agents{state="stopping"}': '1',
      'nova_agent_host_agents{state="exited"}': '0',
      'nova_agent_host_agent_memory_current_bytes{agent="a1"}': String(100 * 2 ** 20),
      'nova_agent_host_agent_memory_peak_bytes{agent="a1"}': String(200 * 2 ** 20),
      'nova_agent_host_agent_memory_working_set_bytes{agent="a1"}': String(50 * 2 ** 20),
      'nova_agent_host_agent_memory_limit_bytes{agent="a1"}': String(4 * GiB),
      'nova_agent_host_agent_memory_limit_bytes{agent="a2"}': '+Inf',
      'nova_agent_host_agent_pids{agent="a2"}': '3',
      nova_agent_host_oom_kills_total: '3',
      nova_agent_host_spawns_total: '0',
    });
    // A queued agent has no cgroup yet: no per-agent series for it.
    expect([...m.keys()].filter((key) => key.includes('q1'))).toEqual([]);
    // One status() for the whole scrape, however many metrics read it.
    expect(host.statusCalls).toBe(1);
  });

  it('reads lazily: each scrape sees the host as it is then, and ended agents drop out', async () => {
    const host = new FakeHost();
    const { registry } = await collect(host);
    await scrape(registry);
    await new Promise((resolve) => setImmediate(resolve));
    host.current = status({
      agents: [row('a2', 300 * 2 ** 20)],
      counts: { queued: 0, starting: 0, running: 1, paused: 0, stopping: 0, exited: 0 },
      queue: { size: 0, running: 1, pending: 1, paused: true, why: 'memory 86% >= 85%' },
      oomKills: 5,
    });
    const m = await scrape(registry);
    expect(host.statusCalls).toBe(2);
    expect(m.get('nova_agent_host_agent_memory_current_bytes{agent="a2"}')).toBe(String(300 * 2 ** 20));
    expect(m.has('nova_agent_host_agent_memory_current_bytes{agent="a1"}')).toBe(false);
    expect(m.get('nova_agent_host_admission_paused')).toBe('1');
    expect(m.get('nova_agent_host_oom_kills_total')).toBe('5');
  });

  it('host memory is the budget: its source and cgroup, and the kernel\'s OOM kills there', async () => {
    const host = new FakeHost();
    host.current = status({
      memory: { total: GiB, available: GiB / 4, used: (3 * GiB) / 4, usedRatio: 0.75, source: 'cgroup', cgroup: '/sys/fs/cgroup/pod', oomKills: 2 },
    });
    const { registry } = await collect(host);
    const m = await scrape(registry);
    expect(m.get('nova_agent_host_host_memory_total_bytes')).toBe(String(GiB));
    expect(m.get('nova_agent_host_memory_budget_info{source="cgroup",cgroup="/sys/fs/cgroup/pod"}')).toBe('1');
    expect(m.get('nova_agent_host_memory_budget_oom_kills')).toBe('2');
  });

  it('says NaN (not 0) for host memory when /proc/meminfo could not be read', async () => {
    const host = new FakeHost();
    host.current = status({ memory: undefined });
    const { registry } = await collect(host);
    const m = await scrape(registry);
    expect(m.get('nova_agent_host_host_memory_used_bytes')).toMatch(/^nan$/i);
    expect(m.get('nova_agent_host_host_memory_used_ratio')).toMatch(/^nan$/i);
    expect(m.get('nova_agent_host_pressure_level')).toMatch(/^nan$/i);
    expect(m.get('nova_agent_host_queue_length')).toBe('2');
  });

  it('counts spawns, exits by reason and kills by reason from host events, every reason from zero', async () => {
    const host = new FakeHost();
    const { registry } = await collect(host);
    host.emit('spawn', agent);
    host.emit('spawn', agent);
    host.emit('kill', agent, { reason: 'timeout', force: false });
    host.emit('kill', agent, { reason: 'relief', force: true });
    host.emit('kill', agent, { reason: 'relief', force: true });
    host.emit('exit', agent, result('oom'));
    host.emit('exit', agent, result('exit'));
    const m = await scrape(registry);
    expect(m.get('nova_agent_host_spawns_total')).toBe('2');
    expect(m.get('nova_agent_host_kills_total{reason="killed"}')).toBe('0');
    expect(m.get('nova_agent_host_kills_total{reason="timeout"}')).toBe('1');
    expect(m.get('nova_agent_host_kills_total{reason="relief"}')).toBe('2');
    expect(m.get('nova_agent_host_exits_total{reason="oom"}')).toBe('1');
    expect(m.get('nova_agent_host_exits_total{reason="exit"}')).toBe('1');
    expect(m.get('nova_agent_host_exits_total{reason="error"}')).toBe('0');
    expect(m.get('nova_agent_host_exits_total{reason="evicted"}')).toBe('0');
  });

  it("counts OOM kills by whose limit was reached: the agent's own or the agents' root backstop", async () => {
    const host = new FakeHost();
    const { registry } = await collect(host);
    const counters = { low: 0, high: 0, max: 0, oom: 1, oomKill: 2 };
    host.emit('oom', agent, { count: 2, total: 2, counters, scope: 'agents-root' });
    host.emit('oom', agent, { count: 1, total: 3, counters, scope: 'agent' });
    const m = await scrape(registry);
    expect(m.get('nova_agent_host_oom_kills_by_scope_total{scope="agents-root"}')).toBe('2');
    expect(m.get('nova_agent_host_oom_kills_by_scope_total{scope="agent"}')).toBe('1');
  });

  it('pressure level: the monitor first, then the last host pressure event, then the default thresholds', async () => {
    const host = new FakeHost();
    const { registry } = await collect(host);
    const level = async (): Promise<string | undefined> => {
      await new Promise((resolve) => setImmediate(resolve));
      return (await scrape(registry)).get('nova_agent_host_pressure_level');
    };
    host.current = status({ memory: { total: 100, available: 10, used: 90, usedRatio: 0.9, swapTotal: 0, swapFree: 0 } });
    expect(await level()).toBe('1');
    host.current = status({ memory: { total: 100, available: 4, used: 96, usedRatio: 0.96, swapTotal: 0, swapFree: 0 } });
    expect(await level()).toBe('2');
    host.emit('pressure', { scope: 'agent', id: 'a', kind: 'throttled', sample: {} as AgentSample }); // Not the host's level.
    expect(await level()).toBe('2');
    host.emit('pressure', { scope: 'host', level: 'normal', previous: 'critical', memory: { total: 100, available: 50, used: 50, usedRatio: 0.5 } });
    expect(await level()).toBe('0');
    host.monitor = { level: 'critical' };
    expect(await level()).toBe('2');
    host.monitor = { level: 1 };
    expect(await level()).toBe('1');
    host.monitor = { level: 'bogus' }; // Unknown shapes fall through, never throw.
    expect(await level()).toBe('0');
  });

  it('dispose() unregisters every metric and removes every listener; idempotent', async () => {
    const host = new FakeHost();
    const registry = new Registry();
    const counts = (): Record<string, number> => Object.fromEntries(['kill', 'spawn', 'exit', 'pressure', 'oom'].map((e) => [e, host.listenerCount(e as 'kill')]));
    const before = counts();
    const handle = await collectMetrics(host, { registry });
    expect(handle.registry).toBe(registry);
    expect(handle.names.length).toBe(20);
    expect(host.listenerCount('kill')).toBe(before.kill! + 1);
    handle.dispose();
    handle.dispose();
    expect(registry.getMetricsAsArray()).toEqual([]);
    expect(counts()).toEqual(before);
    // Registering again after dispose works.
    const again = await collectMetrics(host, { registry });
    again[Symbol.dispose]();
  });

  it('takes a prefix, and the default global registry when none is given', async () => {
    const host = new FakeHost();
    const { registry } = await collect(host, new Registry(), 'fleet_');
    const m = await scrape(registry);
    expect(m.get('fleet_queue_length')).toBe('2');
    const { register } = await import('prom-client');
    const handle = await collectMetrics(host);
    try {
      expect(handle.registry).toBe(register);
      expect(await register.metrics()).toContain('nova_agent_host_queue_length 2');
    } finally {
      handle.dispose();
    }
    expect(register.getSingleMetric('nova_agent_host_queue_length')).toBeUndefined();
  });

  it('OpenMetrics registries get counters without a doubled _total', async () => {
    const host = new FakeHost();
    // prom-client's types omit the constructor's content type argument.
    const OpenMetricsRegistry = Registry as unknown as new (contentType: string) => Registry;
    const registry = new OpenMetricsRegistry(Registry.OPENMETRICS_CONTENT_TYPE);
    await collect(host, registry);
    const text = await registry.metrics();
    expect(text).toContain('nova_agent_host_spawns_total 0');
    expect(text).not.toContain('_total_total');
  });

  it('refuses a clash or a bad prefix with ERR_INVALID_OPTION, registering nothing', async () => {
    const host = new FakeHost();
    const { registry } = await collect(host);
    const count = registry.getMetricsAsArray().length;
    const listeners = host.listenerCount('spawn');
    const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> =>
      promise.then(
        () => undefined,
        (error: unknown) => (isAgentHostError(error) ? error.code : String(error)),
      );
    expect(await codeOf(collectMetrics(host, { registry }))).toBe(ErrorCode.INVALID_OPTION);
    expect(registry.getMetricsAsArray().length).toBe(count);
    expect(host.listenerCount('spawn')).toBe(listeners);
    expect(await codeOf(collectMetrics(host, { registry: new Registry(), prefix: 'bad-prefix' }))).toBe(ErrorCode.INVALID_OPTION);
    expect(await codeOf(collectMetrics(host, { registry: new Registry(), prefix: '9x_' }))).toBe(ErrorCode.INVALID_OPTION);
  });

  it('without prom-client installed, fails with ERR_INVALID_OPTION saying how to install it', async () => {
    const failing = (error: Error) => () => Promise.reject(error);
    const missing = await loadPromClient(failing(Object.assign(new Error("Cannot find package 'prom-client'"), { code: 'ERR_MODULE_NOT_FOUND' }))).catch((e: unknown) => e);
    expect(isAgentHostError(missing, ErrorCode.INVALID_OPTION)).toBe(true);
    expect((missing as Error).message).toBe('collectMetrics() needs the optional peer dependency prom-client: npm install prom-client');
    const cjsMissing = await loadPromClient(failing(Object.assign(new Error("Cannot find module 'prom-client'"), { code: 'MODULE_NOT_FOUND' }))).catch((e: unknown) => e);
    expect((cjsMissing as Error).message).toMatch(/npm install prom-client/);
    const broken = await loadPromClient(failing(new SyntaxError('Unexpected token'))).catch((e: unknown) => e);
    expect(isAgentHostError(broken, ErrorCode.INVALID_OPTION)).toBe(true);
    expect((broken as Error).message).toMatch(/could not load prom-client: Unexpected token/);
    expect((broken as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it('finds the classes on the namespace or on its default export (CommonJS interop)', async () => {
    const real = await import('prom-client');
    expect((await loadPromClient(async () => real)).Gauge).toBe(real.Gauge);
    expect((await loadPromClient(async () => ({ default: real }))).Gauge).toBe(real.Gauge);
  });
});
