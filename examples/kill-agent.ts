/**
 * kill-agent.sh: stop an agent gracefully (SIGTERM, wait 10 s, SIGKILL) or at once with --force.
 *   npx tsx examples/kill-agent.ts [--force]
 */
import { AgentHost } from 'nova-agent-host';

const force = process.argv.includes('--force');
const host = new AgentHost({ killGrace: '10s' });
await host.start();
try {
  // An agent that finishes its work when asked to stop (it traps SIGTERM).
  const agent = await host.spawn('agent-123', { command: 'sh', args: ['-c', 'trap "echo saving state; exit 0" TERM; while :; do sleep 0.1; done'], stdio: 'inherit' });
  const started = Date.now();
  const result = await host.kill(agent.id, { force });
  console.log(`agent-123: ${result.reason}, exit code ${result.exitCode}, signal ${result.signal}, after ${Date.now() - started} ms`);
} finally {
  await host.dispose();
}
