/**
 * check-agent-memory.sh: memory per agent (current, peak, working set, limit, % of limit, pids).
 *   npx tsx examples/check-agent-memory.ts
 */
import { AgentHost, formatMemoryReport } from 'nova-agent-host';

const host = new AgentHost();
await host.start();
try {
  for (const [id, mb] of [['agent-001', 8], ['agent-002', 32], ['agent-003', 64]] as const) {
    await host.spawn(id, { command: process.execPath, args: ['-e', `globalThis.b = Buffer.alloc(${mb} << 20, 1); setTimeout(() => {}, 5000)`] });
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  console.log(formatMemoryReport(host.memoryReport()));
} finally {
  await host.dispose();
}
