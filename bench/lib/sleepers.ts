/** Live agent cgroups for the monitor benches: each with the seed's limits and one `sleep` in it. */
import { Cgroup, DEFAULT_AGENT_LIMITS, type Subprocess } from '../../src/index.js';

export interface Sleeper {
  id: string;
  cgroup: Cgroup;
  priority: number;
  subprocess: Subprocess;
}

export class Sleepers {
  readonly list: Sleeper[] = [];
  readonly #parent: Cgroup;

  constructor(parent: Cgroup) {
    this.#parent = parent;
  }

  /** Adds sleepers until there are `count`, `batch` spawns at a time. */
  async grow(count: number, batch = 50): Promise<void> {
    while (this.list.length < count) {
      const size = Math.min(batch, count - this.list.length);
      const added = await Promise.all(
        Array.from({ length: size }, async () => {
          const id = `s${this.list.length + Math.random().toString(36).slice(2, 8)}`;
          const cgroup = Cgroup.create(this.#parent, id, { limits: DEFAULT_AGENT_LIMITS });
          const subprocess = cgroup.spawn('sleep', ['3600']);
          await cgroup.joined(subprocess);
          return { id, cgroup, priority: 0, subprocess };
        }),
      );
      for (const sleeper of added) {
        sleeper.priority = this.list.length % 3;
        this.list.push(sleeper);
      }
    }
  }

  /** Kills the sleepers (by the pids we started) and removes their cgroups. */
  async close(): Promise<void> {
    const all = this.list.splice(0);
    for (const s of all) s.subprocess.kill('SIGKILL');
    await Promise.all(all.map((s) => s.subprocess));
    for (const s of all) await s.cgroup.delete();
  }
}
