/** The producer side: adding agent jobs to a queue with their data checked. */
import type { Job, JobsOptions, Queue } from 'bullmq';
import { validateJobData, type AgentJobData, type AgentJobResult } from './job.js';

/**
 * Adds one agent job to `queue` (a BullMQ `Queue`). The job's id is the agent's `id` (unless
 * `opts.jobId` says otherwise — then a restarted node cannot recognise its orphans), so adding the
 * same agent twice adds it once. The data is checked first: `ERR_INVALID_OPTION` /
 * `ERR_INVALID_NAME` for what no node could run. `data.priority` orders agents on the node; the
 * queue's order is BullMQ's `opts.priority`.
 *
 * @example
 * ```ts
 * const queue = new Queue('agents', { connection });
 * await enqueueAgent(queue, { id: 'agent-001', command: 'cargo', args: ['build'], limits: { memoryMax: '2G' } }, { attempts: 3 });
 * ```
 */
export async function enqueueAgent(
  queue: Pick<Queue<AgentJobData, AgentJobResult>, 'add'>,
  data: AgentJobData,
  opts: JobsOptions = {},
): Promise<Job<AgentJobData, AgentJobResult>> {
  validateJobData(data);
  return queue.add(data.id, data, { jobId: data.id, ...opts });
}
