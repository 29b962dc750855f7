/**
 * spawn-agent.sh: start an agent with memory isolation and wait for it.
 *   npx tsx examples/spawn-agent.ts agent-001 /path/to/workspace cargo build
 */
import { AgentHost, formatBytes } from 'nova-agent-host';

const [id = 'agent-001', cwd = process.cwd(), command = 'sh', ...args] = process.argv.slice(2);
const host = new AgentHost();
await host.start();
try {
  const agent = await host.spawn(id, {
    command,
    args: command === 'sh' && args.length === 0 ? ['-c', 'echo hello from $NOVA_AGENT_ID; cat /proc/self/cgroup'] : args,
    cwd,
    stdio: 'inherit',
  });
  console.error(`${id}: pid ${agent.pid}, cgroup ${agent.cgroup}`);
  const result = await agent.result;
  console.error(`${id}: ${result.reason}, exit code ${result.exitCode}, peak ${formatBytes(result.peakMemory)}, ${result.durationMs} ms`);
  process.exitCode = result.exitCode ?? 1;
} finally {
  await host.dispose();
}
