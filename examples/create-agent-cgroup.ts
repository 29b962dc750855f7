/**
 * create-agent-cgroup.sh: the low-level Cgroup API — create a cgroup with the seed's limits,
 * run a command in it, read its stats, remove it.
 *   npx tsx examples/create-agent-cgroup.ts
 */
import { Cgroup, DEFAULT_AGENT_LIMITS, formatBytes } from 'nova-agent-host';

const parent = Cgroup.self();
console.log(`cgroup mode: ${parent.hierarchy.mode}, driver v${parent.version}, this process in ${parent.path}`);
const cgroup = Cgroup.create(parent, `agent-example-${process.pid}`, { limits: DEFAULT_AGENT_LIMITS });
try {
  const child = cgroup.spawn('sh', ['-c', 'cat /proc/self/cgroup; sleep 0.5']);
  await cgroup.joined(child);
  const { memory, pids } = cgroup.stats();
  console.log(`${cgroup.path}: memory.max ${formatBytes(memory.max)}, high ${formatBytes(memory.high)}, pids.max ${pids.max}, procs ${cgroup.procs().join(' ')}`);
  await child;
} finally {
  await cgroup.delete();
}
console.log(`removed: ${!cgroup.exists()}`);
