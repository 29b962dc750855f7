/**
 * Watching a cgroup without polling: on v2 the kernel raises inotify modify events on
 * memory.events and cgroup.events (Node's fs.watch receives them), so an OOM kill is seen
 * within milliseconds. v1 and filesystems without those events fall back to a timer.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { CgroupDriver } from './driver.js';
import type { Location } from './detect.js';
import { sameEvents, type EventsReader, type MemoryEvents } from './stats.js';
import { Emitter } from '../util/emitter.js';

/** Events of a {@link CgroupWatcher}. */
export type CgroupWatchEvents = {
  /** Counters of memory.events rose: `delta` by how much, `total` the new values. */
  memory: (delta: MemoryEvents, total: MemoryEvents) => void;
  /** The cgroup has no process left. */
  empty: () => void;
  /** A read failed (the cgroup was removed underneath, say); watching goes on. */
  error: (error: Error) => void;
};

/** Options of {@link Cgroup.watch}. */
export interface WatchOptions {
  /**
   * Poll every this many ms as well. Default: 1000 where the kernel gives no file events (v1),
   * 0 (no polling) on v2.
   */
  pollInterval?: number;
  /** Counters to report rises from. Default: the current ones (read now); a cgroup just made starts at {@link NO_MEMORY_EVENTS}. */
  baseline?: MemoryEvents;
}

/** Every memory event counter at zero: the baseline of a new cgroup. */
export const NO_MEMORY_EVENTS: Readonly<MemoryEvents> = Object.freeze({ low: 0, high: 0, max: 0, oom: 0, oomKill: 0 });

/**
 * Reports OOM kills and limit hits (`memory`) and the cgroup emptying (`empty`) as they happen:
 * through inotify on v2, by polling on v1. Get one from {@link Cgroup.watch}; close it when done.
 */
export class CgroupWatcher extends Emitter<CgroupWatchEvents> {
  /** The counter files, kept open: a v1 host polls them for every agent every second. */
  readonly #reader: EventsReader;
  /** Where each check reads the counters into; copied to `#last` only when they changed. */
  readonly #scratch: MemoryEvents = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 };
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #last: MemoryEvents;
  #populated: boolean;
  #closed = false;

  /** Use {@link Cgroup.watch}. Takes `options.baseline` or the current counters as the baseline: only later rises are reported. */
  constructor(driver: CgroupDriver, location: Location, options: WatchOptions = {}) {
    super();
    this.#reader = driver.eventsReader(location);
    try {
      this.#last = { ...(options.baseline ?? (this.#reader.read(this.#scratch) ? this.#scratch : NO_MEMORY_EVENTS)) };
      this.#populated = this.#reader.populated();
    } catch (error) {
      this.#reader.close();
      throw error;
    }
    const files = driver.eventFiles(location);
    for (const file of files) {
      try {
        const watcher = watch(file, { persistent: false }, () => this.check());
        watcher.on('error', () => watcher.close());
        this.#watchers.push(watcher);
      } catch {
        // No inotify here (or the file is gone): polling below covers it.
      }
    }
    const interval = options.pollInterval ?? (this.#watchers.length > 0 ? 0 : 1000);
    if (interval > 0) {
      this.#timer = setInterval(() => this.check(), interval);
      this.#timer.unref();
    }
  }

  /** The last counters seen. */
  get counters(): MemoryEvents {
    return { ...this.#last };
  }

  /** Reads the files now and emits what changed; the watchers and the timer call this. */
  check(): void {
    if (this.#closed) return;
    try {
      // Nothing is allocated unless a counter moved: this runs for every agent every second on v1.
      const total = this.#scratch;
      if (this.#reader.read(total) && !sameEvents(total, this.#last)) {
        const last = this.#last;
        const delta: MemoryEvents = {
          low: total.low - last.low,
          high: total.high - last.high,
          max: total.max - last.max,
          oom: total.oom - last.oom,
          oomKill: total.oomKill - last.oomKill,
        };
        this.#last = { ...total };
        if (delta.low > 0 || delta.high > 0 || delta.max > 0 || delta.oom > 0 || delta.oomKill > 0) this.emit('memory', delta, { ...total });
      }
      const populated = this.#reader.populated();
      if (this.#populated && !populated) this.emit('empty');
      this.#populated = populated;
    } catch (error) {
      this.emit('error', error as Error);
    }
  }

  /** Stops the file watchers and the timer and removes every listener. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers.length = 0;
    if (this.#timer) clearInterval(this.#timer);
    this.#reader.close();
    this.removeAllListeners();
  }
}
