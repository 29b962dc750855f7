import { AgentHostError, ErrorCode } from '../errors.js';

/**
 * A memory size: bytes as a number, or a string such as `"4G"`, `"3GiB"`, `"512M"`, `"64k"`, `"1.5G"`.
 * Suffixes are binary (K = 1024), as the kernel and systemd read them; `B`/`iB` are optional.
 * `"max"` (or `"infinity"`) means no limit.
 */
export type Size = number | string;

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };
// "i" only after a unit ("GiB"), never on its own ("4iB" is a typo, not 4 bytes).
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(?:([kmgtpe])(?:i?b)?|b)?$/i;

/**
 * Parses a {@link Size} into bytes; `Infinity` stands for "max".
 * Throws `ERR_INVALID_SIZE` for anything else (negative, NaN, `Infinity` as a number, `"1e999"`, `"4XB"`).
 */
export function parseSize(value: Size, what = 'size'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw invalid(value, what);
  }
  if (typeof value !== 'string') throw invalid(value, what);
  const text = value.trim();
  if (/^(max|infinity)$/i.test(text)) return Infinity;
  const match = SIZE_PATTERN.exec(text);
  if (!match) throw invalid(value, what);
  const bytes = Math.floor(Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw invalid(value, what);
  return bytes;
}

/** Formats bytes the way a person reads them: `4.0G`, `512M`, `max`. */
export function formatBytes(bytes: number): string {
  if (bytes === Infinity) return 'max';
  if (!Number.isFinite(bytes)) return '-';
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(value < 10 ? 1 : 0)}${units[unit]}`;
}

function invalid(value: unknown, what: string): AgentHostError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new AgentHostError(
    ErrorCode.INVALID_SIZE,
    `invalid ${what} ${shown}: expected bytes (a non-negative integer) or a string like "4G", "512M", "max"`,
  );
}

/**
 * `1234567.8` → `"1,234,567.8"` with `fractionDigits` decimals. Not `toLocaleString`: its first
 * call loads ICU's locale data, ~7 MB of RSS in an orchestrator that must stay small.
 */
export function groupDigits(value: number, fractionDigits = 0): string {
  const [whole, fraction] = value.toFixed(fractionDigits).split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
