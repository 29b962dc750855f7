/**
 * emergency-memory-relief.sh [target]: kill agents until host memory is below the target (default 75 %):
 * the fewest, in the order preferred first, then lowest priority, then largest working set, whose
 * working sets cover the excess; protected agents never; memory is re-read once their cgroups are
 * empty. `--dry-run` only says what it would kill.
 *
 * On a healthy host nothing needs killing, so this demo asks for a target just below the current use.
 *   npx tsx examples/emergency-memory-relief.ts [targetPercent] [--dry-run]
 */
import { parseArgs } from 'node:util';
import { AgentHost, formatBytes } from 'nova-agent-host';

const { values, positionals } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } }, allowPositionals: true });
const host = new AgentHost();
await host.start();
try {
  const spawnHog = (id: string, mb: number, extra: { priority?: number; protected?: boolean } = {}) =>
    host.spawn(id, { command: process.execPath, args: ['-e', `globalThis.b = Buffer.alloc(${mb} << 20, 1); setTimeout(() => {}, 60_000)`], ...extra });
  await spawnHog('build-1', 256, { priority: 1 });
  await spawnHog('tests-1', 512);
  await spawnHog('lint-1', 64);
  await spawnHog('orchestrator-helper', 128, { protected: true });
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const memory = host.monitor!.hostMemory();
  const target = positionals[0] === undefined ? Math.max(1, memory.usedRatio * 100 - 2) : Number(positionals[0]);
  console.log(`host memory ${(memory.usedRatio * 100).toFixed(1)}% used; relieving down to ${target.toFixed(1)}%${values['dry-run'] ? ' (dry run)' : ''}`);
  const report = await host.relieve({ targetPercent: target, dryRun: values['dry-run'] });
  for (const kill of report.kills) {
    console.log(`  ${values['dry-run'] ? 'would kill' : 'killed'} ${kill.id} (priority ${kill.priority}, working set ${formatBytes(kill.workingSet)})`);
  }
  console.log(`outcome: ${report.outcome}; now ${(report.after.usedRatio * 100).toFixed(1)}% used`);
} finally {
  await host.dispose();
}
