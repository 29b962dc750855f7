/**
 * The memory monitor wired to a host: it samples the live runs, stops its victims through their
 * one stop path (reason `relief`, at once), and its host-level pressure pauses and resumes
 * admission, announced after the `pressure` event that caused it.
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { MemoryMonitor, type MemoryMonitorOptions } from '../monitor/index.js';
import type { TypedEmitter } from '../util/emitter.js';
import type { Admission } from './admission.js';
import type { Agent } from './agent.js';
import type { AgentRun } from './agent-run.js';
import type { HostEventMap } from './events.js';

/** What the monitor is wired to. */
export interface MonitorLink {
  readonly runs: ReadonlyMap<string, AgentRun>;
  readonly admission: Admission;
  /** The agents' root once placed: the budget's cgroup limits are looked up from it. */
  readonly root: () => Cgroup | undefined;
  /** The host, re-emitting the monitor's events with their types. */
  readonly events: Pick<TypedEmitter<HostEventMap<Agent>>, 'emit'>;
}

/** A monitor over `link`'s runs; started by the host's `start()`. */
export function linkMonitor(options: MemoryMonitorOptions, link: MonitorLink): MemoryMonitor {
  const { runs, admission, events } = link;
  const monitor = new MemoryMonitor(
    {
      root: link.root,
      // Agents being stopped are neither sampled nor offered as victims again.
      agents: () =>
        [...runs.values()]
          .filter((run) => run.live)
          .map(({ agent }) => ({ id: agent.id, cgroup: agent.cgroup!, priority: agent.priority, protected: agent.protected, preferred: agent.preferred })),
      kill: async (id, info) => {
        const run = runs.get(id);
        if (!run) throw new AgentHostError(ErrorCode.AGENT_NOT_FOUND, `no live agent ${id}`);
        await run.stop('relief', { grace: 0, details: { ...info } });
      },
    },
    options,
  );
  monitor.on('pressure', (event) => {
    if (event.scope === 'agent') runs.get(event.id)?.agent.emit('pressure', event);
    // First the pressure, then the queue pause or resume it causes.
    events.emit('pressure', event);
    if (event.scope !== 'host') return;
    const percent = (event.memory.usedRatio * 100).toFixed(1);
    if (event.level === 'normal') admission.resume('memory', `memory ${percent}% is back below the high threshold`);
    else admission.pause('memory', `memory ${percent}% is at level ${event.level}`);
  });
  monitor.on('relief', (report) => events.emit('relief', report));
  monitor.on('error', (error) => events.emit('error', error));
  return monitor;
}
