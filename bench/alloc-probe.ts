/**
 * How many bytes an idle host allocates per tick at 300 agents: the monitor's tick and the v1
 * watchers' poll over a fake cgroupfs tree (the same files, plain tmpfs), measured as heap growth
 * with V8's young generation made big enough that no collection runs in between. What keeps V8's
 * young generation (and the orchestrator's RSS) large on an idle host is this per-second garbage.
 *
 *   node --import tsx --expose-gc --min-semi-space-size=64 bench/alloc-probe.ts [--src DIR] [--agents 300] [--ticks 60] [--version 1|2]
 *
 * `--src` points at another checkout's src/ to compare before and after a change side by side.
 * The agents are listed by a Map of ready-made entries, so the host's own listing is not counted.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { src: { type: 'string' }, agents: { type: 'string' }, ticks: { type: 'string' }, version: { type: 'string' } } });
const src = resolve(values.src ?? new URL('../src', import.meta.url).pathname);
const agents = Number(values.agents ?? 300);
const ticks = Number(values.ticks ?? 60);
const version = Number(values.version ?? 1) as 1 | 2;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const { Cgroup } = (await import(join(src, 'cgroup/cgroup.ts'))) as typeof import('../src/cgroup/cgroup.js');
const { MemoryMonitor } = (await import(join(src, 'monitor/monitor.ts'))) as typeof import('../src/monitor/monitor.js');

const root = mkdtempSync(join(tmpdir(), 'nova-alloc-'));
const file = (path: string, content: string): void => {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), content);
};
file('proc/meminfo', 'MemTotal:       24683236 kB\nMemFree:        1000000 kB\nMemAvailable:   20380000 kB\nBuffers:  1 kB\nCached:  2 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n'.repeat(1));
file('proc/pressure/memory', 'some avg10=0.00 avg60=0.00 avg300=0.00 total=12\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n');
const keys = version === 2 ? (['unified'] as const) : (['memory', 'pids', 'freezer'] as const);
const mounts = Object.fromEntries(keys.map((key) => [key, join(root, 'cg', key)]));
for (const dir of Object.values(mounts)) mkdirSync(dir, { recursive: true });
const hierarchy = { mode: version === 2 ? 'unified' : 'hybrid', version, mounts, own: mounts, readOnly: [] } as never;
const parent = Cgroup.self({ hierarchy });
const list: import('../src/monitor/types.js').MonitoredAgent[] = [];
for (let i = 0; i < agents; i++) {
  const name = `agent-${i}`;
  if (version === 2) {
    const d = `cg/unified/${name}`;
    file(`${d}/memory.current`, '1048576\n');
    file(`${d}/memory.events`, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n');
    file(`${d}/memory.pressure`, 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n');
    file(`${d}/cgroup.events`, 'populated 1\nfrozen 0\n');
    file(`${d}/cgroup.procs`, `${1000 + i}\n`);
  } else {
    const d = `cg/memory/${name}`;
    file(`${d}/memory.usage_in_bytes`, '1048576\n');
    file(`${d}/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
    file(`${d}/memory.failcnt`, '0\n');
    file(`${d}/memory.memsw.failcnt`, '0\n');
    file(`${d}/cgroup.procs`, `${1000 + i}\n`);
    file(`cg/pids/${name}/cgroup.procs`, `${1000 + i}\n`);
    file(`cg/freezer/${name}/cgroup.procs`, `${1000 + i}\n`);
  }
  list.push({ id: name, cgroup: parent.child(name), priority: 0, protected: false });
}
gc();
const empty = process.memoryUsage().heapUsed;
const watchers = list.map((agent) => agent.cgroup.watch({ pollInterval: 0 }));
const monitor = new MemoryMonitor(
  { agents: () => list, kill: async () => {} },
  { procRoot: join(root, 'proc'), cgroup: false as never, interval: 1000 },
);
const tick = async (): Promise<void> => {
  await monitor.tick();
  for (const watcher of watchers) watcher.check();
};

for (let i = 0; i < 10; i++) await tick(); // warm up: open the files, let V8 optimize
gc();
const before = process.memoryUsage().heapUsed;
const retained = (before - empty) / agents;
for (let i = 0; i < ticks; i++) await tick();
const after = process.memoryUsage().heapUsed;
const perTick = (after - before) / ticks;
console.log(
  `cgroup v${version}, ${agents} agents, ${ticks} ticks (monitor tick + every watcher's check): ` +
    `${(perTick / 1024).toFixed(1)} KB per tick, ${(perTick / agents).toFixed(0)} bytes per agent per tick; ` +
    `watchers and trackers hold ${(retained / 1024).toFixed(1)} KB per agent  [${src}]`,
);
for (const watcher of watchers) watcher.close();
monitor.stop();
rmSync(root, { recursive: true, force: true });
