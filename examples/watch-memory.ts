/**
 * watch-memory.sh [--auto-kill]: continuous memory monitoring — one line per sample, level changes,
 * throttled agents, and (with --auto-kill) kills by the victim policy while memory is critical.
 * Here it runs three agents for a few seconds; `--seconds N` watches longer.
 *
 *   npx tsx examples/watch-memory.ts [--auto-kill] [--seconds 5]
 */
import { parseArgs } from 'node:util';
import { AgentHost, formatBytes } from 'nova-agent-host';

const { values } = parseArgs({ options: { 'auto-kill': { type: 'boolean', default: false }, seconds: { type: 'string', default: '5' } } });
const host = new AgentHost({ monitor: { interval: '1s', autoKill: values['auto-kill'] } });
host.on('pressure', (e) => console.log(`pressure: ${JSON.stringify(e.scope === 'host' ? { scope: e.scope, level: e.level } : { scope: e.scope, kind: e.kind, id: e.id })}`));
host.on('kill', (agent, e) => console.log(`killed ${agent.id}: ${e.reason}`));
await host.start();
const monitor = host.monitor!;
monitor.on('sample', ({ memory, level }) => {
  const agents = host.memoryReport();
  console.log(
    `${new Date().toISOString()} host ${formatBytes(memory.used)}/${formatBytes(memory.total)} ` +
      `(${(memory.usedRatio * 100).toFixed(1)}%, ${level}) agents ${agents.agents.length} using ${formatBytes(agents.total.current)}`,
  );
});
try {
  for (const [id, mb] of [['agent-001', 16], ['agent-002', 64], ['agent-003', 128]] as const) {
    await host.spawn(id, { command: process.execPath, args: ['-e', `globalThis.b = Buffer.alloc(${mb} << 20, 1); setTimeout(() => {}, 60_000)`] });
  }
  await new Promise((resolve) => setTimeout(resolve, Number(values.seconds) * 1000));
} finally {
  await host.dispose();
}
