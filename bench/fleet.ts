/**
 * The fleet (`nova-agent-host/bullmq`) against a local redis-server: (1) the overhead of one job
 * end to end — enqueueAgent → a node's worker spawns it → the job completes → the producer hears
 * of it — against calling host.spawn directly, for /bin/true, one at a time; (2) jobs/s with 1, 2
 * and 3 nodes draining the same burst of /bin/true jobs, as ratios to one node. Variants run
 * interleaved, round after round, so ratios compare figures taken under the same load.
 *
 * Nodes are hosts and workers in this one process (each its own AgentHost on its own cgroup, its
 * own Worker and Redis connections): the figures show what the queue adds, not what more machines
 * add — on one 2-core machine, more nodes share the same cores.
 *
 *   npx tsx bench/fleet.ts [--quick]
 */
import { Queue, QueueEvents } from 'bullmq';
import { parseArgs } from 'node:util';
import { createAgentWorker, enqueueAgent, type AgentJobData, type AgentJobResult, type AgentWorker } from '../src/bullmq/index.js';
import type { AgentHost } from '../src/index.js';
import { startRedis, type RedisServer } from '../test/helpers/redis.js';
import { BenchEnv, NATIVE_SCALE, QUICK_SCALE, VM_SCALE } from './lib/env.js';
import { describeMachine, machineLine } from './lib/machine.js';
import { printSection, type SectionResult } from './lib/report.js';
import { median, ms, ratio } from './lib/stats.js';

const COMMAND = '/bin/true';
const SLOTS = 8;

interface Node {
  host: AgentHost;
  worker: AgentWorker;
}

/** The bench section (also runnable alone, below). */
export async function fleet(env: BenchEnv): Promise<SectionResult> {
  const small = env.machine.vm || env.scale === QUICK_SCALE;
  const rounds = small ? 2 : 5;
  const sequential = small ? 10 : 40;
  const burst = small ? 40 : 200;
  const redis = await startRedis();
  env.defer(() => redis.stop());
  let queues = 0;
  let agents = 0;

  const nodes = async (count: number, queue: string): Promise<Node[]> =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const host = await env.host(`fleet-${i}`, { monitor: false, timeouts: false, pollInterval: 0 });
        const worker = createAgentWorker(host, { queue, connection: redis.connection, concurrency: SLOTS, node: `node-${i}`, orphanGuard: false });
        await worker.started;
        await worker.waitUntilReady();
        return { host, worker };
      }),
    );
  const stop = async (list: Node[]): Promise<void> => {
    for (const { host, worker } of list) {
      await worker.close();
      await host.dispose();
    }
  };
  const job = (): AgentJobData => ({ id: `b${++agents}`, command: COMMAND });
  const open = (name: string): { queue: Queue<AgentJobData, AgentJobResult>; events: QueueEvents } => ({
    queue: new Queue<AgentJobData, AgentJobResult>(name, { connection: redis.connection }),
    events: new QueueEvents(name, { connection: redis.connection }),
  });

  // (1) One job at a time: host.spawn → result, against enqueue → completed, through one node.
  const direct: number[] = [];
  const viaQueue: number[] = [];
  {
    const name = `bench-seq-${process.pid}-${++queues}`;
    const { queue, events } = open(name);
    await events.waitUntilReady();
    const [node] = await nodes(1, name);
    const directHost = await env.host('fleet-direct', { monitor: false, timeouts: false, pollInterval: 0 });
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < sequential; i++) {
        const start = performance.now();
        const agent = await directHost.spawn(`d${++agents}`, { command: COMMAND });
        await agent.result;
        direct.push(performance.now() - start);
      }
      for (let i = 0; i < sequential; i++) {
        const start = performance.now();
        const added = await enqueueAgent(queue, job(), { removeOnComplete: 1000 });
        await added.waitUntilFinished(events, 60_000);
        viaQueue.push(performance.now() - start);
      }
    }
    await stop([node!]);
    await directHost.dispose();
    await events.close();
    await queue.close();
  }

  // (2) A burst of jobs drained by 1, 2 and 3 nodes.
  const rates: Record<number, number[]> = { 1: [], 2: [], 3: [] };
  for (let round = 0; round < rounds; round++) {
    for (const count of [1, 2, 3]) {
      const name = `bench-burst-${process.pid}-${++queues}`;
      const { queue, events } = open(name);
      await events.waitUntilReady();
      // Jobs first, then the nodes: every node starts on a full queue.
      await queue.addBulk(Array.from({ length: burst }, () => job()).map((data) => ({ name: data.id, data, opts: { jobId: data.id, removeOnComplete: true } })));
      let done = 0;
      const finished = new Promise<void>((resolve) => events.on('completed', () => ++done === burst && resolve()));
      const start = performance.now();
      const list = await nodes(count, name);
      await finished;
      rates[count]!.push(burst / ((performance.now() - start) / 1000));
      await stop(list);
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }

  const overhead = median(viaQueue) - median(direct);
  const one = median(rates[1]!);
  return {
    id: 'fleet',
    title: 'Fleet: one BullMQ queue, local redis-server',
    headlines: [
      { metric: 'fleet job overhead (/bin/true, end to end)', result: `${ms(overhead)} (${ratio(median(viaQueue) / median(direct))} host.spawn)`, target: '–', verdict: 'info' },
      { metric: 'jobs/s, 2 and 3 nodes vs 1', result: `${ratio(median(rates[2]!) / one)}, ${ratio(median(rates[3]!) / one)}`, target: '–', verdict: 'info' },
    ],
    tables: [
      {
        title: `One job at a time (${rounds} rounds × ${sequential}, interleaved)`,
        columns: ['variant', 'median per job', 'vs host.spawn'],
        rows: [
          ['host.spawn → result', ms(median(direct)), '1.00×'],
          ['enqueueAgent → worker → completed event', ms(median(viaQueue)), ratio(median(viaQueue) / median(direct))],
        ],
      },
      {
        title: `A burst of ${burst} jobs, ${SLOTS} slots per node (${rounds} rounds, interleaved)`,
        columns: ['nodes', 'jobs/s (median)', 'vs 1 node'],
        rows: [1, 2, 3].map((n) => [String(n), median(rates[n]!).toFixed(0), ratio(median(rates[n]!) / one)]),
      },
    ],
    notes: [
      'nodes are AgentHosts with their own cgroups and Workers with their own Redis connections, in the bench process (no monitor, no timeouts: the queue is what is measured)',
      `the time of a burst counts from the nodes' start to the last completed event, node start-up included`,
    ],
    data: { direct, viaQueue, rates },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
  const machine = describeMachine();
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(machineLine(machine));
  const env = await BenchEnv.open(machine, values.quick ? QUICK_SCALE : machine.vm ? VM_SCALE : NATIVE_SCALE);
  try {
    printSection(await fleet(env), log);
  } finally {
    await env.close();
  }
}
