/**
 * System memory from /proc/meminfo and host PSI from /proc/pressure/memory, read through
 * files kept open (procfs regenerates both on every read at offset 0, like cgroupfs).
 */
import { join } from 'node:path';
import { OpenFile } from '../cgroup/files.js';
import { parseMeminfo, parsePsi, type Psi } from '../cgroup/parse.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { HostMemory } from './types.js';

/** Host memory from parsed meminfo (bytes): used = total − MemAvailable. */
export function toHostMemory(meminfo: Record<string, number>, pressure?: Psi): HostMemory {
  const total = meminfo.MemTotal;
  if (total === undefined || !(total > 0)) {
    throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, 'meminfo has no MemTotal');
  }
  // MemAvailable needs Linux 3.14; before it, free + buffers + page cache is the usual estimate.
  const available = Math.min(
    total,
    meminfo.MemAvailable ?? (meminfo.MemFree ?? 0) + (meminfo.Buffers ?? 0) + (meminfo.Cached ?? 0),
  );
  const used = total - available;
  return {
    total,
    available,
    used,
    usedRatio: used / total,
    swapTotal: meminfo.SwapTotal ?? 0,
    swapFree: meminfo.SwapFree ?? 0,
    ...(pressure && { pressure }),
  };
}

export class HostMemoryReader {
  readonly #meminfo: OpenFile;
  /** Dropped after the first failure: a kernel without PSI never grows it. */
  #pressure: OpenFile | undefined;

  constructor(procRoot = '/proc') {
    this.#meminfo = new OpenFile(procRoot, 'meminfo');
    this.#pressure = new OpenFile(join(procRoot, 'pressure'), 'memory');
  }

  read(): HostMemory {
    let text: string | undefined;
    try {
      text = this.#meminfo.read();
    } catch (error) {
      throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, `cannot read ${this.#meminfo.path}: ${(error as Error).message}`, {
        file: this.#meminfo.path,
        cause: error,
      });
    }
    if (text === undefined) {
      throw new AgentHostError(ErrorCode.HOST_MEMORY_UNAVAILABLE, `${this.#meminfo.path} does not exist (is /proc mounted?)`, {
        file: this.#meminfo.path,
      });
    }
    try {
      return toHostMemory(parseMeminfo(text), this.#readPressure());
    } catch (error) {
      if (error instanceof AgentHostError && error.code === ErrorCode.HOST_MEMORY_UNAVAILABLE) {
        throw new AgentHostError(error.code, `${this.#meminfo.path}: ${error.message}`, { file: this.#meminfo.path });
      }
      throw error;
    }
  }

  #readPressure(): Psi | undefined {
    if (this.#pressure === undefined) return undefined;
    try {
      const text = this.#pressure.read();
      if (text !== undefined) return parsePsi(text);
    } catch {
      // EOPNOTSUPP (psi disabled) or an unreadable format: host PSI is optional.
    }
    this.#pressure.close();
    this.#pressure = undefined;
    return undefined;
  }

  close(): void {
    this.#meminfo.close();
    this.#pressure?.close();
  }
}
