/**
 * `Cgroup`: one class over both kernel drivers. A cgroup is a location (one directory on
 * v2, one per controller hierarchy on v1) plus the driver that knows its files.
 */
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentHostError, ErrorCode } from '../errors.js';
import { validateName } from '../util/name.js';
import { detectHierarchy, type CgroupHierarchy, type DetectOptions, type HierarchyKey, type Location } from './detect.js';
import type { CgroupDriver } from './driver.js';
import { childDirs, dirLinks, exists, isDirectory, makeDir, readOptional, removeDir, writeFile } from './files.js';
import { isBornInside, spawnJoined } from './join.js';
import { whenSpawned, type SpawnOptions, type Subprocess } from './spawn.js';
import { parsePids } from './parse.js';
import { resolveLimits, type Limits } from './limits.js';
import type { CgroupStats, MemoryEvents, MemorySampler } from './stats.js';
import { v1Driver } from './v1.js';
import { signalQuietly, v2Driver } from './v2.js';
import { CgroupWatcher, type WatchOptions } from './watch.js';

/** Which hierarchy a `Cgroup` belongs to; tests pass a fake one, everyone else the detected default. */
export interface CgroupContext {
  /** The detected hierarchy; default: {@link detectHierarchy} of this process. */
  hierarchy?: CgroupHierarchy;
}

/** Options of {@link Cgroup.create}. */
export interface CreateOptions {
  /** Applied right after creation; a failed write removes the half-made cgroup. Default: none (only the ancestors' limits bind it). */
  limits?: Limits;
  /** Load the cgroup if it exists instead of failing with `ERR_CGROUP_EXISTS`. Default `false`. */
  existOk?: boolean;
}

/** How hard {@link Cgroup.kill} and {@link Cgroup.delete} try before giving up. */
export interface KillOptions {
  /** Give up (with `ERR_CGROUP_BUSY`) when processes remain after this many ms. Default 10 000. */
  timeout?: number;
  /** v2: use freeze → SIGKILL each → thaw even where cgroup.kill exists. */
  fallback?: boolean;
}

let cachedHierarchy: CgroupHierarchy | undefined;

/** How long {@link Cgroup.joined} polls on every event-loop turn before it falls back to 1 ms sleeps. */
const JOIN_SPIN_MS = 2;

/** This process's cgroup hierarchy, detected once. */
export function hostHierarchy(options?: DetectOptions): CgroupHierarchy {
  if (options) return detectHierarchy(options);
  cachedHierarchy ??= detectHierarchy();
  return cachedHierarchy;
}

function driverFor(hierarchy: CgroupHierarchy): CgroupDriver {
  if (hierarchy.version === 2) return v2Driver;
  if (hierarchy.version === 1) return v1Driver;
  throw new AgentHostError(
    ErrorCode.CGROUP_UNAVAILABLE,
    `no usable cgroup memory controller (mode: ${hierarchy.mode}); agents need cgroup v2 with the memory ` +
      'controller, or the v1 memory hierarchy, mounted',
  );
}

/**
 * A cgroup on either kernel version: its directory in each hierarchy it spans (one on v2; memory,
 * pids and freezer on v1) plus the driver that knows that version's files. Creating, limiting,
 * running processes inside, reading statistics, killing and removing all go through it, so the
 * rest of the library never asks which version it runs on.
 */
export class Cgroup {
  readonly hierarchy: CgroupHierarchy;
  readonly driver: CgroupDriver;
  /** Directory in each hierarchy the cgroup spans. */
  readonly location: Readonly<Location>;
  #peakSeen = 0;

  /** Use {@link Cgroup.self}, {@link Cgroup.load}, {@link Cgroup.create} or {@link Cgroup.child}. */
  constructor(location: Location, context: CgroupContext = {}) {
    this.hierarchy = context.hierarchy ?? hostHierarchy();
    this.driver = driverFor(this.hierarchy);
    this.location = Object.freeze({ ...location });
    if (this.driver.keys(this.hierarchy).every((key) => location[key] === undefined)) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, 'a cgroup location needs a directory in at least one hierarchy');
    }
  }

  /** The cgroup this process runs in. */
  static self(context: CgroupContext = {}): Cgroup {
    const hierarchy = context.hierarchy ?? hostHierarchy();
    const driver = driverFor(hierarchy);
    const location: Location = {};
    for (const key of driver.keys(hierarchy)) location[key] = hierarchy.own[key];
    return new Cgroup(location, { hierarchy });
  }

  /**
   * An existing cgroup: a directory (absolute, or relative to the mount point), or a location on
   * v1. On v1 a directory at or below this process's own cgroup in one hierarchy names the same
   * place below its own cgroups in the others, so `Cgroup.load(Cgroup.self().path)` is
   * `Cgroup.self()`. Fails with `ERR_CGROUP_NOT_FOUND` if it does not exist.
   */
  static load(path: string | Location, context: CgroupContext = {}): Cgroup {
    const hierarchy = context.hierarchy ?? hostHierarchy();
    const driver = driverFor(hierarchy);
    let location: Location;
    if (typeof path === 'string') {
      location = {};
      const keys = driver.keys(hierarchy);
      const under = (dir: string | undefined): boolean => dir !== undefined && (path === dir || path.startsWith(`${dir}/`));
      // At or below this process's own cgroup in one hierarchy: the same place relative to its own
      // cgroup in the others (v1 puts a process in different cgroups per hierarchy, e.g. memory in
      // a container's, pids at "/"). Else the same path below every hierarchy's mount.
      // (A hierarchy whose own cgroup is its root says nothing: every path is below it.)
      const ownKey = keys.find((key) => hierarchy.own[key] !== hierarchy.mounts[key] && under(hierarchy.own[key]));
      const base = ownKey === undefined ? hierarchy.mounts : hierarchy.own;
      const from = ownKey === undefined ? keys.map((key) => base[key]!).find(under) : base[ownKey];
      const below = from === undefined ? path : path.slice(from.length);
      for (const key of keys) location[key] = join(base[key]!, below);
    } else location = path;
    const cgroup = new Cgroup(location, { hierarchy });
    if (!cgroup.exists()) {
      throw new AgentHostError(ErrorCode.CGROUP_NOT_FOUND, `cgroup ${cgroup.path} does not exist`, { cgroup: cgroup.path });
    }
    return cgroup;
  }

  /** Creates `name` below `parent`, enabling the controllers it needs, and applies `limits`. */
  static create(parent: Cgroup, name: string, options: CreateOptions = {}): Cgroup {
    const resolved = options.limits === undefined ? undefined : resolveLimits(options.limits);
    const child = parent.child(name);
    parent.driver.enableControllers(parent.location, parent.hierarchy);
    const made: string[] = [];
    try {
      for (const dir of child.dirs) {
        if (exists(dir)) {
          // A valid name can still be a kernel file's ("cgroup.procs", "tasks"): never a cgroup.
          if (!isDirectory(dir)) {
            throw new AgentHostError(ErrorCode.INVALID_NAME, `cgroup name ${JSON.stringify(name)} names a kernel file (${dir}), not a cgroup`, {
              cgroup: dir,
            });
          }
          if (!options.existOk) {
            throw new AgentHostError(ErrorCode.CGROUP_EXISTS, `cgroup ${dir} already exists`, { cgroup: dir });
          }
          continue;
        }
        makeDir(dir);
        made.push(dir);
      }
      if (resolved) child.#apply(resolved);
    } catch (error) {
      // Never leave a half-made cgroup behind.
      for (const dir of made.reverse()) removeDir(dir);
      throw error;
    }
    return child;
  }

  /** The cgroup `name` below this one (not created). */
  child(name: string): Cgroup {
    validateName(name, 'cgroup name');
    const location: Location = {};
    for (const [key, dir] of Object.entries(this.location)) location[key as HierarchyKey] = join(dir, name);
    return new Cgroup(location, { hierarchy: this.hierarchy });
  }

  /** The main directory: the v2 directory, or the v1 memory one. */
  get path(): string {
    return this.location.unified ?? this.location.memory ?? this.dirs[0]!;
  }

  /** The last path component: the name given to {@link Cgroup.create}. */
  get name(): string {
    return basename(this.path);
  }

  /** Which kernel interface the driver speaks: decides which limits apply and which files exist. */
  get version(): 1 | 2 {
    return this.driver.version;
  }

  /** Every directory of this cgroup. */
  get dirs(): string[] {
    return Object.values(this.location);
  }

  /** Whether the directory exists in every hierarchy (false once deleted, or half-made on v1). */
  exists(): boolean {
    return this.dirs.every((dir) => exists(dir));
  }

  /** Makes this cgroup able to hold limited children (v2: enables memory, pids, cpu, io below it). */
  enableControllers(): void {
    this.driver.enableControllers(this.location, this.hierarchy);
  }

  /**
   * Changes limits of a live cgroup; only the keys given are written. Validated first
   * (`ERR_INVALID_OPTION`, `ERR_INVALID_SIZE`), so a typo changes nothing.
   */
  setLimits(limits: Limits): void {
    this.#apply(resolveLimits(limits));
  }

  #apply(limits: ReturnType<typeof resolveLimits>): void {
    for (const write of this.driver.limitWrites(limits)) {
      const dir = this.location[write.hierarchy];
      if (dir === undefined || (write.optional && !exists(dir, write.file))) continue;
      writeFile(dir, write.file, write.value);
    }
  }

  /**
   * Usage, limits, event counters and PSI in one shape for both kernels. Reads memory.stat, the
   * costly file: monitors sampling often should use {@link sampler} instead.
   */
  stats(): CgroupStats {
    const raw = this.driver.stats(this.location);
    return { ...raw, memory: { ...raw.memory, peak: this.#peak(raw.memory.peak, raw.memory.current) } };
  }

  /**
   * The most memory the cgroup has used: the kernel's high-water mark where it keeps one (v1, v2 on
   * Linux 5.19+), else the most this object has seen. The cheap read for an exit report; `undefined`
   * once the cgroup is gone.
   */
  peakMemory(): number | undefined {
    const read = this.driver.peak(this.location);
    return read === undefined ? undefined : this.#peak(read.peak, read.current);
  }

  /** The kernel's peak, or (without memory.peak) the highest usage this object has read. */
  #peak(kernelPeak: number | undefined, current: number): number {
    this.#peakSeen = Math.max(this.#peakSeen, current, kernelPeak ?? 0);
    return kernelPeak ?? this.#peakSeen;
  }

  /** Only the OOM and limit-hit counters: the cheap read behind OOM detection. `undefined` once the cgroup is gone. */
  memoryEvents(): MemoryEvents | undefined {
    return this.driver.memoryEvents(this.location);
  }

  /**
   * Cheap repeated reads of current usage, event counters and PSI over files kept open: for
   * monitors sampling many cgroups every second. Close it when done.
   */
  sampler(): MemorySampler {
    return this.driver.sampler(this.location);
  }

  /** Pids of the processes in the cgroup. */
  procs(): number[] {
    return this.driver.procs(this.location);
  }

  /** Whether any process is left in the cgroup (or its children). */
  populated(): boolean {
    return this.driver.populated(this.location);
  }

  /**
   * Starts `command` inside this cgroup, so nothing of it ever runs outside: forked from inside
   * when the cgroup is empty, joined by a shim before its exec otherwise (see join.ts).
   */
  spawn(command: string, args: readonly string[] = [], options: SpawnOptions = {}): Subprocess {
    return spawnJoined(this.driver, this.hierarchy, this.location, command, args, options);
  }

  /**
   * Resolves with the pid once a process from {@link spawn} is inside the cgroup (in every
   * hierarchy), or has already ended. Until then a kill or signal of the cgroup would miss it:
   * in a busy cgroup the shim joins a moment after the fork. (Forked from inside: at once.)
   */
  async joined(subprocess: Subprocess, timeout = 10_000): Promise<number> {
    const pid = await whenSpawned(subprocess);
    if (isBornInside(subprocess)) return pid;
    const files = this.driver.procsFiles(this.location);
    const last = files[files.length - 1]!;
    const deadline = Date.now() + timeout;
    const spinUntil = performance.now() + JOIN_SPIN_MS;
    while (subprocess.exitCode === null && subprocess.signalCode === null) {
      if (parsePids(readOptional(join(last, '..'), 'cgroup.procs') ?? '').includes(pid)) return pid;
      if (Date.now() > deadline) {
        throw new AgentHostError(ErrorCode.CGROUP_IO, `process ${pid} did not join cgroup ${this.path} within ${timeout} ms`, { cgroup: this.path });
      }
      // The join takes about a millisecond: spin through the event loop for that long, then back
      // off. (Counting turns instead stopped after ~0.3 ms on a quiet loop, and most spawns then
      // paid a whole 1 ms timer: +1 ms per spawn, a quarter of a short agent's lifecycle.)
      await (performance.now() < spinUntil ? new Promise((resolve) => setImmediate(resolve)) : sleep(1));
    }
    return pid;
  }

  /** Moves an existing process (all its threads) into this cgroup. */
  addProcess(pid: number): void {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new AgentHostError(ErrorCode.INVALID_OPTION, `invalid pid ${pid}`);
    for (const file of this.driver.procsFiles(this.location)) {
      const dir = join(file, '..');
      writeFile(dir, 'cgroup.procs', String(pid));
    }
  }

  /** Sends `signal` to every process in the cgroup; returns how many received it. */
  signal(signal: NodeJS.Signals): number {
    let count = 0;
    for (const pid of this.procs()) if (signalQuietly(pid, signal)) count++;
    return count;
  }

  /** Kills every process and resolves once the cgroup is empty. */
  async kill(options: KillOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.timeout ?? 10_000);
    for (let delay = 1; this.populated(); delay = Math.min(delay * 2, 50)) {
      if (Date.now() > deadline) {
        throw new AgentHostError(ErrorCode.CGROUP_BUSY, `processes ${this.procs().join(', ')} survived killing cgroup ${this.path}`, {
          cgroup: this.path,
        });
      }
      try {
        await this.driver.killAll(this.location, options);
      } catch (error) {
        // Removed meanwhile (a concurrent delete() emptied and removed it): nothing is left to kill.
        if (error instanceof AgentHostError && error.code === ErrorCode.CGROUP_NOT_FOUND && !this.populated()) return;
        throw error;
      }
      if (!this.populated()) return;
      await sleep(delay);
    }
  }

  /**
   * Stops every process (nothing forks, exits or allocates) and resolves once the kernel reports
   * them frozen. `ERR_CGROUP_UNAVAILABLE` without a freezer (v2 before Linux 5.2, v1 unmounted).
   */
  freeze(): Promise<void> {
    return this.driver.setFrozen(this.location, true);
  }

  /** Resumes what {@link freeze} stopped; resolves once the kernel reports the cgroup thawed. */
  thaw(): Promise<void> {
    return this.driver.setFrozen(this.location, false);
  }

  /** Child cgroups that exist now. */
  children(): Cgroup[] {
    // Every hierarchy (v1): a crash between two rmdirs of a child leaves it in some hierarchies only,
    // and the parent cannot be removed until those are found too.
    const names = new Set(this.dirs.flatMap((dir) => childDirs(dir)));
    return [...names].map((name) => this.child(name));
  }

  /**
   * Removes the cgroup: kills leftover processes, removes child cgroups first, and retries
   * EBUSY with backoff (the kernel frees a just-emptied cgroup asynchronously), as runc does.
   */
  async delete(options: KillOptions = {}): Promise<void> {
    const links = this.dirs.map(dirLinks);
    if (links.every((n) => n === undefined)) return;
    // One stat per hierarchy says whether there are children at all (2 links: none; other
    // filesystems, e.g. a test's fake tree on btrfs, may always say 1: then look).
    if (links.some((n) => n !== undefined && n !== 2)) for (const child of this.children()) await child.delete(options);
    await this.kill(options);
    for (const dir of this.dirs) {
      for (let attempt = 0, delay = 2; ; attempt++, delay *= 2) {
        try {
          removeDir(dir);
          break;
        } catch (error) {
          if (!(error instanceof AgentHostError) || error.code !== ErrorCode.CGROUP_BUSY || attempt >= 8) throw error;
          // A process that joined after the kill (a join-before-exec shim started just before it,
          // e.g. by AgentHost.run()) keeps the cgroup busy for good: kill again.
          if (this.populated()) await this.kill(options);
          await sleep(delay);
        }
      }
    }
  }

  /** Watches memory.events and emptiness (inotify on v2, polling on v1). Close it when done. */
  watch(options?: WatchOptions): CgroupWatcher {
    return new CgroupWatcher(this.driver, this.location, options);
  }

  /** The {@link path}, so a cgroup reads well in messages and logs. */
  toString(): string {
    return this.path;
  }
}
