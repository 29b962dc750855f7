import { AgentHostError, ErrorCode } from '../errors.js';

/** A duration: milliseconds as a number, or a string such as `"15m"`, `"10s"`, `"500ms"`, `"1h30m"`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Parses a {@link Duration} into milliseconds. Throws `ERR_INVALID_DURATION` unless finite and >= 0. */
export function parseDuration(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw invalid(value, what);
  }
  if (typeof value !== 'string') throw invalid(value, what);
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    // A long enough digit string is Infinity as a double: as invalid as the number Infinity.
    const ms = Number(text);
    if (Number.isFinite(ms)) return ms;
    throw invalid(value, what);
  }
  PART.lastIndex = 0;
  let total = 0;
  let matched = 0;
  for (let m = PART.exec(text); m; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = PART.lastIndex;
  }
  if (matched === 0 || matched !== text.length || !Number.isFinite(total)) throw invalid(value, what);
  return total;
}

function invalid(value: unknown, what: string): AgentHostError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new AgentHostError(
    ErrorCode.INVALID_DURATION,
    `invalid ${what} ${shown}: expected milliseconds (a finite number >= 0) or a string like "15m", "10s", "500ms"`,
  );
}
