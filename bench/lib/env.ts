/**
 * The bench's sandbox: one cgroup below this process's own (never anywhere else), a temp dir
 * for state files, and cleanup that runs on success, failure and Ctrl-C alike.
 *
 * The bench's top cgroup is placed by AgentHost's own placement rules (a `nova-bench-<pid>` root
 * below Cgroup.self()): on v1 and in a true v2 root that is a plain child; in a delegated v2
 * cgroup that holds processes (the VM's `--systemd` job service) the library first moves this
 * process into a supervisor leaf, as it would for any orchestrator, so the bench can create
 * limited children at all ("no internal processes").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AgentHost, Cgroup, type AgentHostOptions } from '../../src/index.js';
import { isAlive } from '../../src/host/workspaces.js';
import type { Machine } from './machine.js';

export const BENCH_PREFIX = 'nova-bench';

/** How much work each section does; scaled down in the (software-emulated) VM and with --quick. */
export interface Scale {
  /** Lifecycle: rounds (each variant once per round, side by side) and operations per variant per round. */
  rounds: number;
  perRound: number;
  warmup: number;
  /** Burst: agents and repetitions. */
  burst: number;
  burstRuns: number;
  burstSleep: number;
  /** Monitor tick: live cgroups per step and ticks measured per step. */
  tickCounts: number[];
  ticks: number;
  /** OOM latency samples, per mode. */
  oomRuns: number;
  /** Relief latency samples. */
  reliefRuns: number;
  /** RSS: agents managed at once, then spawn/exit cycles, in parallel batches. */
  rssAgents: number;
  cycles: number;
  cycleConcurrency: number;
  /** Also measure RSS with V8's young generation capped (a second orchestrator run). */
  rssCapped: boolean;
  /**
   * RSS: seconds before the second reading after the burst and after the cycles (V8 may shrink
   * its young generation once allocation calms down), and pairs of runs, the bare orchestrator
   * beside the library's.
   */
  rssSettle: number;
  rssRuns: number;
  /** Breakdown: operations per step. */
  breakdownOps: number;
}

export const NATIVE_SCALE: Scale = {
  rounds: 7,
  perRound: 40,
  warmup: 5,
  burst: 300,
  burstRuns: 3,
  burstSleep: 5,
  tickCounts: [100, 300, 500],
  ticks: 20,
  oomRuns: 12,
  reliefRuns: 10,
  rssAgents: 300,
  cycles: 10_000,
  cycleConcurrency: 8,
  rssCapped: true,
  rssSettle: 30,
  rssRuns: 1,
  breakdownOps: 200,
};

/** The VM emulates its CPUs in software (TCG): everything is 20–100× slower, so it does less of it. */
export const VM_SCALE: Scale = {
  rounds: 4,
  perRound: 8,
  warmup: 2,
  burst: 60,
  burstRuns: 1,
  burstSleep: 5,
  tickCounts: [100, 300, 500],
  ticks: 5,
  oomRuns: 20,
  reliefRuns: 5,
  rssAgents: 300,
  cycles: 200,
  cycleConcurrency: 8,
  rssCapped: false,
  rssSettle: 30,
  rssRuns: 1,
  breakdownOps: 25,
};

/**
 * A short run at the targets' scale where it is cheap (300 agents managed, a burst of 300, a tick
 * over 300): what `--compare` repeats to compare code before and after a change.
 */
export const QUICK_SCALE: Scale = {
  rounds: 5,
  perRound: 20,
  warmup: 3,
  burst: 300,
  burstRuns: 3,
  burstSleep: 5,
  tickCounts: [300],
  ticks: 10,
  oomRuns: 3,
  reliefRuns: 3,
  rssAgents: 300,
  cycles: 1000,
  cycleConcurrency: 8,
  rssCapped: false,
  rssSettle: 15,
  rssRuns: 1,
  breakdownOps: 30,
};

export class BenchEnv {
  /** The bench's top cgroup: every cgroup the bench makes is below it. */
  readonly top: Cgroup;
  readonly dir: string;
  readonly machine: Machine;
  readonly scale: Scale;
  readonly #placement: AgentHost;
  readonly #cleanups: (() => unknown)[] = [];
  #children = 0;
  #closed = false;

  private constructor(placement: AgentHost, dir: string, machine: Machine, scale: Scale) {
    this.#placement = placement;
    this.top = placement.root;
    this.dir = dir;
    this.machine = machine;
    this.scale = scale;
  }

  static async open(machine: Machine, scale: Scale): Promise<BenchEnv> {
    await removeStale();
    const dir = mkdtempSync(join(tmpdir(), `${BENCH_PREFIX}-`));
    // It only places the bench's cgroups: no monitor, and no limits on its root — a host's root below
    // it would otherwise take its system reserve and headroom out of what is left a second time.
    const placement = new AgentHost({ rootName: `${BENCH_PREFIX}-${process.pid}`, stateDir: join(dir, 'placement'), pollInterval: 0, agentsMemoryMax: false, monitor: false });
    await placement.start();
    const env = new BenchEnv(placement, dir, machine, scale);
    const onSignal = (signal: NodeJS.Signals): void => {
      process.stderr.write(`\n${signal}: cleaning up the bench's cgroups and processes...\n`);
      void env.close().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return env;
  }

  /** A fresh, empty cgroup below the bench's top one (controllers enabled for limited children). */
  cgroup(label: string): Cgroup {
    return Cgroup.create(this.top, `${label}-${++this.#children}`);
  }

  /** A started AgentHost managing a fresh cgroup of its own; disposed by {@link close} if the caller does not. */
  async host(label: string, options: Partial<AgentHostOptions> = {}): Promise<AgentHost> {
    const root = this.cgroup(label);
    const host = new AgentHost({ cgroupRoot: root, stateDir: join(this.dir, `${label}-${this.#children}`), ...options });
    this.defer(() => host.dispose());
    await host.start();
    return host;
  }

  defer(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cleanup of this.#cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        process.stderr.write(`cleanup: ${String(error)}\n`);
      }
    }
    try {
      await this.top.delete();
    } catch (error) {
      process.stderr.write(`could not remove ${this.top.path}: ${String(error)}\n`);
    }
    await this.#placement.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Removes `nova-bench-<pid>` cgroups below our own that a crashed earlier run (a dead pid) left. */
async function removeStale(): Promise<void> {
  let self = Cgroup.self();
  // A restarted bench in the VM's systemd job starts from inside the supervisor leaf.
  if (self.name === 'supervisor' && self.version === 2) self = Cgroup.load(dirname(self.path));
  for (const child of self.children()) {
    const match = new RegExp(`^${BENCH_PREFIX}-(\\d+)$`).exec(child.name);
    if (!match || Number(match[1]) === process.pid || isAlive(Number(match[1]))) continue;
    await child.delete().catch(() => undefined);
  }
}
