/**
 * Parsers for every kernel file format the library reads. Nothing else in the code base
 * splits kernel text: a format change is fixed here once.
 */
import { AgentHostError, ErrorCode } from '../errors.js';

/** A line of `/proc/<pid>/cgroup`: `hierarchy-id:controllers:path`. */
export interface ProcCgroupEntry {
  id: number;
  /** Empty for the v2 (unified) line, `['memory']`, `['cpu','cpuacct']`, `['name=systemd']` for v1. */
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const entries: ProcCgroupEntry[] = [];
  for (const line of lines(text)) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    entries.push({
      id: Number(line.slice(0, first)),
      controllers: list === '' ? [] : list.split(','),
      path: line.slice(second + 1),
    });
  }
  return entries;
}

/** A cgroup or cgroup2 line of `/proc/<pid>/mountinfo`. */
export interface CgroupMount {
  /** Path of the mount's root inside the hierarchy (not `/` for a bind mount of a sub-cgroup). */
  root: string;
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2';
  /** Super options: for v1 they name the controllers (`rw,memory`). */
  superOptions: string[];
  readOnly: boolean;
}

export function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of lines(text)) {
    // id parent major:minor root mount-point mount-options [optional...] - fstype source super-options
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    const fsType = right[0];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({
      root: unescapeMount(left[3] ?? '/'),
      mountPoint: unescapeMount(left[4] ?? ''),
      fsType,
      superOptions: (right[2] ?? '').split(','),
      readOnly: (left[5] ?? '').split(',').includes('ro'),
    });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(value: string): string {
  return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Flat-keyed files: `key value` per line (memory.events, memory.stat, pids.events, cgroup.events,
 * cgroup.stat, v1 memory.oom_control, /proc/meminfo without its `kB` suffix handled by the caller).
 */
export function parseFlatKeyed(text: string): Record<string, number> {
  // Index arithmetic instead of split(): the monitor parses a few of these per agent every tick,
  // and every small string it makes is garbage V8 must collect.
  const result: Record<string, number> = {};
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const space = text.indexOf(' ', start);
    if (space >= 0 && space < end) result[text.slice(start, space)] = parseNumber(text.slice(space + 1, end));
    start = end + 1;
  }
  return result;
}

/** `/proc/meminfo`: `MemTotal:   24538000 kB` → bytes. */
export function parseMeminfo(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of lines(text)) {
    const match = /^([^:]+):\s+(\d+)(?:\s+kB)?$/.exec(line);
    if (match) result[match[1]!] = Number(match[2]) * (line.endsWith('kB') ? 1024 : 1);
  }
  return result;
}

/** A single number, or `max` (v2) / the v1 "unlimited" sentinel (PAGE_COUNTER_MAX pages) → Infinity. */
export function parseNumber(text: string): number {
  const value = text.trim();
  if (value === 'max') return Infinity;
  const n = Number(value);
  if (value === '' || !Number.isFinite(n)) {
    throw new AgentHostError(ErrorCode.CGROUP_PARSE, `expected a number or "max", got ${JSON.stringify(value)}`);
  }
  // v1 reports "no limit" as a huge page-aligned value (2^63 - page size): beyond any real memory.
  return n >= 2 ** 62 ? Infinity : n;
}

/** Pressure stall information line set: `some avg10=0.00 avg60=0.00 avg300=0.00 total=0`. */
export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Total stall time in microseconds. */
  total: number;
}

/** Pressure stall information of one file (memory.pressure here): how much time tasks lost waiting for the resource. */
export interface Psi {
  /** Time at least one task stalled. */
  some: PsiLine;
  /** Time all non-idle tasks stalled at once: no progress at all. Missing in cpu.pressure on older kernels. */
  full?: PsiLine;
}

export function parsePsi(text: string): Psi {
  // One grammar for both forms: the string goes through the byte parser below.
  const bytes = Buffer.from(text, 'latin1');
  return psiOf(parsePsiBytes(bytes, bytes.length, new Float64Array(8)));
}

/** cgroup.procs / tasks: one pid per line. */
export function parsePids(text: string): number[] {
  const pids: number[] = [];
  for (const line of lines(text)) {
    const pid = Number(line);
    if (Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

/** cgroup.controllers / cgroup.subtree_control: space-separated names. */
export function parseList(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/** Any line of `/proc/<pid>/mountinfo` (host setup looks for its tmpfs scratch mount). */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-mount options (`rw,nosuid,...`). */
  mountOptions: string[];
  /** Per-superblock options (tmpfs: `size=...k,mode=1777`). */
  superOptions: string[];
}

export function parseMounts(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of lines(text)) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const right = line.slice(dash + 3).split(' ');
    mounts.push({
      mountPoint: unescapeMount(left[4] ?? ''),
      fsType: right[0] ?? '',
      source: unescapeMount(right[1] ?? ''),
      mountOptions: (left[5] ?? '').split(','),
      superOptions: (right[2] ?? '').split(','),
    });
  }
  return mounts;
}

/** A swap area from `/proc/swaps` (header line skipped); sizes in bytes. */
export interface SwapArea {
  filename: string;
  type: string;
  size: number;
  used: number;
  priority: number;
}

export function parseSwaps(text: string): SwapArea[] {
  const areas: SwapArea[] = [];
  for (const line of lines(text)) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'Filename' || fields.length < 5) continue;
    // The file name may contain spaces (escaped as \040); the four numeric-ish columns are last.
    const [type, size, used, priority] = fields.slice(-4) as [string, string, string, string];
    areas.push({
      filename: unescapeMount(fields.slice(0, -4).join(' ')),
      type,
      size: Number(size) * 1024,
      used: Number(used) * 1024,
      priority: Number(priority),
    });
  }
  return areas;
}

/**
 * A `/proc/sys` value: one or more integers (`ip_local_port_range` has two). Values beyond 2^53
 * (systemd sets fs.file-max to LONG_MAX) lose precision, not magnitude: fine for comparisons.
 */
export function parseSysctl(text: string): number[] {
  const fields = text.trim().split(/\s+/);
  if (fields.some((field) => !/^-?\d+$/.test(field))) {
    throw new AgentHostError(ErrorCode.CGROUP_PARSE, `expected integers, got ${JSON.stringify(text.trim())}`);
  }
  return fields.map(Number);
}

/** A sysfs choice file (`always [madvise] never`): the bracketed, selected word. */
export function parseSelected(text: string): string {
  const match = /\[([^\]]+)\]/.exec(text);
  if (!match) throw new AgentHostError(ErrorCode.CGROUP_PARSE, `no [selected] value in ${JSON.stringify(text.trim())}`);
  return match[1]!;
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/*
 * Byte-level twins of the parsers above, for files re-read every second into one reused Buffer
 * (OpenFile.readBytes): numbers straight from the bytes into the caller's Float64Array, so an idle
 * host allocates nothing per agent per tick. Anything unusual (a sign, an exponent, over 15
 * digits) goes through the string parser, so both accept and reject the same text.
 */
const [SPACE, NEWLINE, TAB, DIGIT_0, DOT] = [0x20, 0x0a, 0x09, 0x30, 0x2e];

const isSpace = (byte: number): boolean => byte === SPACE || byte === NEWLINE || byte === TAB || byte === 0x0d;

/** The keys a byte-level keyed parse picks out, encoded once. */
export type ByteKeys = readonly Uint8Array[];

/** Encodes `names` for {@link parseFlatKeyedBytes} / {@link parseMeminfoBytes}: the value of `names[i]` lands in `out[i]`. */
export function byteKeys(...names: string[]): ByteKeys {
  return names.map((name) => Buffer.from(name, 'latin1'));
}

/** {@link parseNumber} of `bytes[start, end)`. */
function numberAt(bytes: Uint8Array, start: number, end: number): number {
  while (start < end && isSpace(bytes[start]!)) start++;
  while (end > start && isSpace(bytes[end - 1]!)) end--;
  if (end > start && end - start <= 15) {
    let n = 0;
    let i = start;
    for (; i < end; i++) {
      const digit = bytes[i]! - DIGIT_0;
      if (digit < 0 || digit > 9) break;
      n = n * 10 + digit;
    }
    if (i === end) return n;
  }
  return parseNumber(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'));
}

/** {@link parseNumber} of the first `length` bytes. */
export function parseNumberBytes(bytes: Uint8Array, length: number): number {
  return numberAt(bytes, 0, length);
}

/** Whether `bytes[at, at + key.length)` is `key`. */
function matches(bytes: Uint8Array, at: number, end: number, key: Uint8Array): boolean {
  if (end - at !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key[i]) return false;
  return true;
}

function keyIndex(bytes: Uint8Array, start: number, end: number, keys: ByteKeys): number {
  for (let k = 0; k < keys.length; k++) if (matches(bytes, start, end, keys[k]!)) return k;
  return -1;
}

/**
 * {@link parseFlatKeyed} of the first `length` bytes, keeping only `keys`: the value of `keys[i]`
 * in `out[i]`, NaN where the file has no such key. Returns `out`.
 */
export function parseFlatKeyedBytes(bytes: Uint8Array, length: number, keys: ByteKeys, out: Float64Array): Float64Array {
  out.fill(NaN);
  for (let start = 0; start < length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0 || end > length) end = length;
    const space = bytes.indexOf(SPACE, start);
    if (space >= 0 && space < end) {
      const k = keyIndex(bytes, start, space, keys);
      if (k >= 0) out[k] = numberAt(bytes, space + 1, end);
    }
    start = end + 1;
  }
  return out;
}

/**
 * {@link parseMeminfo} of the first `length` bytes, keeping only `keys` (bytes: `kB` values × 1024):
 * the value of `keys[i]` in `out[i]`, NaN where absent or malformed. Returns `out`.
 */
export function parseMeminfoBytes(bytes: Uint8Array, length: number, keys: ByteKeys, out: Float64Array): Float64Array {
  out.fill(NaN);
  for (let start = 0; start < length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0 || end > length) end = length;
    const colon = bytes.indexOf(0x3a, start);
    const k = colon >= 0 && colon < end ? keyIndex(bytes, start, colon, keys) : -1;
    if (k >= 0) {
      // `Key:` blanks digits, then an optional blanks + `kB`, then the end of the line.
      let i = colon + 1;
      while (i < end && (bytes[i] === SPACE || bytes[i] === TAB)) i++;
      const digits = i;
      let n = 0;
      for (; i < end && bytes[i]! >= DIGIT_0 && bytes[i]! <= DIGIT_0 + 9; i++) n = n * 10 + bytes[i]! - DIGIT_0;
      const blanks = i;
      while (i < end && (bytes[i] === SPACE || bytes[i] === TAB)) i++;
      const kB = end - i === 2 && bytes[i] === 0x6b && bytes[i + 1] === 0x42 && i > blanks;
      if (digits > colon + 1 && i > digits && (kB || (blanks === end))) out[k] = kB ? n * 1024 : n;
    }
    start = end + 1;
  }
  return out;
}

const PSI_KEYS = byteKeys('avg10', 'avg60', 'avg300', 'total');
const SOME = Buffer.from('some');
const FULL = Buffer.from('full');

/** A decimal (`12.34`, `123456`) of `bytes[start, end)`, NaN when it is none: n / 10^k is exactly what Number() gives. */
function decimalAt(bytes: Uint8Array, start: number, end: number): number {
  let n = 0;
  let scale = 1;
  let dot = false;
  if (start >= end) return NaN;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    if (byte === DOT && !dot) dot = true;
    else if (byte >= DIGIT_0 && byte <= DIGIT_0 + 9) {
      n = n * 10 + byte - DIGIT_0;
      if (dot) scale *= 10;
    } else return NaN;
  }
  return n / scale;
}

/**
 * {@link parsePsi} of the first `length` bytes into `out` (8 numbers: some avg10, avg60, avg300,
 * total, then the same of full; NaN for a missing line, 0 for a missing field). Throws
 * `ERR_CGROUP_PARSE` without a `some` line, as parsePsi does. Returns `out`.
 */
export function parsePsiBytes(bytes: Uint8Array, length: number, out: Float64Array): Float64Array {
  out.fill(NaN);
  for (let start = 0; start < length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0 || end > length) end = length;
    const space = bytes.indexOf(SPACE, start);
    const kind = space < 0 || space >= end ? -1 : matches(bytes, start, space, SOME) ? 0 : matches(bytes, start, space, FULL) ? 4 : -1;
    if (kind >= 0) {
      out.fill(0, kind, kind + 4);
      for (let field = space + 1; field < end; ) {
        let stop = bytes.indexOf(SPACE, field);
        if (stop < 0 || stop > end) stop = end;
        const eq = bytes.indexOf(0x3d, field);
        if (eq >= 0 && eq < stop) {
          const k = keyIndex(bytes, field, eq, PSI_KEYS);
          if (k >= 0) out[kind + k] = decimalAt(bytes, eq + 1, stop);
        }
        field = stop + 1;
      }
    }
    start = end + 1;
  }
  if (Number.isNaN(out[0])) throw new AgentHostError(ErrorCode.CGROUP_PARSE, 'pressure file has no "some" line');
  return out;
}

/** The {@link Psi} of {@link parsePsiBytes}'s numbers. */
export function psiOf(values: ArrayLike<number>): Psi {
  const line = (at: number): PsiLine => ({ avg10: values[at]!, avg60: values[at + 1]!, avg300: values[at + 2]!, total: values[at + 3]! });
  return Number.isNaN(values[4]) ? { some: line(0) } : { some: line(0), full: line(4) };
}

/** Whether cgroup.procs / tasks (the first `length` bytes) lists any process, as a non-empty {@link parsePids} would say. */
export function hasPidBytes(bytes: Uint8Array, length: number): boolean {
  for (let start = 0; start < length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end < 0 || end > length) end = length;
    let nonZero = false;
    let i = start;
    for (; i < end && bytes[i]! >= DIGIT_0 && bytes[i]! <= DIGIT_0 + 9; i++) if (bytes[i] !== DIGIT_0) nonZero = true;
    if (i === end && nonZero) return true;
    start = end + 1;
  }
  return false;
}
