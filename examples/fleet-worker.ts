/**
 * One node of a fleet: an AgentHost and an agent worker on the `agents` queue of a Redis server.
 * It fetches jobs only while this machine has room, and stops cleanly on Ctrl-C / SIGTERM
 * (running agents get 60 s to finish, then go back to the queue for another node).
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/fleet-worker.ts [--max-jobs N]
 * (`apt-get install redis-server` gives a local Redis; add jobs with examples/fleet-producer.ts.)
 */
import { hostname } from 'node:os';
import { AgentHost, formatBytes } from 'nova-agent-host';
import { createAgentWorker } from 'nova-agent-host/bullmq';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: url.hostname, port: Number(url.port || 6379) };
const maxIndex = process.argv.indexOf('--max-jobs');
const maxJobs = maxIndex > 0 ? Number(process.argv[maxIndex + 1]) : Infinity;
const slots = 8;

const host = await new AgentHost({ maxConcurrent: slots }).start();
// concurrency = maxConcurrent: BullMQ itself stops fetching when the host is full.
const worker = createAgentWorker(host, { queue: process.env.QUEUE ?? 'agents', connection, concurrency: slots, closeTimeout: '60s' });
console.error(`${hostname()}: fleet worker on ${url.host}, ${slots} slots (orphans of a previous run killed: ${(await worker.started).length})`);

worker.outcomes.on('fetching', (fetching, why) => console.error(fetching ? 'fetching again' : `holding back: ${why}`));
worker.outcomes.on('outcome', (e) => {
  console.error(`${e.id}: ${e.outcome} (${e.reason}) after ${e.queueWaitMs} ms in the queue${e.result ? `, peak ${formatBytes(e.result.peakMemory)}` : ''}`);
});
let done = 0;
worker.on('completed', () => {
  if (++done >= maxJobs) void stop();
});

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  return (stopping ??= (async () => {
    await worker.close();
    await host.dispose();
    console.error(`stopped after ${done} completed job(s)`);
  })());
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
