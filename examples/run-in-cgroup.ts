/**
 * run-in-cgroup.sh: run another command inside an existing agent's cgroup (it shares the agent's limits).
 *   npx tsx examples/run-in-cgroup.ts
 */
import { AgentHost } from 'nova-agent-host';

const host = new AgentHost();
await host.start();
try {
  const agent = await host.spawn('agent-001', { command: 'sleep', args: ['5'] });
  const result = await host.exec(agent.id, 'sh', ['-c', 'echo "running in $(cut -d: -f3 /proc/self/cgroup | sort -u | tr "\\n" " ")"'], { stdio: ['ignore', 'pipe', 'inherit'], buffer: true });
  console.log(String(result.stdout).trim());
  console.log(`agent's processes now: ${agent.cgroup?.procs().length}`);
} finally {
  await host.dispose();
}
