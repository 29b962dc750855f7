/**
 * A fake cgroup driver for AgentRun unit tests: an in-memory cgroup (the `RunCgroup` members a run
 * uses) whose one "main process" the test ends, traps SIGTERM in, or lets a kernel read fail; a
 * RunContext that records every event, record and lease. No kernel, no root, no processes.
 */
import { EventEmitter } from 'node:events';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { AgentRun } from '../../../src/host/agent-run.js';
import type { AgentRecord } from '../../../src/host/state.js';
import type { RunCgroup, RunContext, RunSpec } from '../../../src/host/run-contract.js';
import type { MemoryEvents } from '../../../src/cgroup/stats.js';
import type { SpawnOptions, Subprocess } from '../../../src/cgroup/spawn.js';
import type { AgentUserRecord } from '../../../src/users/index.js';
import type { CgroupWatcher } from '../../../src/cgroup/watch.js';
import { TimeoutPolicy, type TimeoutOptions } from '../../../src/timeout/index.js';

/** Settles from outside. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const ZERO: MemoryEvents = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 };

class FakeWatcher extends EventEmitter {
  closed = false;
  constructor(readonly cgroup: FakeCgroup) {
    super();
  }
  get counters(): MemoryEvents {
    return { ...this.cgroup.events };
  }
  #seen = 0;
  check(): void {
    if (this.closed) return;
    if (this.cgroup.events.oomKill > this.#seen) {
      this.#seen = this.cgroup.events.oomKill;
      this.emit('memory', {}, this.counters);
    }
  }
  close(): void {
    this.closed = true;
    this.removeAllListeners();
  }
}

/** One agent's cgroup and its main process, played by the test. */
export class FakeCgroup implements RunCgroup {
  readonly path: string;
  readonly version = 2 as const;
  /** What happened to it, in order: `signal:SIGTERM`, `kill`, `freeze`, `thaw`, `delete`, `spawn`. */
  readonly calls: string[] = [];
  alive = false;
  existing = true;
  frozen = false;
  /** The main process ignores SIGTERM (it traps it). */
  trapsTerm = false;
  /** Makes `populated()` / `peakMemory()` / `freeze()` fail like a kernel read under EMFILE. */
  failing = new Set<'populated' | 'peakMemory' | 'freeze' | 'delete'>();
  events: MemoryEvents = { ...ZERO };
  /** Held until the test resolves it: the process is forked but not yet known to be inside. */
  join = deferred<number>();
  readonly watchers: FakeWatcher[] = [];
  /** The options of every spawn, in order. */
  readonly spawned: SpawnOptions[] = [];
  #exit = deferred<{ exitCode: number | null; signal: string | null }>();

  constructor(name: string, autoJoin = true) {
    this.path = `/fake/nova-agents/${name}`;
    if (autoJoin) this.join.resolve(4242);
  }

  exists(): boolean {
    return this.existing;
  }
  spawn(_command?: string, _args?: readonly string[], options: SpawnOptions = {}): Subprocess {
    this.calls.push('spawn');
    this.spawned.push(options);
    this.alive = true;
    return Object.assign(this.#exit.promise, { pid: 4242, stdin: null, stdout: null, stderr: null }) as unknown as Subprocess;
  }
  joined(): Promise<number> {
    return this.join.promise;
  }
  watch(): CgroupWatcher {
    const watcher = new FakeWatcher(this);
    this.watchers.push(watcher);
    return watcher as unknown as CgroupWatcher;
  }
  populated(): boolean {
    if (this.failing.has('populated')) throw io(this.path, 'cgroup.events');
    return this.alive;
  }
  procs(): number[] {
    return this.alive ? [4242] : [];
  }
  signal(signal: NodeJS.Signals): number {
    this.calls.push(`signal:${signal}`);
    if (!this.alive) return 0;
    if (signal === 'SIGTERM' && !this.trapsTerm && !this.frozen) this.exit(null, 'SIGTERM');
    return 1;
  }
  async kill(): Promise<void> {
    this.calls.push('kill');
    if (this.alive) this.exit(null, 'SIGKILL');
  }
  async freeze(): Promise<void> {
    this.calls.push('freeze');
    if (this.failing.has('freeze')) throw new AgentHostError(ErrorCode.CGROUP_UNAVAILABLE, 'no freezer', { cgroup: this.path });
    this.frozen = true;
  }
  async thaw(): Promise<void> {
    this.calls.push('thaw');
    this.frozen = false;
  }
  peakMemory(): number | undefined {
    if (this.failing.has('peakMemory')) throw io(this.path, 'memory.peak');
    return 1234;
  }
  async delete(): Promise<void> {
    this.calls.push('delete');
    if (this.failing.has('delete')) throw io(this.path, 'cgroup.procs');
    this.alive = false;
    this.existing = false;
  }

  /** The main process ends (on its own, or by a signal). */
  exit(exitCode: number | null, signal: string | null = null): void {
    if (!this.alive) return;
    this.alive = false;
    this.#exit.resolve({ exitCode, signal });
    for (const watcher of this.watchers) if (!watcher.closed) watcher.emit('empty');
  }
}

function io(cgroup: string, file: string): AgentHostError {
  return new AgentHostError(ErrorCode.CGROUP_IO, `EMFILE: too many open files, open '${cgroup}/${file}'`, { cgroup, file });
}

/** A RunContext over in-memory stores that records what the run did. */
export interface FakeWorld {
  ctx: RunContext;
  cgroups: FakeCgroup[];
  /** `event` or `event:detail` for every agent event, in order. */
  events: string[];
  errors: Error[];
  records: Map<string, AgentRecord>;
  leases: Set<string>;
  /** Agent users held now (a user other than 'root' asked for gets uid 200000 + n). */
  users: Map<string, AgentUserRecord>;
  /** Leases and releases in order: `user:<id>`, `slot:<id>`, `-slot:<id>`, `-user:<id>`. */
  leaseLog: string[];
  /** Makes every user release throw this. */
  failUserRelease?: Error;
  /** Makes every slot lease throw this. */
  failLease?: Error;
  ended: string[];
  /** Makes the next createCgroup throw this. */
  failCreate?: Error;
  /** Whether the next cgroup's process joins at once (else the test resolves `cgroup.join`). */
  autoJoin: boolean;
}

export function fakeWorld(): FakeWorld {
  const world: FakeWorld = { cgroups: [], events: [], errors: [], records: new Map(), leases: new Set(), users: new Map(), leaseLog: [], ended: [], autoJoin: true } as unknown as FakeWorld;
  world.ctx = {
    createCgroup: (id) => {
      if (world.failCreate) throw world.failCreate;
      const cgroup = new FakeCgroup(id, world.autoJoin);
      world.cgroups.push(cgroup);
      return cgroup;
    },
    pool: {
      lease: (id) => {
        if (world.failLease) throw world.failLease;
        const slot = `/ws/${id}`;
        world.leases.add(slot);
        world.leaseLog.push(`slot:${id}`);
        return slot;
      },
      release: (slot) => {
        world.leases.delete(slot);
        world.leaseLog.push(`-slot:${slot.slice('/ws/'.length)}`);
      },
    },
    users: {
      acquire: (id, user, ownHome) => {
        if (user === undefined || user === 'root') return undefined;
        const uid = 200_000 + world.users.size;
        const record: AgentUserRecord = { uid, gid: uid, dynamic: user === 'dynamic', ...(ownHome && { home: `/homes/${id}` }) };
        world.users.set(id, record);
        world.leaseLog.push(`user:${id}`);
        return record;
      },
      release: (id, record) => {
        if (!record) return;
        if (world.failUserRelease) throw world.failUserRelease;
        world.users.delete(id);
        world.leaseLog.push(`-user:${id}`);
      },
    },
    state: {
      write: (record) => void world.records.set(record.id, record),
      remove: (id) => void world.records.delete(id),
    },
    emit: (_agent, event, ...args) => {
      const first = args[0] as { reason?: string; kind?: string; scope?: string } | Error | undefined;
      if (event === 'oom') world.events.push(`oom-scope:${(first as { scope: string }).scope}`);
      if (event === 'error') world.errors.push(first as Error);
      const detail = first instanceof Error ? (first as AgentHostError).code : (first as { reason?: string } | undefined)?.reason;
      world.events.push(detail === undefined || event === 'spawn' ? event : `${event}:${detail}`);
    },
    ended: (run) => void world.ended.push(run.id),
  };
  return world;
}

/** A spec with these overrides: `timeouts` as options (a policy is made), grace 10 s by default. */
export function spec(id: string, overrides: Partial<Omit<RunSpec, 'timeouts'>> & { timeouts?: TimeoutOptions } = {}): RunSpec {
  const { timeouts, ...rest } = overrides;
  return {
    info: { id, command: 'agent', args: [], priority: 0, protected: false, preferred: false },
    limits: {},
    spawn: {},
    workspace: true,
    keepCgroup: false,
    timeouts: timeouts ? new TimeoutPolicy(timeouts) : undefined,
    killGrace: 10_000,
    ...rest,
  };
}

/** A run of `world` with `spec(id, overrides)`. */
export function fakeRun(world: FakeWorld, id = 'a', overrides: Parameters<typeof spec>[1] = {}): AgentRun {
  return new AgentRun(spec(id, overrides), world.ctx);
}
