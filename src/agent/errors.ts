/**
 * Argument errors of the agent side. It cannot use the orchestrator's `AgentHostError` (no
 * imports from outside src/agent/), so it throws the built-in `RangeError`/`TypeError` carrying
 * the same stable code the orchestrator uses for a bad option.
 */

/** The `code` of every argument error thrown by `nova-agent-host/agent`. */
export const INVALID_OPTION = 'ERR_INVALID_OPTION';

/** A `RangeError` (or `TypeError`) with `code: 'ERR_INVALID_OPTION'`. */
export function invalidOption(message: string, kind: 'range' | 'type' = 'range'): RangeError & { code: typeof INVALID_OPTION } {
  const error = kind === 'range' ? new RangeError(message) : new TypeError(message);
  return Object.assign(error, { code: INVALID_OPTION as typeof INVALID_OPTION });
}
