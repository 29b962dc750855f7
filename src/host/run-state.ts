/** An agent's states and the one table of the transitions between them. */
import type { AgentState } from './events.js';

/**
 * The one transition table. `starting` is the cgroup being made and the process forked; a stop
 * asked for then is carried out as soon as the process exists (it cannot be signalled before).
 * `paused` is a frozen cgroup, its timeouts' clock stopped.
 */
export const NEXT: Readonly<Record<AgentState, readonly AgentState[]>> = {
  queued: ['starting', 'exited'],
  starting: ['running', 'exited'],
  running: ['paused', 'stopping', 'exited'],
  paused: ['running', 'stopping', 'exited'],
  stopping: ['exited'],
  exited: [],
};

/** `next` if the table allows `from → next`; anything else is a bug in the caller, and throws. */
export function transition(id: string, from: AgentState, next: AgentState): AgentState {
  if (!NEXT[from].includes(next)) throw new Error(`agent ${id}: no transition ${from} → ${next}`);
  return next;
}
