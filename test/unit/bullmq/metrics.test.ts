import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { collectFleetMetrics, type AgentWorkerEvents } from '../../../src/bullmq/index.js';
import { Emitter } from '../../../src/util/emitter.js';

function source(): { outcomes: InstanceType<typeof Emitter<AgentWorkerEvents>>; node: string; heldBack: boolean } {
  return { outcomes: new Emitter<AgentWorkerEvents>(), node: 'n1', heldBack: false };
}

describe('collectFleetMetrics', () => {
  it('counts jobs by outcome and reason, observes queue waits, reports fetching and orphans', async () => {
    const worker = source();
    const registry = new Registry();
    const metrics = await collectFleetMetrics(worker, { registry });
    worker.outcomes.emit('outcome', { id: 'a', outcome: 'completed', reason: 'exit', queueWaitMs: 1500 });
    worker.outcomes.emit('outcome', { id: 'b', outcome: 'retried', reason: 'relief', queueWaitMs: 20 });
    worker.outcomes.emit('outcome', { id: 'c', outcome: 'returned', reason: 'admission', queueWaitMs: 5 });
    worker.outcomes.emit('orphans', ['x', 'y']);
    worker.heldBack = true;
    const text = await registry.metrics();
    expect(text).toContain('nova_agent_host_fleet_jobs_total{node="n1",outcome="completed",reason="exit"} 1');
    expect(text).toContain('nova_agent_host_fleet_jobs_total{node="n1",outcome="retried",reason="relief"} 1');
    expect(text).toContain('nova_agent_host_fleet_jobs_total{node="n1",outcome="returned",reason="admission"} 1');
    // A returned job has not started anywhere yet: two waits observed, not three.
    expect(text).toContain('nova_agent_host_fleet_queue_wait_seconds_count{node="n1"} 2');
    expect(text).toContain('nova_agent_host_fleet_queue_wait_seconds_sum{node="n1"} 1.52');
    expect(text).toContain('nova_agent_host_fleet_fetching{node="n1"} 0');
    expect(text).toContain('nova_agent_host_fleet_orphans_killed_total{node="n1"} 2');
    metrics.dispose();
    expect((await registry.metrics()).trim()).toBe('');
    expect(worker.outcomes.listenerCount('outcome')).toBe(0);
  });

  it('refuses a second registration of the same names', async () => {
    const registry = new Registry();
    await collectFleetMetrics(source(), { registry });
    await expect(collectFleetMetrics(source(), { registry })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
