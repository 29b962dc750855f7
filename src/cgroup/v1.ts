/**
 * cgroup v1 (legacy or hybrid): a cgroup is one directory per controller hierarchy.
 * The library uses memory (limits, OOM), pids (fork bombs) and freezer (race-free kills).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { CgroupDriver } from './driver.js';
import { V1_CONTROLLERS, type Location } from './detect.js';
import { exists, readFile, readOptional, writeFile } from './files.js';
import { v1LimitWrites } from './limits.js';
import { parseFlatKeyed, parseNumber, parsePids } from './parse.js';
import type { MemoryEvents } from './stats.js';
import { signalQuietly } from './v2.js';

const memoryDir = (location: Location): string => {
  const dir = location.memory;
  if (dir === undefined) throw new AgentHostError(ErrorCode.CGROUP_UNAVAILABLE, 'no v1 memory cgroup for this cgroup');
  return dir;
};

const dirs = (location: Location): string[] =>
  V1_CONTROLLERS.map((c) => location[c]).filter((d): d is string => d !== undefined);

function events(dir: string): MemoryEvents | undefined {
  const oom = readOptional(dir, 'memory.oom_control');
  if (oom === undefined) return undefined;
  // memory.oom_control's oom_kill needs Linux 4.13+; failcnt counts hits of the limit.
  const oomKill = parseFlatKeyed(oom).oom_kill ?? 0;
  // With swap limited, memsw is the counter that hits its limit first.
  const failcnt = Math.max(
    parseNumber(readOptional(dir, 'memory.failcnt') ?? '0'),
    parseNumber(readOptional(dir, 'memory.memsw.failcnt') ?? '0'),
  );
  return { low: 0, high: 0, max: failcnt, oom: oomKill, oomKill };
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
    return this.procs(location).length > 0;
  },

  stats(location) {
    const dir = memoryDir(location);
    const stat = parseFlatKeyed(readFile(dir, 'memory.stat'));
    const current = parseNumber(readFile(dir, 'memory.usage_in_bytes'));
    const inactiveFile = stat.total_inactive_file ?? stat.inactive_file ?? 0;
    const pids = location.pids;
    const pidsEvents = pids === undefined ? {} : parseFlatKeyed(readOptional(pids, 'pids.events') ?? '');
    const memsw = readOptional(dir, 'memory.memsw.usage_in_bytes');
    return {
      memory: {
        current,
        peak: parseNumber(readFile(dir, 'memory.max_usage_in_bytes')),
        workingSet: Math.max(0, current - inactiveFile),
        anon: stat.total_rss ?? stat.rss ?? 0,
        file: stat.total_cache ?? stat.cache ?? 0,
        inactiveFile,
        max: parseNumber(readFile(dir, 'memory.limit_in_bytes')),
        high: parseNumber(readFile(dir, 'memory.soft_limit_in_bytes')),
        swap: memsw === undefined ? 0 : Math.max(0, parseNumber(memsw) - current),
        events: events(dir) ?? { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 },
      },
      pids: {
        current: pids === undefined ? 0 : parseNumber(readOptional(pids, 'pids.current') ?? '0'),
        max: pids === undefined ? Infinity : parseNumber(readOptional(pids, 'pids.max') ?? 'max'),
        events: { max: pidsEvents.max ?? 0 },
      },
      pressure: undefined,
    };
  },

  memoryEvents: (location) => events(memoryDir(location)),

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
