import { AgentHostError, ErrorCode } from '../errors.js';

/** Names that become directory names in cgroupfs and in the workspace pool. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@:+-]*$/;
export const MAX_NAME_LENGTH = 128;

/**
 * Validates a cgroup or agent name: a safe charset, no `/`, no `..`, at most 128 characters,
 * so that nothing named by a caller can point outside its parent.
 */
export function validateName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new AgentHostError(ErrorCode.INVALID_NAME, `${what} must be a non-empty string`);
  }
  if (name.length > MAX_NAME_LENGTH || !NAME_PATTERN.test(name) || name.includes('..')) {
    const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
    throw new AgentHostError(
      ErrorCode.INVALID_NAME,
      `invalid ${what} ${shown}: use 1-${MAX_NAME_LENGTH} characters from A-Z a-z 0-9 _ . @ : + -, ` +
        'starting with a letter or digit, without ".."',
    );
  }
  return name;
}
