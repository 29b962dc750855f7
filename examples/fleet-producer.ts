/**
 * Adds agent jobs to the fleet's `agents` queue and waits for their results, from whichever node
 * runs them. Each job is an agent: a command with its limits, run on a node with room.
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/fleet-producer.ts [count]
 * (Run examples/fleet-worker.ts on one or more machines against the same Redis.)
 */
import { Queue, QueueEvents } from 'bullmq';
import { formatBytes } from 'nova-agent-host';
import { enqueueAgent, type AgentJobData, type AgentJobResult } from 'nova-agent-host/bullmq';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: url.hostname, port: Number(url.port || 6379) };
const count = Number(process.argv[2] ?? 3);
const name = process.env.QUEUE ?? 'agents';

const queue = new Queue<AgentJobData, AgentJobResult>(name, { connection });
const events = new QueueEvents(name, { connection });
await events.waitUntilReady();
try {
  const run = `${Date.now().toString(36)}`;
  const jobs = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      enqueueAgent(
        queue,
        {
          id: `example-${run}-${i}`,
          command: 'sh',
          args: ['-c', `echo "agent $NOVA_AGENT_ID on $(hostname)"; sleep 0.${i % 10}`],
          limits: { memoryMax: '256M', memoryHigh: '192M' },
          timeouts: { soft: '1m', hard: '2m' },
        },
        // A relief kill or a crashed node: up to 3 attempts, 1 s apart then more.
        { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000 },
      ),
    ),
  );
  console.error(`added ${jobs.length} job(s) to ${name}`);
  for (const job of jobs) {
    try {
      const result = await job.waitUntilFinished(events, 120_000);
      console.error(`${result.id}: ${result.reason} exit ${result.exitCode} on ${result.node}, ${result.durationMs} ms, peak ${formatBytes(result.peakMemory)}`);
    } catch (error) {
      console.error(`${job.id}: failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  }
} finally {
  await events.close();
  await queue.close();
}
