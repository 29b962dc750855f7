/**
 * The agent's side of timeouts (issue 5): the seed's Rust example in TypeScript. SIGUSR1 (soft
 * timeout) means "wrap up": the work loop stops at the next step and saves its state. SIGTERM
 * (hard timeout) means "stop now": onHard saves what there is, then the process exits 0. It
 * imports only `nova-agent-host/agent` (no dependencies).
 *
 *   npx tsx examples/agent-timeouts-harness.ts [--state FILE] [--wrap-up-ms MS] [--step-ms MS]
 *
 * `--wrap-up-ms` is how long wrapping up takes after the soft signal: longer than the time left
 * until the hard timeout, and SIGTERM interrupts it (onHard saves the partial state). The host's
 * half, which starts this harness under a TimeoutPolicy, is examples/agent-with-timeouts.ts; by
 * hand: start it, then `kill -USR1 <pid>` and `kill -TERM <pid>` from another terminal.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { onTimeoutSignals } from 'nova-agent-host/agent';

const { values } = parseArgs({
  options: {
    state: { type: 'string' },
    'wrap-up-ms': { type: 'string', default: '0' },
    'step-ms': { type: 'string', default: '100' },
  },
});
const id = process.env.NOVA_AGENT_ID ?? `pid-${process.pid}`;
const stateFile = values.state ?? join(tmpdir(), `nova-agent-${id}.state.json`);
const wrapUpMs = Number(values['wrap-up-ms']);
const stepMs = Number(values['step-ms']);
const log = (message: string): void => void process.stderr.write(`[${id}] ${message}\n`);

let step = 0;
const save = (how: string): void => {
  writeFileSync(stateFile, `${JSON.stringify({ id, step, how, at: new Date().toISOString() })}\n`);
  log(`state saved to ${stateFile}: step ${step}, ${how}`);
};

const timeouts = onTimeoutSignals({
  onSoft: (signal) => log(`${signal}: soft timeout, wrapping up`),
  // Runs on SIGTERM; the process exits 0 once it returns (the seed's `exit(0)`).
  onHard: (signal) => {
    log(`${signal}: hard timeout, stopping now`);
    save('interrupted by the hard timeout');
  },
});

log(`working (pid ${process.pid}); soft signal: wrap up, hard signal: stop`);
// The work loop: one step at a time until told to wrap up.
while (!timeouts.signal.aborted) {
  step++;
  await sleep(stepMs);
}
if (!timeouts.hardSignal.aborted) {
  // Finishing the current task takes a while; the hard signal may still cut it short.
  await sleep(wrapUpMs, undefined, { signal: timeouts.hardSignal }).catch(() => {});
  if (!timeouts.hardSignal.aborted) {
    save('wrapped up after the soft timeout');
    timeouts.dispose();
  }
}
