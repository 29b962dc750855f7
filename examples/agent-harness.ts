/**
 * The agent's side of memory (issue 4): a harness that watches its own cgroup in-process, as the
 * seed's `should_reduce_memory_usage()` does. Its "work" produces results it would like to keep
 * in a cache; it caches only while there is room, and halves the cache when `onPressure` says the
 * cgroup crossed 80 % of its limit. It imports only `nova-agent-host/agent` (no dependencies).
 *
 *   npx tsx examples/agent-harness.ts        # outside any limit: max unlimited, never pressed
 *
 * Under a limit, the way an orchestrator starts it (AgentHost sets NOVA_AGENT_CGROUP for it):
 *
 *   await host.spawn('agent-001', { command: process.execPath, args: ['--import', 'tsx', 'examples/agent-harness.ts'],
 *     limits: { memoryMax: '256M' }, stdio: 'inherit' });
 *
 * or by hand on a systemd host: `systemd-run --scope -p MemoryMax=256M npx tsx examples/agent-harness.ts`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryUsage, onPressure, shouldReduceMemoryUsage, type MemoryUsage } from 'nova-agent-host/agent';

const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : 'unlimited');
const describe = (u: MemoryUsage): string =>
  `${mib(u.current)} of ${mib(u.max)} (${(u.ratio * 100).toFixed(0)} %)` + (u.pressure === undefined ? '' : `, PSI some avg10 ${u.pressure}`);

const start = memoryUsage();
console.log(`cgroup: ${start.cgroup ?? '(none: no memory cgroup here)'}${start.version ? ` (v${start.version})` : ''}`);
console.log(`start: ${describe(start)}, memory.high ${mib(start.high)}`);

// Results sized so that, under a limit, the cache alone could outgrow it; without one, a fixed
// size and a bounded count (the seed: "DON'T cache unbounded data").
const CHUNK = Number.isFinite(start.max) ? Math.max(1 << 20, Math.floor(start.max / 64)) : 2 << 20;
const STEPS = 120;
const cache = new Map<number, Buffer>();
let skipped = 0;

const pressure = onPressure(
  (event) => {
    console.log(`pressure ${event.state}: ${describe(event.usage)}`);
    if (event.state !== 'above') return;
    // Drop the older half; the buffers go back to the kernel once the garbage collector frees them.
    const drop = Math.ceil(cache.size / 2);
    for (const key of [...cache.keys()].slice(0, drop)) cache.delete(key);
    console.log(`  dropped ${drop} cached results, ${cache.size} left`);
  },
  { threshold: 0.8, intervalMs: 100 },
);

try {
  for (let step = 0; step < STEPS; step++) {
    const result = Buffer.alloc(CHUNK, step & 0xff); // the work: touches every page it allocates
    // The seed's check, before keeping anything more (below the pressure threshold, so the cache
    // stops growing before onPressure has to cut it).
    if (shouldReduceMemoryUsage(0.7) || cache.size >= 100) skipped++;
    else cache.set(step, result);
    await sleep(10);
  }
} finally {
  pressure.close();
}
console.log(`done: ${STEPS} steps of ${mib(CHUNK)}, ${cache.size} results cached, ${skipped} not cached for lack of room`);
console.log(`end: ${describe(memoryUsage())}`);
