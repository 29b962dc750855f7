/**
 * Fake agents for MemoryMonitor unit tests: cgroups in a fake cgroupfs tree (v1 or v2 files,
 * rewritten by the test to play the kernel), a MonitorHost over a Map, and a host memory
 * figure the test sets directly.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import type { HostMemory, MonitoredAgent, MonitorHost, ReliefKill } from '../../../src/monitor/types.js';
import { fakeTree, type FakeTree } from '../../helpers/fake-tree.js';

export interface FakeFigures {
  current?: number;
  inactiveFile?: number;
  /** memory.events `high` (v2). */
  high?: number;
  oomKill?: number;
  /** PSI full avg10 (v2). */
  full?: number;
  /** cgroup.events `populated` (v2): 1 while processes are left. */
  populated?: number;
}

export interface FakeCgroups {
  tree: FakeTree;
  version: 1 | 2;
  /** Creates (or rewrites) cgroup `name` with these figures. */
  set(name: string, figures: FakeFigures): Cgroup;
}

export function fakeCgroups(version: 1 | 2): FakeCgroups {
  const tree = fakeTree(version === 2 ? { 'cg/': '' } : { 'v1/memory/': '', 'v1/pids/': '', 'v1/freezer/': '' });
  const hierarchy: CgroupHierarchy =
    version === 2
      ? { mode: 'unified', version: 2, mounts: { unified: tree.path('cg') }, own: { unified: tree.path('cg') }, readOnly: [] }
      : {
          mode: 'hybrid',
          version: 1,
          mounts: { memory: tree.path('v1/memory'), pids: tree.path('v1/pids'), freezer: tree.path('v1/freezer') },
          own: { memory: tree.path('v1/memory'), pids: tree.path('v1/pids'), freezer: tree.path('v1/freezer') },
          readOnly: [],
        };
  const root = Cgroup.self({ hierarchy });
  const figures = new Map<string, Required<FakeFigures>>();
  return {
    tree,
    version,
    set(name, update) {
      const f = { current: 0, inactiveFile: 0, high: 0, oomKill: 0, full: 0, populated: 0, ...figures.get(name), ...update };
      figures.set(name, f);
      if (version === 2) {
        tree.add({
          [`cg/${name}/memory.current`]: `${f.current}\n`,
          [`cg/${name}/memory.events`]: `low 0\nhigh ${f.high}\nmax 0\noom ${f.oomKill}\noom_kill ${f.oomKill}\noom_group_kill 0\n`,
          [`cg/${name}/memory.pressure`]: `some avg10=${f.full.toFixed(2)} avg60=0.00 avg300=0.00 total=1\nfull avg10=${f.full.toFixed(2)} avg60=0.00 avg300=0.00 total=1\n`,
          [`cg/${name}/memory.stat`]: `anon ${f.current - f.inactiveFile}\nfile ${f.inactiveFile}\ninactive_file ${f.inactiveFile}\n`,
          [`cg/${name}/cgroup.events`]: `populated ${f.populated}\nfrozen 0\n`,
        });
      } else {
        tree.add({
          [`v1/memory/${name}/memory.usage_in_bytes`]: `${f.current}\n`,
          [`v1/memory/${name}/memory.oom_control`]: `oom_kill_disable 0\nunder_oom 0\noom_kill ${f.oomKill}\n`,
          [`v1/memory/${name}/memory.failcnt`]: '0\n',
          [`v1/memory/${name}/memory.stat`]: `cache ${f.inactiveFile}\nrss ${f.current}\ntotal_inactive_file ${f.inactiveFile}\n`,
          [`v1/pids/${name}/`]: '',
          [`v1/freezer/${name}/`]: '',
        });
      }
      return root.child(name);
    },
  };
}

export interface KillCall {
  id: string;
  info: ReliefKill;
  /** Date.now() when the host was asked. */
  at: number;
}

/** A MonitorHost over a Map; a kill removes the agent and runs `onKill` (to lower "used"). */
export class FakeHost implements MonitorHost {
  /** pause()/resume() calls, in order: `pause:id` / `resume:id`. */
  readonly pauses: string[] = [];
  pause?: MonitorHost['pause'];
  resume?: MonitorHost['resume'];

  /** Lets the monitor freeze and thaw agents: `pausedAt` set and cleared as a host would. */
  withPause(): this {
    this.pause = async (id, info) => {
      this.pauses.push(`pause:${id}`);
      const agent = this.map.get(id);
      if (agent) this.map.set(id, { ...agent, pausedAt: Date.now() });
      void info;
    };
    this.resume = async (id) => {
      this.pauses.push(`resume:${id}`);
      const agent = this.map.get(id);
      if (agent) this.map.set(id, { ...agent, pausedAt: undefined });
    };
    return this;
  }

  readonly map = new Map<string, MonitoredAgent>();
  readonly kills: KillCall[] = [];
  /** Ids whose kill rejects. */
  readonly failing = new Set<string>();
  onKill: (id: string) => void = () => {};

  add(agent: MonitoredAgent): this {
    this.map.set(agent.id, agent);
    return this;
  }

  agents(): Iterable<MonitoredAgent> {
    return this.map.values();
  }

  async kill(id: string, info: ReliefKill): Promise<void> {
    this.kills.push({ id, info, at: Date.now() });
    if (this.failing.has(id)) throw new Error(`cannot kill ${id}`);
    this.map.delete(id);
    this.onKill(id);
  }
}

/** A settable host memory figure: `usedRatio` of a 100 GiB machine. */
export class FakeMemory {
  static readonly TOTAL = 100 * 1024 ** 3;
  usedRatio = 0.5;
  reads = 0;
  full: number | undefined;

  /** Thrown by the next reads instead of a figure. */
  failure: Error | undefined;

  read = (): HostMemory => {
    this.reads++;
    if (this.failure) throw this.failure;
    const used = Math.round(this.usedRatio * FakeMemory.TOTAL);
    return {
      total: FakeMemory.TOTAL,
      available: FakeMemory.TOTAL - used,
      used,
      usedRatio: used / FakeMemory.TOTAL,
      ...(this.full !== undefined && {
        pressure: { some: { avg10: this.full, avg60: 0, avg300: 0, total: 0 }, full: { avg10: this.full, avg60: 0, avg300: 0, total: 0 } },
      }),
    };
  };
}

/** File descriptors of this process open on files below `root`. */
export function openFdsBelow(root: string): string[] {
  const found: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(`${root}/`)) found.push(target);
    } catch {
      // Closed while we looked (the readdir's own fd).
    }
  }
  return found;
}
