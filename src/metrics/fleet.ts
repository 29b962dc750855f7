/**
 * Per-node metrics of a fleet worker (`nova-agent-host/bullmq`), through the same optional
 * `prom-client` as `collectMetrics()`: queue wait, jobs by outcome, whether the node fetches.
 * They follow the worker's `outcomes` events; nothing polls Redis.
 */
import type * as PromClient from 'prom-client';
import type { AgentWorker } from '../bullmq/worker.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { loadPromClient, type MetricsRegistry } from './prometheus.js';

/** What {@link collectFleetMetrics} listens to: an {@link AgentWorker}, or anything with its `outcomes` and `node`. */
export type FleetMetricsSource = Pick<AgentWorker, 'outcomes' | 'node' | 'heldBack'>;

/** Options of {@link collectFleetMetrics}. */
export interface CollectFleetMetricsOptions {
  /** Where the metrics are registered. Default: `prom-client`'s global `register`. */
  registry?: MetricsRegistry;
  /** Prefix of every metric name. Default `'nova_agent_host_'`, as `collectMetrics()`'s. */
  prefix?: string;
  /** Bucket bounds of the queue-wait histogram, in seconds. Default: 0.05 s to 30 min. */
  buckets?: number[];
}

/** The registered fleet metrics; {@link FleetMetricsHandle.dispose} removes them and the listeners. */
export interface FleetMetricsHandle {
  /** The registry the metrics are in. */
  readonly registry: MetricsRegistry;
  /** Full names of the registered metrics. */
  readonly names: readonly string[];
  /** Unregisters every metric and removes the listeners. Idempotent. */
  dispose(): void;
  /** {@link FleetMetricsHandle.dispose}, for `using`. */
  [Symbol.dispose](): void;
}

const OUTCOMES = ['completed', 'failed', 'retried', 'returned'] as const;
const DEFAULT_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 1800];

/**
 * Registers, with a `node` label:
 *
 * | metric (after the prefix) | type | labels |
 * |---|---|---|
 * | `fleet_jobs_total` | counter | `node`, `outcome` (completed, failed, retried, returned), `reason` (the agent's exit reason, or `admission`) |
 * | `fleet_queue_wait_seconds` | histogram | `node` — from the job's creation (or the end of its delay) to its start on the node |
 * | `fleet_fetching` (1 fetching, 0 held back: the host has no room) | gauge | `node` |
 * | `fleet_orphans_killed_total` | counter | `node` |
 *
 * @throws `ERR_INVALID_OPTION` when `prom-client` is not installed or a metric of the same name is
 * already registered.
 */
export async function collectFleetMetrics(worker: FleetMetricsSource, options: CollectFleetMetricsOptions = {}): Promise<FleetMetricsHandle> {
  const prefix = options.prefix ?? 'nova_agent_host_';
  const prom = await loadPromClient(undefined, 'collectFleetMetrics()');
  const registry = (options.registry ?? prom.register) as PromClient.Registry;
  const total = String(registry.contentType).startsWith('application/openmetrics-text') ? '' : '_total';
  const names = {
    jobs: `${prefix}fleet_jobs${total}`,
    wait: `${prefix}fleet_queue_wait_seconds`,
    fetching: `${prefix}fleet_fetching`,
    orphans: `${prefix}fleet_orphans_killed${total}`,
  };
  for (const name of Object.values(names)) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `metric ${name} is already registered: use another prefix or registry, or dispose the first handle`);
    }
  }
  const registers = [registry];
  const node = worker.node;
  const jobs = new prom.Counter({ name: names.jobs, help: 'Agent jobs processed on this node, by outcome and agent exit reason.', labelNames: ['node', 'outcome', 'reason'], registers });
  const wait = new prom.Histogram({ name: names.wait, help: 'Time agent jobs waited in the queue before starting on this node, in seconds.', labelNames: ['node'], buckets: options.buckets ?? DEFAULT_BUCKETS, registers });
  new prom.Gauge({
    name: names.fetching,
    help: 'Whether the node fetches jobs (1) or holds back because its host has no room (0).',
    labelNames: ['node'],
    registers,
    collect() {
      this.set({ node }, worker.heldBack ? 0 : 1);
    },
  });
  const orphans = new prom.Counter({ name: names.orphans, help: 'Agents of this queue left by a crashed orchestrator and killed on start.', labelNames: ['node'], registers });
  for (const outcome of OUTCOMES) jobs.inc({ node, outcome, reason: 'exit' }, 0);
  orphans.inc({ node }, 0);

  const onOutcome: Parameters<typeof worker.outcomes.on<'outcome'>>[1] = (event) => {
    jobs.inc({ node, outcome: event.outcome, reason: event.reason });
    // A returned job did not start here: its wait is not over.
    if (event.outcome !== 'returned') wait.observe({ node }, event.queueWaitMs / 1000);
  };
  const onOrphans: Parameters<typeof worker.outcomes.on<'orphans'>>[1] = (ids) => orphans.inc({ node }, ids.length);
  worker.outcomes.on('outcome', onOutcome);
  worker.outcomes.on('orphans', onOrphans);
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    worker.outcomes.off('outcome', onOutcome);
    worker.outcomes.off('orphans', onOrphans);
    for (const name of Object.values(names)) registry.removeSingleMetric(name);
  };
  return { registry, names: Object.values(names), dispose, [Symbol.dispose]: dispose };
}
