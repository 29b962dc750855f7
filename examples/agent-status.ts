/**
 * agent-status.sh: the full overview — host memory, agents by state, each agent's row, OOM counts, the queue.
 *   npx tsx examples/agent-status.ts
 */
import { AgentHost, formatStatus } from 'nova-agent-host';

const host = new AgentHost({ maxConcurrent: 2 });
await host.start();
try {
  // Three spawns, two slots: the third waits in the queue.
  const spawns = ['agent-001', 'agent-002', 'agent-003'].map((id) => host.spawn(id, { command: 'sleep', args: ['2'] }));
  await new Promise((resolve) => setTimeout(resolve, 500));
  console.log(formatStatus(host.status()));
  console.log('\nas JSON:', JSON.stringify(host.status().counts));
  await Promise.all(spawns);
} finally {
  await host.dispose();
}
