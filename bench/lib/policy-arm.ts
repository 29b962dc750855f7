/**
 * The new defaults of "lose no work" driven from the bench, until the host calls them itself: a
 * MemoryMonitor over a bench-side MonitorHost that freezes and thaws agents' cgroups (pause before
 * kill), announces non-emergency kills (the notice signal, a grace, then the kill; at once when
 * critical is reached), and an admission gate that starts an agent only when its expected peak
 * fits (admitByMemory over a PeakBook learning from completed agents). The host's wiring will do
 * the same through AgentRun; this arm shows what the policies achieve meanwhile.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Cgroup, MemoryMonitor, parseSize, type Limits, type MonitoredAgent, type MonitorHost, type ReliefKill } from '../../src/index.js';
import { admitByMemory } from '../../src/host/memory-admission.js';
import { PeakBook } from '../../src/host/peaks.js';

export interface PolicyAgent {
  id: string;
  profile: string;
  command: string;
  args: string[];
}

export interface PolicyOutcome {
  pid: number | undefined;
  completed: boolean;
  /** Killed by the monitor: after a notice (`evicted`) or at once (`relief`). */
  killed: 'evicted' | 'relief' | undefined;
}

interface Live {
  agent: MonitoredAgent & { pausedAt?: number; startedAt: number };
  pid: number | undefined;
  grace?: AbortController;
  killed?: 'evicted' | 'relief';
}

/** Starts agents through the admission gate under a running monitor; `close()` stops it all. */
export class PolicyRunner {
  readonly #parent: Cgroup;
  readonly #limits: Limits;
  readonly #live = new Map<string, Live>();
  readonly #waiting: Array<{ spec: PolicyAgent; admit: () => void }> = [];
  readonly #peaks = new PeakBook(undefined);
  /** The profile of each admitted agent. */
  readonly #profiles = new Map<string, string>();
  readonly #monitor: MemoryMonitor;
  readonly #gate: NodeJS.Timeout;
  evictions = 0;

  constructor(parent: Cgroup, limits: Limits) {
    this.#parent = parent;
    this.#limits = limits;
    const host: MonitorHost = {
      agents: () => [...this.#live.values()].filter((l) => l.killed === undefined).map((l) => l.agent),
      kill: (id, info) => this.#kill(id, info),
      pause: async (id) => {
        const live = this.#live.get(id);
        if (!live) return;
        await live.agent.cgroup.freeze();
        live.agent.pausedAt = Date.now();
      },
      resume: async (id) => {
        const live = this.#live.get(id);
        if (!live) return;
        await live.agent.cgroup.thaw();
        live.agent.pausedAt = undefined;
      },
    };
    this.#monitor = new MemoryMonitor(host, { autoKill: true });
    // At critical a notice's grace is over: whoever was noticed goes at once.
    this.#monitor.on('pressure', (event) => {
      if (event.scope === 'host' && event.level === 'critical') for (const live of this.#live.values()) live.grace?.abort();
    });
    this.#monitor.start();
    this.#gate = setInterval(() => this.#admit(), 250);
  }

  /** Waits for admission, runs the agent, resolves with how it ended. */
  async run(spec: PolicyAgent): Promise<PolicyOutcome> {
    await new Promise<void>((admit) => {
      this.#waiting.push({ spec, admit });
      this.#admit();
    });
    const cgroup = Cgroup.create(this.#parent, spec.id, { limits: this.#limits });
    const child = cgroup.spawn(spec.command, spec.args, { stdio: 'ignore' });
    const live: Live = { agent: { id: spec.id, cgroup, priority: 0, startedAt: Date.now() }, pid: undefined };
    this.#live.set(spec.id, live);
    live.pid = await cgroup.joined(child).catch(() => undefined);
    const result = await child;
    const completed = result.exitCode === 0 && live.killed === undefined;
    if (completed) this.#peaks.record(spec.profile, cgroup.peakMemory() ?? 0);
    this.#live.delete(spec.id);
    this.#profiles.delete(spec.id);
    await cgroup.delete().catch(() => undefined);
    this.#admit();
    return { pid: live.pid, completed, killed: live.killed };
  }

  /** Admits waiting agents, first come first served, while the next one's expected peak fits. */
  #admit(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      const memory = this.#monitor.hostMemory();
      const running = [...this.#live.values()].map((l) => {
        const current = l.agent.cgroup.exists() ? l.agent.cgroup.stats().memory.current : 0;
        return { id: l.agent.id, workingSet: current, expected: this.#expected(this.#profiles.get(l.agent.id) ?? ''), current };
      });
      const baseline = memory.used - running.reduce((sum, r) => sum + r.current, 0);
      const decision = admitByMemory({
        budget: memory.total,
        high: this.#monitor.thresholds.high,
        baseline,
        running,
        candidate: { id: next.spec.id, expected: this.#expected(next.spec.profile) },
      });
      if (!decision.admit) return;
      this.#waiting.shift();
      this.#profiles.set(next.spec.id, next.spec.profile);
      next.admit();
    }
  }

  #expected(profile: string): number {
    return this.#peaks.expected({ profile, memoryHigh: parseSize(this.#limits.memoryHigh ?? 'max'), memoryMax: parseSize(this.#limits.memoryMax ?? 'max') }).bytes;
  }

  async #kill(id: string, info: ReliefKill): Promise<void> {
    const live = this.#live.get(id);
    if (!live) throw new Error(`no agent ${id}`);
    const cgroup = live.agent.cgroup;
    if (info.eviction) {
      live.killed = 'evicted';
      this.evictions++;
      // A frozen agent cannot hear its notice: thawed first.
      if (live.agent.pausedAt !== undefined) await cgroup.thaw();
      cgroup.signal(info.eviction.signal);
      live.grace = new AbortController();
      await sleep(info.eviction.graceMs, undefined, { signal: live.grace.signal }).catch(() => undefined);
    } else {
      live.killed = 'relief';
    }
    await cgroup.kill();
  }

  async close(): Promise<void> {
    clearInterval(this.#gate);
    this.#monitor.stop();
    for (const live of this.#live.values()) await live.agent.cgroup.kill().catch(() => undefined);
  }
}
