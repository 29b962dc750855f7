/**
 * When the kernel OOM-killed a process, from its own log (/dev/kmsg): the record's timestamp
 * (µs of the kernel's local clock) mapped onto process.hrtime's CLOCK_MONOTONIC by writing a
 * marker record and timing the write. Reading the kernel log is the bench's business only: the
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
