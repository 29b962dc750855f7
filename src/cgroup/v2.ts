/** cgroup v2 (unified hierarchy): one directory per cgroup. */
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { CgroupDriver } from './driver.js';
import type { Location } from './detect.js';
import { exists, OpenFile, readFile, readOptional, readParsed, readParsedOptional, writeFile } from './files.js';
import { v2LimitWrites } from './limits.js';
import { byteKeys, parseFlatKeyed, parseFlatKeyedBytes, parseList, parseNumber, parseNumberBytes, parsePids, parsePsi, parsePsiBytes, psiOf, type Psi } from './parse.js';
import { emptySample, updateEvents, type EventsReader, type MemoryEvents, type MemorySampler } from './stats.js';

/** Controllers the library needs below its root, and those it enables only when offered. */
const REQUIRED = ['memory', 'pids'];
const OPTIONAL = ['cpu', 'io'];

const dirOf = (location: Location): string => {
  const dir = location.unified;
  if (dir === undefined) throw new AgentHostError(ErrorCode.CGROUP_UNAVAILABLE, 'no cgroup v2 directory for this cgroup');
  return dir;
};

function events(dir: string): MemoryEvents | undefined {
  const e = readParsedOptional(dir, 'memory.events', parseFlatKeyed);
  return e === undefined ? undefined : toEvents(e);
}

/**
 * Enables `wanted` in `dir`'s cgroup.subtree_control, first making them available in `dir`
 * by enabling them in its parent, up to the mount root (where every controller is available).
 */
function enable(dir: string, wanted: string[], root: string): void {
  const available = parseList(readFile(dir, 'cgroup.controllers'));
  const missing = wanted.filter((c) => !available.includes(c));
  if (missing.length > 0) {
    if (dir === root || dirname(dir) === dir) {
      throw new AgentHostError(
        ErrorCode.CGROUP_UNAVAILABLE,
        `controllers ${missing.join(', ')} are not available in ${dir} (cgroup.controllers: ${available.join(' ') || 'none'}); ` +
          'the cgroup above was not delegated with them',
        { cgroup: dir, file: join(dir, 'cgroup.controllers') },
      );
    }
    enable(dirname(dir), missing, root);
  }
  const enabled = parseList(readFile(dir, 'cgroup.subtree_control'));
  const toEnable = wanted.filter((c) => !enabled.includes(c));
  if (toEnable.length === 0) return;
  try {
    writeFile(dir, 'cgroup.subtree_control', toEnable.map((c) => `+${c}`).join(' '));
  } catch (error) {
    if (error instanceof AgentHostError && error.code === ErrorCode.CGROUP_BUSY) {
      throw new AgentHostError(
        ErrorCode.CGROUP_BUSY,
        `cannot enable ${toEnable.join(', ')} in ${dir}: it holds processes, and a cgroup v2 with processes ` +
          'may not have limited children ("no internal processes"); move them into a leaf cgroup first',
        { cgroup: dir, file: join(dir, 'cgroup.subtree_control'), cause: error },
      );
    }
    throw error;
  }
}

function toEvents(e: Record<string, number>): MemoryEvents {
  return { low: e.low ?? 0, high: e.high ?? 0, max: e.max ?? 0, oom: e.oom ?? 0, oomKill: e.oom_kill ?? 0 };
}

/*
 * What the byte parsers fill, shared by every cgroup: reads are synchronous and each result is
 * used before the next read, and one set instead of one per agent keeps 300 agents' state small.
 */
const EVENT_KEYS = byteKeys('low', 'high', 'max', 'oom', 'oom_kill');
const eventValues = new Float64Array(EVENT_KEYS.length);
const parseEvents = (bytes: Buffer, length: number): Float64Array => parseFlatKeyedBytes(bytes, length, EVENT_KEYS, eventValues);
const eventValue = (i: number): number => (Number.isNaN(eventValues[i]) ? 0 : eventValues[i]!);
const POPULATED_KEYS = byteKeys('populated');
const populatedValue = new Float64Array(1);
const parsePopulated = (bytes: Buffer, length: number): Float64Array => parseFlatKeyedBytes(bytes, length, POPULATED_KEYS, populatedValue);
const INACTIVE_KEYS = byteKeys('inactive_file');
const inactive = new Float64Array(1);
const parseStat = (bytes: Buffer, length: number): Float64Array => parseFlatKeyedBytes(bytes, length, INACTIVE_KEYS, inactive);
const psiValues = new Float64Array(8);
const parsePressure = (bytes: Buffer, length: number): Float64Array => parsePsiBytes(bytes, length, psiValues);

/** memory.events and cgroup.events kept open and parsed in place (the files inotify announces changes of). */
function eventsReader(location: Location): EventsReader {
  const dir = dirOf(location);
  const events = new OpenFile(dir, 'memory.events');
  const cgroupEvents = new OpenFile(dir, 'cgroup.events');
  return {
    read(into) {
      if (events.readBytes(parseEvents) === undefined) return false;
      into.low = eventValue(0);
      into.high = eventValue(1);
      into.max = eventValue(2);
      into.oom = eventValue(3);
      into.oomKill = eventValue(4);
      return true;
    },
    populated: () => cgroupEvents.readBytes(parsePopulated) !== undefined && populatedValue[0] === 1,
    close() {
      events.close();
      cgroupEvents.close();
    },
  };
}

/** Whether `psi` holds `values` (parsePsiBytes's numbers): an unchanged PSI keeps its object. */
function samePsi(psi: Psi | undefined, values: Float64Array): boolean {
  if (psi === undefined) return false;
  const { some, full } = psi;
  if (some.avg10 !== values[0] || some.avg60 !== values[1] || some.avg300 !== values[2] || some.total !== values[3]) return false;
  if (full === undefined) return Number.isNaN(values[4]);
  return full.avg10 === values[4] && full.avg60 === values[5] && full.avg300 === values[6] && full.total === values[7];
}

/** memory.current + memory.events + memory.pressure, kept open; memory.stat only for the working set. */
function sampler(dir: string): MemorySampler {
  const current = new OpenFile(dir, 'memory.current');
  const stat = new OpenFile(dir, 'memory.stat');
  const events = eventsReader({ unified: dir });
  const scratch: MemoryEvents = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 };
  // Without PSI (psi=0, or a kernel before 4.20) the file never appears: stop opening it.
  let pressure: OpenFile | undefined = new OpenFile(dir, 'memory.pressure');
  return {
    sample() {
      const into = emptySample();
      return this.read(into) ? into : undefined;
    },
    read(into) {
      const bytes = current.readBytes(parseNumberBytes);
      if (bytes === undefined || !events.read(scratch)) return false;
      const read = pressure?.readBytes(parsePressure);
      if (read === undefined && pressure !== undefined && exists(dir)) {
        pressure.close();
        pressure = undefined;
      }
      into.current = bytes;
      updateEvents(into, scratch);
      if (read === undefined) into.pressure = undefined;
      else if (!samePsi(into.pressure, psiValues)) into.pressure = psiOf(psiValues);
      return true;
    },
    usage() {
      const values = stat.readBytes(parseStat);
      const bytes = current.readBytes(parseNumberBytes);
      if (values === undefined || bytes === undefined) return undefined;
      return { current: bytes, workingSet: Math.max(0, bytes - (Number.isNaN(values[0]) ? 0 : values[0]!)) };
    },
    close() {
      current.close();
      stat.close();
      events.close();
      pressure?.close();
    },
  };
}

async function waitFrozen(dir: string, frozen: boolean): Promise<void> {
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const state = readParsed(dir, 'cgroup.events', parseFlatKeyed).frozen;
    if (state === undefined || (state === 1) === frozen) return;
    await sleep(delay);
  }
}

export const v2Driver: CgroupDriver = {
  version: 2,
  keys: () => ['unified'],
  limitWrites: v2LimitWrites,

  enableControllers(location, hierarchy) {
    const dir = dirOf(location);
    const root = hierarchy.mounts.unified ?? '/';
    enable(dir, REQUIRED, root);
    // cpu and io stay unlimited: they are enabled only for their statistics, and only when offered.
    const offered = parseList(readFile(dir, 'cgroup.controllers'));
    for (const controller of OPTIONAL.filter((c) => offered.includes(c))) {
      try {
        enable(dir, [controller], root);
      } catch {
        // Optional: a realtime thread or a busy parent may refuse it; limits do not depend on it.
      }
    }
  },

  procsFiles: (location) => [join(dirOf(location), 'cgroup.procs')],
  procs: (location) => parsePids(readOptional(dirOf(location), 'cgroup.procs') ?? ''),

  populated(location) {
    return readParsedOptional(dirOf(location), 'cgroup.events', parseFlatKeyed)?.populated === 1;
  },
  threadFiles: () => undefined,
  vacant(location) {
    const events = readParsedOptional(dirOf(location), 'cgroup.events', parseFlatKeyed);
    return events?.populated === 0 && (events.frozen ?? 0) === 0;
  },

  stats(location) {
    const dir = dirOf(location);
    const stat = readParsed(dir, 'memory.stat', parseFlatKeyed);
    const current = readParsed(dir, 'memory.current', parseNumber);
    const inactiveFile = stat.inactive_file ?? 0;
    const pidsEvents = readParsedOptional(dir, 'pids.events', parseFlatKeyed) ?? {};
    return {
      memory: {
        current,
        peak: readParsedOptional(dir, 'memory.peak', parseNumber),
        workingSet: Math.max(0, current - inactiveFile),
        anon: stat.anon ?? 0,
        file: stat.file ?? 0,
        inactiveFile,
        max: readParsed(dir, 'memory.max', parseNumber),
        high: readParsed(dir, 'memory.high', parseNumber),
        swap: readParsedOptional(dir, 'memory.swap.current', parseNumber) ?? 0,
        events: events(dir) ?? { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 },
      },
      pids: {
        current: readParsedOptional(dir, 'pids.current', parseNumber) ?? 0,
        max: readParsedOptional(dir, 'pids.max', parseNumber) ?? Infinity,
        events: { max: pidsEvents.max ?? 0 },
      },
      pressure: readParsedOptional(dir, 'memory.pressure', parsePsi),
    };
  },

  memoryEvents: (location) => events(dirOf(location)),
  peak(location) {
    const dir = dirOf(location);
    const current = readParsedOptional(dir, 'memory.current', parseNumber);
    return current === undefined ? undefined : { peak: readParsedOptional(dir, 'memory.peak', parseNumber), current };
  },
  memoryLimit(location) {
    const max = readParsedOptional(dirOf(location), 'memory.max', parseNumber);
    return max === undefined ? undefined : { max, hierarchical: undefined };
  },
  eventsReader,
  sampler: (location) => sampler(dirOf(location)),

  async killAll(location, options = {}) {
    const dir = dirOf(location);
    // cgroup.kill (5.14+) kills every process atomically: no pid can be reused in between.
    if (!options.fallback && exists(dir, 'cgroup.kill')) {
      writeFile(dir, 'cgroup.kill', '1');
      return;
    }
    // Older kernels: freeze, so nothing forks or exits (and no pid is recycled) while we signal.
    await this.setFrozen(location, true);
    try {
      for (const pid of this.procs(location)) signalQuietly(pid, 'SIGKILL');
    } finally {
      await this.setFrozen(location, false);
    }
  },

  async setFrozen(location, frozen) {
    const dir = dirOf(location);
    if (!exists(dir, 'cgroup.freeze')) {
      throw new AgentHostError(ErrorCode.CGROUP_UNAVAILABLE, `the v2 freezer needs Linux 5.2+ (no cgroup.freeze in ${dir})`, {
        cgroup: dir,
      });
    }
    writeFile(dir, 'cgroup.freeze', frozen ? '1' : '0');
    await waitFrozen(dir, frozen);
  },

  eventFiles: (location) => [join(dirOf(location), 'memory.events'), join(dirOf(location), 'cgroup.events')],
};

/** Sends a signal, ignoring processes that are already gone. */
export function signalQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}
