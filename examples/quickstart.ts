/**
 * Quickstart: three agents on this host, each in its own memory-limited cgroup.
 *   - "tidy" behaves and exits on its own;
 *   - "hog" allocates past its 128M limit and is OOM-killed — alone;
 *   - "slow" runs too long and is killed gracefully (SIGTERM, then SIGKILL after the grace period).
 *
 * Run: npm run quickstart   (as root, or inside a delegated cgroup subtree)
 */
import { AgentHost, formatBytes, formatStatus } from 'nova-agent-host';

const node = process.execPath;
const host = new AgentHost({ killGrace: '2s' });
host.on('spawn', (agent) => console.log(`spawned ${agent.id} (pid ${agent.pid}) in ${agent.cgroup}`));
host.on('oom', (agent, e) => console.log(`OOM kill in ${agent.id}: ${e.count} process(es) killed by the kernel`));
host.on('kill', (agent, e) => console.log(`killing ${agent.id} (${e.reason}${e.force ? ', forced' : ', graceful'})`));
host.on('exit', (agent, r) =>
  console.log(`${agent.id} ended: reason=${r.reason} exitCode=${r.exitCode} signal=${r.signal} peak=${formatBytes(r.peakMemory)}`),
);

await host.start();
try {
  const tidy = await host.spawn('tidy', { command: node, args: ['-e', 'setTimeout(() => console.log("done"), 1500)'] });
  const hog = await host.spawn('hog', {
    command: node,
    // Touches 512 MiB page by page: the kernel stops it at memory.max.
    args: ['-e', 'const b = []; for (let i = 0; i < 64; i++) b.push(Buffer.alloc(8 << 20, 1));'],
    limits: { memoryMax: '128M', memoryHigh: 'max' },
  });
  const slow = await host.spawn('slow', { command: 'sh', args: ['-c', 'trap "" TERM; sleep 60'] });

  await new Promise((resolve) => setTimeout(resolve, 500));
  console.log(`\n${formatStatus(host.status())}\n`);

  await host.kill(slow.id); // graceful: SIGTERM is ignored, so SIGKILL follows after 2 s
  const results = await Promise.all([tidy.result, hog.result, slow.result]);
  const ok = results[0].reason === 'exit' && results[1].reason === 'oom' && results[2].reason === 'killed';
  console.log(ok ? '\nquickstart: OK — the hog died alone, its neighbours were unaffected' : '\nquickstart: unexpected results');
  process.exitCode = ok ? 0 : 1;
} finally {
  await host.dispose();
}
