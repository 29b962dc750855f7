/**
 * cgroup v1 (legacy or hybrid): a cgroup is one directory per controller hierarchy.
 * The library uses memory (limits, OOM), pids (fork bombs) and freezer (race-free kills).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { CgroupDriver } from './driver.js';
import { V1_CONTROLLERS, type Location } from './detect.js';
import { exists, OpenFile, readFile, readOptional, readParsed, readParsedOptional, writeFile } from './files.js';
import { v1LimitWrites } from './limits.js';
import { byteKeys, hasPidBytes, parseFlatKeyed, parseFlatKeyedBytes, parseNumber, parseNumberBytes, parsePids } from './parse.js';
import { emptySample, updateEvents, type EventsReader, type MemoryEvents, type MemorySampler } from './stats.js';
import { signalQuietly } from './v2.js';

const memoryDir = (location: Location): string => {
  const dir = location.memory;
  if (dir === undefined) throw new AgentHostError(ErrorCode.CGROUP_UNAVAILABLE, 'no v1 memory cgroup for this cgroup');
  return dir;
};

const dirs = (location: Location): string[] =>
  V1_CONTROLLERS.map((c) => location[c]).filter((d): d is string => d !== undefined);

function events(dir: string): MemoryEvents | undefined {
  const oom = readParsedOptional(dir, 'memory.oom_control', parseFlatKeyed);
  if (oom === undefined) return undefined;
  return toEvents(oom, readParsedOptional(dir, 'memory.failcnt', parseNumber), readParsedOptional(dir, 'memory.memsw.failcnt', parseNumber));
}

function toEvents(oom: Record<string, number>, failcnt: number | undefined, memswFailcnt: number | undefined): MemoryEvents {
  return setEvents({ low: 0, high: 0, max: 0, oom: 0, oomKill: 0 }, oom.oom_kill ?? NaN, failcnt, memswFailcnt);
}

function setEvents(into: MemoryEvents, oomKill: number, failcnt: number | undefined, memswFailcnt: number | undefined): MemoryEvents {
  // memory.oom_control's oom_kill needs Linux 4.13+ (NaN: absent); failcnt counts hits of the limit.
  into.oom = into.oomKill = Number.isNaN(oomKill) ? 0 : oomKill;
  // With swap limited, memsw is the counter that hits its limit first.
  into.max = Math.max(failcnt ?? 0, memswFailcnt ?? 0);
  into.low = into.high = 0;
  return into;
}

/*
 * What the byte parsers fill, shared by every cgroup: reads are synchronous and each result is
 * used before the next read, and one set instead of one per agent keeps 300 agents' state small.
 */
const OOM_KEYS = byteKeys('oom_kill');
const oomValues = new Float64Array(OOM_KEYS.length);
const parseOom = (bytes: Buffer, length: number): Float64Array => parseFlatKeyedBytes(bytes, length, OOM_KEYS, oomValues);
const INACTIVE_KEYS = byteKeys('total_inactive_file', 'inactive_file');
const inactive = new Float64Array(INACTIVE_KEYS.length);
const parseStat = (bytes: Buffer, length: number): Float64Array => parseFlatKeyedBytes(bytes, length, INACTIVE_KEYS, inactive);

/**
 * oom_control + failcnt(s), kept open and parsed in place, and emptiness from every hierarchy's
 * cgroup.procs (opened anew each time: see OpenFileOptions.reopen). A class, not closures: a host
 * holds one per agent, and a few fields weigh less than a set of closures and their context.
 */
class V1Events implements EventsReader {
  readonly #location: Location;
  readonly #oomControl: OpenFile;
  readonly #failcnt: OpenFile;
  /** memsw exists only with swap accounting on: once missing in a live cgroup, it stays missing. */
  #memswFailcnt: OpenFile | undefined;
  #procs: OpenFile | undefined;
  #others: OpenFile[] | undefined;

  constructor(location: Location) {
    const dir = memoryDir(location);
    this.#location = location;
    this.#oomControl = new OpenFile(dir, 'memory.oom_control');
    this.#failcnt = new OpenFile(dir, 'memory.failcnt');
    this.#memswFailcnt = new OpenFile(dir, 'memory.memsw.failcnt');
  }

  read(into: MemoryEvents): boolean {
    if (this.#oomControl.readBytes(parseOom) === undefined) return false;
    const memsw = this.#memswFailcnt?.readBytes(parseNumberBytes);
    if (memsw === undefined && this.#memswFailcnt !== undefined && exists(memoryDir(this.#location))) {
      this.#memswFailcnt.close();
      this.#memswFailcnt = undefined;
    }
    setEvents(into, oomValues[0]!, this.#failcnt.readBytes(parseNumberBytes), memsw);
    return true;
  }

  populated(): boolean {
    // Every hierarchy, as v1Driver.populated (and children()) look at them all, the memory one
    // first: the others matter only once it is empty.
    const location = this.#location;
    this.#procs ??= new OpenFile(memoryDir(location), 'cgroup.procs', { reopen: true });
    if (this.#procs.readBytes(hasPidBytes) === true) return true;
    this.#others ??= dirs(location)
      .filter((dir) => dir !== location.memory)
      .map((dir) => new OpenFile(dir, 'cgroup.procs', { reopen: true }));
    for (const file of this.#others) if (file.readBytes(hasPidBytes) === true) return true;
    return false;
  }

  close(): void {
    this.#oomControl.close();
    this.#failcnt.close();
    this.#memswFailcnt?.close();
  }
}

/** usage + oom_control + failcnt(s), kept open; v1 has no per-cgroup PSI and no `high` events. */
function sampler(dir: string): MemorySampler {
  const usage = new OpenFile(dir, 'memory.usage_in_bytes');
  const stat = new OpenFile(dir, 'memory.stat');
  const events = new V1Events({ memory: dir });
  const scratch: MemoryEvents = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 };
  return {
    sample() {
      const into = emptySample();
      return this.read(into) ? into : undefined;
    },
    read(into) {
      const current = usage.readBytes(parseNumberBytes);
      if (current === undefined || !events.read(scratch)) return false;
      into.current = current;
      updateEvents(into, scratch);
      into.pressure = undefined;
      return true;
    },
    usage() {
      const values = stat.readBytes(parseStat);
      const current = usage.readBytes(parseNumberBytes);
      if (values === undefined || current === undefined) return undefined;
      // Hierarchical (this cgroup and its children) where the kernel has it, else its own.
      const inactiveFile = Number.isNaN(values[0]) ? values[1]! : values[0]!;
      return { current, workingSet: Math.max(0, current - (Number.isNaN(inactiveFile) ? 0 : inactiveFile)) };
    },
    close() {
      usage.close();
      stat.close();
      events.close();
    },
  };
}

export const v1Driver: CgroupDriver = {
  version: 1,
  keys: (hierarchy) => V1_CONTROLLERS.filter((c) => hierarchy.own[c] !== undefined),
  limitWrites: v1LimitWrites,
  // v1 has no subtree_control and no "no internal processes" rule: children get every controller.
  enableControllers() {},

  procsFiles: (location) => dirs(location).map((dir) => join(dir, 'cgroup.procs')),
  procs: (location) => parsePids(readOptional(memoryDir(location), 'cgroup.procs') ?? ''),
  populated(location) {
    // Every hierarchy, as children() lists them all: a process half-moved (or moved by someone
    // else) into pids or freezer only still keeps that directory busy.
    if (this.procs(location).length > 0) return true;
    return dirs(location).some((dir) => dir !== location.memory && parsePids(readOptional(dir, 'cgroup.procs') ?? '').length > 0);
  },
  threadFiles: (location) => dirs(location).map((dir) => join(dir, 'tasks')),
  vacant(location) {
    const freezer = location.freezer === undefined ? 'THAWED' : readOptional(location.freezer, 'freezer.state')?.trim();
    return freezer === 'THAWED' && !this.populated(location);
  },

  stats(location) {
    const dir = memoryDir(location);
    const stat = readParsed(dir, 'memory.stat', parseFlatKeyed);
    const current = readParsed(dir, 'memory.usage_in_bytes', parseNumber);
    const inactiveFile = stat.total_inactive_file ?? stat.inactive_file ?? 0;
    const pids = location.pids;
    const pidsEvents = (pids === undefined ? undefined : readParsedOptional(pids, 'pids.events', parseFlatKeyed)) ?? {};
    const memsw = readParsedOptional(dir, 'memory.memsw.usage_in_bytes', parseNumber);
    return {
      memory: {
        current,
        peak: readParsed(dir, 'memory.max_usage_in_bytes', parseNumber),
        workingSet: Math.max(0, current - inactiveFile),
        anon: stat.total_rss ?? stat.rss ?? 0,
        file: stat.total_cache ?? stat.cache ?? 0,
        inactiveFile,
        max: readParsed(dir, 'memory.limit_in_bytes', parseNumber),
        high: readParsed(dir, 'memory.soft_limit_in_bytes', parseNumber),
        swap: memsw === undefined ? 0 : Math.max(0, memsw - current),
        events: events(dir) ?? { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 },
      },
      pids: {
        current: (pids === undefined ? undefined : readParsedOptional(pids, 'pids.current', parseNumber)) ?? 0,
        max: (pids === undefined ? undefined : readParsedOptional(pids, 'pids.max', parseNumber)) ?? Infinity,
        events: { max: pidsEvents.max ?? 0 },
      },
      pressure: undefined,
    };
  },

  memoryEvents: (location) => events(memoryDir(location)),
  peak(location) {
    const dir = memoryDir(location);
    const peak = readParsedOptional(dir, 'memory.max_usage_in_bytes', parseNumber);
    return peak === undefined ? undefined : { peak, current: readParsedOptional(dir, 'memory.usage_in_bytes', parseNumber) ?? 0 };
  },
  memoryLimit(location) {
    const dir = memoryDir(location);
    const max = readParsedOptional(dir, 'memory.limit_in_bytes', parseNumber);
    if (max === undefined) return undefined;
    return { max, hierarchical: readParsedOptional(dir, 'memory.stat', parseFlatKeyed)?.hierarchical_memory_limit };
  },
  eventsReader: (location) => new V1Events(location),
  sampler: (location) => sampler(memoryDir(location)),

  async killAll(location) {
    // Frozen, nothing forks or exits (so no pid is recycled) while we signal; SIGKILL is
    // delivered on thaw. Without a freezer hierarchy, signal directly and let callers repeat.
    const frozen = location.freezer !== undefined && exists(location.freezer, 'freezer.state');
    if (frozen) await this.setFrozen(location, true);
    try {
      for (const pid of this.procs(location)) signalQuietly(pid, 'SIGKILL');
    } finally {
      if (frozen) await this.setFrozen(location, false);
    }
  },

  async setFrozen(location, frozen) {
    const dir = location.freezer;
    if (dir === undefined) {
      throw new AgentHostError(ErrorCode.CGROUP_UNAVAILABLE, 'the v1 freezer hierarchy is not mounted');
    }
    const target = frozen ? 'FROZEN' : 'THAWED';
    writeFile(dir, 'freezer.state', target);
    for (let delay = 1; readFile(dir, 'freezer.state').trim() !== target; delay = Math.min(delay * 2, 50)) {
      await sleep(delay);
      // FREEZING can stall on a task in an uninterruptible sleep: asking again retries it.
      writeFile(dir, 'freezer.state', target);
    }
  },

  // v1 memory files do not announce changes through inotify: OOM kills are found by polling.
  eventFiles: () => [],
};
