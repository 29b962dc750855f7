/**
 * Expected peaks: how much memory an agent will want at its worst, before it has grown there.
 * Admitting by memory used *now* admits every agent of a burst while they are still small, and
 * they grow later; admitting by expected peak holds back the ones that will not fit.
 *
 * The figure comes from, in order: the spawn option `expectedMemory`; what this host learned
 * from earlier agents of the same `profile`; what it learned from all its agents; the agent's
 * own `memoryHigh` (the capacity plan's sizing: 300 agents × 3G fits 85 % of 1.5 TB). Learned peaks are
 * kept in one small JSON file in the state directory, so a restarted orchestrator still knows them.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseSize, type Size } from '../util/size.js';
import { isAlive } from './ownership.js';

/** Where learned peaks live below the state directory: not a `*.json` of its own there, which would read as an agent's record. */
export const PEAKS_FILE = join('profiles', 'peaks.json');

/** Options of a {@link PeakBook}. */
export interface PeakBookOptions {
  /** Peaks kept per profile (the newest). Default 20. */
  keep?: number;
  /** Peaks kept of all agents together. Default 100. */
  keepAll?: number;
  /** Profiles kept (the most recently updated). Default 1000. */
  profiles?: number;
  /** The percentile of the kept peaks taken as the expected peak, 0–1. Default 0.9: an outlier does not hold a whole profile back forever. */
  percentile?: number;
  /** Writes are gathered for this long (ms; 0 writes at once): a burst of exits costs one write. Default 1000. */
  saveDelay?: number;
}

/** Where an expected peak came from. */
export type ExpectedSource = 'option' | 'profile' | 'host' | 'memory-high' | 'none';

/** An agent's expected peak and its source. */
export interface ExpectedPeak {
  /** Bytes; never above the agent's `memoryMax`. 0 when nothing at all is known (no option, no history, no memoryHigh). */
  bytes: number;
  source: ExpectedSource;
}

/** What {@link PeakBook.expected} needs to know about an agent. */
export interface ExpectedPeakInput {
  /** The spawn option `expectedMemory`. */
  expectedMemory?: Size;
  /** The spawn option `profile`: agents alike in memory (a repository plus a task kind, say). */
  profile?: string;
  /** The agent's memory.high and memory.max, bytes (Infinity: none). */
  memoryHigh?: number;
  memoryMax?: number;
}

interface Stored {
  version: 1;
  all: number[];
  profiles: Record<string, { peaks: number[]; updated: number }>;
}

const DEFAULTS = { keep: 20, keepAll: 100, profiles: 1000, percentile: 0.9, saveDelay: 1000 } as const;

function invalid(message: string): AgentHostError {
  return new AgentHostError(ErrorCode.INVALID_OPTION, message);
}

/** Validates a spawn option `profile`: a non-empty string of at most 200 characters. */
export function validateProfile(profile: unknown): string | undefined {
  if (profile === undefined) return undefined;
  if (typeof profile !== 'string' || profile.length === 0 || profile.length > 200) {
    throw invalid(`profile must be a non-empty string of at most 200 characters, got ${JSON.stringify(profile)}`);
  }
  return profile;
}

/** The nearest-rank `p` percentile of `values` (not empty). */
function percentile(values: readonly number[], p: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/**
 * Learned peaks per profile and of all agents, persisted in `dir` (no `dir`: in memory only).
 * The host owns one: it records each completed agent's peak and asks for a candidate's expected peak.
 */
export class PeakBook {
  readonly #file: string | undefined;
  readonly #options: Required<PeakBookOptions>;
  #data: Stored = { version: 1, all: [], profiles: {} };
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  /** Percentiles already worked out, until the next record: admission asks for them once per admitted agent per decision. */
  readonly #learned = new Map<string | undefined, number | undefined>();

  readonly #onError: (error: Error) => void;

  /**
   * Reads what an earlier orchestrator learned in `dir`; a missing or unreadable file starts empty.
   * `onError` hears of a delayed write that failed (the next record tries again).
   */
  constructor(dir: string | undefined, options: PeakBookOptions = {}, onError: (error: Error) => void = () => undefined) {
    this.#onError = onError;
    this.#options = { ...DEFAULTS, ...options };
    const { keep, keepAll, profiles, percentile: p, saveDelay } = this.#options;
    for (const [name, value] of Object.entries({ keep, keepAll, profiles })) {
      if (!Number.isSafeInteger(value) || value < 1) throw invalid(`${name} must be a positive integer, got ${String(value)}`);
    }
    if (typeof p !== 'number' || !(p > 0 && p <= 1)) throw invalid(`percentile must be in (0, 1], got ${String(p)}`);
    if (typeof saveDelay !== 'number' || !(saveDelay >= 0)) throw invalid(`saveDelay must be a non-negative number of ms, got ${String(saveDelay)}`);
    this.#file = dir === undefined ? undefined : join(dir, PEAKS_FILE);
    this.#load();
  }

  /** Records the peak (bytes) of an agent that ran to its end; a killed agent's peak understates it, so the host leaves those out. */
  record(profile: string | undefined, peak: number): void {
    if (!Number.isFinite(peak) || peak <= 0) return;
    this.#learned.clear();
    const { keep, keepAll, profiles } = this.#options;
    this.#data.all = [...this.#data.all, peak].slice(-keepAll);
    if (profile !== undefined) {
      const entry = this.#data.profiles[profile] ?? { peaks: [], updated: 0 };
      entry.peaks = [...entry.peaks, peak].slice(-keep);
      entry.updated = Date.now();
      this.#data.profiles[profile] = entry;
      const names = Object.keys(this.#data.profiles);
      if (names.length > profiles) {
        names.sort((a, b) => this.#data.profiles[a]!.updated - this.#data.profiles[b]!.updated);
        for (const name of names.slice(0, names.length - profiles)) delete this.#data.profiles[name];
      }
    }
    this.#schedule();
  }

  /** The learned peak of `profile` (or, without one, of all agents); `undefined` before any history. */
  learned(profile?: string): number | undefined {
    if (this.#learned.has(profile)) return this.#learned.get(profile);
    const peaks = profile === undefined ? this.#data.all : this.#data.profiles[profile]?.peaks;
    const value = peaks === undefined || peaks.length === 0 ? undefined : percentile(peaks, this.#options.percentile);
    this.#learned.set(profile, value);
    return value;
  }

  /** The expected peak of an agent: option, then profile, then all agents, then memoryHigh; at most memoryMax. */
  expected(input: ExpectedPeakInput): ExpectedPeak {
    const cap = (bytes: number, source: ExpectedSource): ExpectedPeak => ({ bytes: Math.min(bytes, input.memoryMax ?? Infinity), source });
    if (input.expectedMemory !== undefined) {
      const bytes = parseSize(input.expectedMemory, 'expectedMemory');
      if (bytes === Infinity) throw invalid('expectedMemory must be a size, not "max"');
      return cap(bytes, 'option');
    }
    const profile = input.profile === undefined ? undefined : this.learned(input.profile);
    if (profile !== undefined) return cap(profile, 'profile');
    const host = this.learned();
    if (host !== undefined) return cap(host, 'host');
    if (input.memoryHigh !== undefined && Number.isFinite(input.memoryHigh)) return cap(input.memoryHigh, 'memory-high');
    if (input.memoryMax !== undefined && Number.isFinite(input.memoryMax)) return cap(input.memoryMax, 'memory-high');
    return { bytes: 0, source: 'none' };
  }

  /** Writes pending changes now (atomically: a temp file, then rename). The host calls it on dispose. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#dirty || this.#file === undefined) return;
    this.#dirty = false;
    mkdirSync(join(this.#file, '..'), { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(this.#data), { mode: 0o600 });
    renameSync(temp, this.#file);
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#options.saveDelay === 0) return this.flush();
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      try {
        this.flush();
      } catch (error) {
        this.#dirty = true;
        this.#onError(error as Error);
      }
    }, this.#options.saveDelay);
    this.#timer.unref();
  }

  #load(): void {
    if (this.#file === undefined) return;
    const dir = join(this.#file, '..');
    try {
      // Temp files of a writer that died mid-write are half a file: never read, removed here.
      for (const name of readdirSync(dir)) {
        const writer = /\.(\d+)\.tmp$/.exec(name)?.[1];
        if (writer !== undefined && !isAlive(Number(writer))) unlinkSync(join(dir, name));
      }
      const parsed = JSON.parse(readFileSync(this.#file, 'utf8')) as Partial<Stored>;
      if (parsed.version !== 1 || !Array.isArray(parsed.all) || typeof parsed.profiles !== 'object' || parsed.profiles === null) return;
      const numbers = (values: unknown): number[] => (Array.isArray(values) ? values.filter((v): v is number => typeof v === 'number' && v > 0) : []);
      this.#data.all = numbers(parsed.all);
      for (const [name, entry] of Object.entries(parsed.profiles)) {
        this.#data.profiles[name] = { peaks: numbers(entry?.peaks), updated: Number(entry?.updated) || 0 };
      }
    } catch {
      // No file yet (a first start) or an unreadable one: learning starts over, admission falls back to memoryHigh.
    }
  }
}
