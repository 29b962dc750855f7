/**
 * The kernel's own log (/dev/kmsg), for tests and benches: when the kernel OOM-killed a process
 * (the record's timestamp, µs of the kernel's local clock, mapped onto process.hrtime's
 * CLOCK_MONOTONIC by writing a marker record and timing the write) and why (the `oom-kill:`
 * summary record). Reading the kernel log is the tests' and the bench's business only: the
 * library never parses it.
 */
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export class KernelLog {
  readonly #fd: number;
  readonly #buffer = Buffer.alloc(8192);
  /** kernel timestamp − hrtime, µs. */
  #offset = 0;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens /dev/kmsg (root), skipping what is already there; `undefined` where it is not readable and writable. */
  static open(): KernelLog | undefined {
    let fd: number;
    try {
      fd = openSync('/dev/kmsg', constants.O_RDWR | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    const log = new KernelLog(fd);
    log.records();
    log.calibrate();
    return log;
  }

  /** Records logged since the last call: [timestamp µs (kernel clock), message]. */
  records(): [number, string][] {
    const out: [number, string][] = [];
    for (;;) {
      let length: number;
      try {
        length = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // overwritten records: skip to the next one
        if (code === 'EAGAIN') return out;
        throw error;
      }
      const text = this.#buffer.toString('utf8', 0, length);
      const semi = text.indexOf(';');
      const ts = Number(text.slice(0, semi).split(',')[2]);
      out.push([ts, text.slice(semi + 1).split('\n')[0]!]);
    }
  }

  /** Maps kernel log time onto hrtime: the marker is stamped during the write(2) we time. */
  calibrate(): void {
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const marker = `nova-bench: clock ${process.pid}-${i}`;
      const before = nowUs();
      writeSync(this.#fd, `${marker}\n`);
      const after = nowUs();
      const record = this.records().find(([, message]) => message.includes(marker));
      if (record && after - before < best) {
        best = after - before;
        this.#offset = record[0] - (before + after) / 2;
      }
    }
  }

  /** The hrtime (µs) at which the kernel logged killing `pid` in an OOM, if it did since the last read. */
  oomKillOf(pid: number): number | undefined {
    const pattern = new RegExp(`Killed process ${pid} `);
    const found = this.records().find(([, message]) => pattern.test(message));
    return found === undefined ? undefined : found[0] - this.#offset;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

export { nowUs };

/**
 * The summary the kernel logs with every OOM kill (since 4.19):
 * `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/a/b,task_memcg=/a/b/c,task=x,pid=1,uid=0`.
 * A global OOM says `global_oom` instead of `oom_memcg=`. Paths are the cgroup's as /proc/<pid>/cgroup
 * prints it: the unified hierarchy's on v2, the memory hierarchy's on v1.
 */
export interface OomKillRecord {
  /** `CONSTRAINT_MEMCG`: a cgroup's limit was reached; `CONSTRAINT_NONE`: the whole machine ran out. */
  constraint: string;
  /** The cgroup whose limit was reached; `undefined` for a global OOM. */
  oomMemcg: string | undefined;
  /** The victim's cgroup. */
  taskMemcg: string;
  task: string;
  pid: number;
}

/** The `oom-kill:` summary in a kernel log message, or `undefined` for any other message. */
export function parseOomKill(message: string): OomKillRecord | undefined {
  if (!message.startsWith('oom-kill:')) return undefined;
  const fields = new Map<string, string>();
  // Values hold no commas except nodemask's and mems_allowed's lists, which are not read here.
  for (const part of message.slice('oom-kill:'.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const constraint = fields.get('constraint');
  const taskMemcg = fields.get('task_memcg');
  if (constraint === undefined || taskMemcg === undefined) return undefined;
  return { constraint, oomMemcg: fields.get('oom_memcg'), taskMemcg, task: fields.get('task') ?? '', pid: Number(fields.get('pid')) };
}

/** The OOM kills the kernel logs while a test runs, drained often enough that the ring buffer never overwrites one. */
export interface OomKillWatch {
  /** Stops watching (once; later calls only return) and returns every `oom-kill:` record logged since the watch began. */
  stop(): OomKillRecord[];
}

/**
 * Watches the kernel log for OOM kills (each kill's report runs to dozens of lines, so many kills
 * in a row can overrun the ring buffer before a single read at the end). `undefined` where
 * /dev/kmsg cannot be opened (not root).
 */
export function watchOomKills(intervalMs = 200): OomKillWatch | undefined {
  const log = KernelLog.open();
  if (log === undefined) return undefined;
  const found: OomKillRecord[] = [];
  const drain = (): void => {
    for (const [, message] of log.records()) {
      const record = parseOomKill(message);
      if (record) found.push(record);
    }
  };
  let timer: NodeJS.Timeout | undefined = setInterval(drain, intervalMs);
  return {
    stop() {
      if (timer === undefined) return found;
      clearInterval(timer);
      timer = undefined;
      drain();
      log.close();
      return found;
    },
  };
}
