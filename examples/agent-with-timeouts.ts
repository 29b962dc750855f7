/**
 * Timeouts, both sides (the seed: "15 minute soft limit — SIGUSR1, 30 minute hard limit — SIGTERM").
 * Shortened here to 3 s soft / 6 s hard / 1 s grace (enough for node + tsx to start on a busy machine:
 * a Node agent that gets SIGUSR1 before it installs its handler opens the inspector instead). Two agents run the harness in
 * examples/agent-timeouts-harness.ts, which uses `onTimeoutSignals` from `nova-agent-host/agent`:
 *   - "quick" wraps up within 0.5 s of SIGUSR1: saves its state and exits before the hard timeout;
 *   - "slow" needs 10 s to wrap up: SIGTERM at the hard timeout interrupts it and it saves partial state.
 *
 *   npx tsx examples/agent-with-timeouts.ts
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentHost, TimeoutPolicy } from 'nova-agent-host';

const host = new AgentHost({ timeouts: new TimeoutPolicy({ soft: '3s', hard: '6s', grace: '1s' }) });
host.on('soft-timeout', (agent, e) => console.log(`${agent.id}: soft timeout after ${Math.round(e.elapsedMs)} ms (SIGUSR1)`));
host.on('hard-timeout', (agent, e) => console.log(`${agent.id}: hard timeout after ${Math.round(e.elapsedMs)} ms (SIGTERM)`));
await host.start();
try {
  const harness = join(import.meta.dirname, 'agent-timeouts-harness.ts');
  const agents = await Promise.all(
    (
      [
        ['quick', 500],
        ['slow', 10_000],
      ] as const
    ).map(([id, wrapUpMs]) =>
      host.spawn(id, {
        command: process.execPath,
        args: ['--import', 'tsx', harness, '--state', join(tmpdir(), `${id}.state.json`), '--wrap-up-ms', String(wrapUpMs)],
        cwd: join(import.meta.dirname, '..'),
        stdio: 'inherit',
      }),
    ),
  );
  for (const agent of agents) {
    const result = await agent.result;
    const state = readFileSync(join(tmpdir(), `${agent.id}.state.json`), 'utf8');
    console.log(`${agent.id}: reason=${result.reason} exitCode=${result.exitCode} after ${result.durationMs} ms; saved ${state}`);
  }
} finally {
  await host.dispose();
}
