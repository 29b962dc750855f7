/**
 * The memory monitor wired to a host: it samples the live runs; its kills go through each run's
 * one stop path — at once (`relief`: an emergency, a livelock) or after an eviction notice
 * (`evicted`: the notice signal, the kill after its grace, brought forward if memory turns
 * critical meanwhile); its pause policy freezes and thaws runs (`pause`/`resume`, timeouts'
 * clock stopped); its host-level pressure pauses and resumes admission, announced after the
 * `pressure` event that caused it; each tick asks admission again (memory may have been freed).
 */
import type { Cgroup } from '../cgroup/cgroup.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { MemoryMonitor, type MemoryMonitorOptions, type MonitoredAgent } from '../monitor/index.js';
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
  const find = (id: string): AgentRun => {
    const run = runs.get(id);
    if (!run) throw new AgentHostError(ErrorCode.AGENT_NOT_FOUND, `no live agent ${id}`);
    return run;
  };
  /**
   * Each run as the monitor sees it, made once per run: its fields read the run, so a tick lists
   * hundreds of agents without making an object for each.
   */
  const views = new WeakMap<AgentRun, MonitoredAgent>();
  const viewOf = (run: AgentRun): MonitoredAgent => {
    let view = views.get(run);
    if (view === undefined) {
      const { agent } = run;
      view = {
        id: agent.id,
        get cgroup() {
          return agent.cgroup!;
        },
        priority: agent.priority,
        protected: agent.protected,
        preferred: agent.preferred,
        get startedAt() {
          return agent.startedAt;
        },
        get pausedAt() {
          return run.pausedAt;
        },
      };
      views.set(run, view);
    }
    return view;
  };
  /** Runs given an eviction notice whose grace is still running: at `critical` their kill comes at once. */
  const noticed = new Set<AgentRun>();
  const monitor = new MemoryMonitor(
    {
      root: link.root,
      // Agents being stopped are neither sampled nor offered as victims again.
      agents: function* () {
        for (const run of runs.values()) if (run.live) yield viewOf(run);
      },
      kill: async (id, info) => {
        const run = find(id);
        if (!info.eviction) return void (await run.stop('relief', { grace: 0, details: { ...info } }));
        // A notice: resolves once it is sent; the monitor then waits for the run's end (released).
        const { signal, graceMs } = info.eviction;
        noticed.add(run);
        void run.stop('evicted', { grace: graceMs, signal, details: { ...info } }).finally(() => noticed.delete(run));
      },
      released: (id) => runs.get(id)?.result.then(() => undefined) ?? Promise.resolve(),
      pause: async (id, info) => {
        const run = find(id);
        if (run.agent.protected) throw new AgentHostError(ErrorCode.INVALID_OPTION, `agent ${id} is protected: it is never frozen`);
        await run.pause();
        run.agent.emit('pause', info);
        events.emit('pause', run.agent, info);
      },
      resume: async (id, info) => {
        const run = find(id);
        if (run.state !== 'paused') return;
        await run.resume();
        // A stop meanwhile thawed it on its own way out: that is no resume.
        if (run.agent.state !== 'running') return;
        run.agent.emit('resume', info);
        events.emit('resume', run.agent, info);
      },
    },
    options,
  );
  // Memory may have been freed (or an estimate changed): the head of the queue may fit now.
  monitor.on('sample', () => admission.recheck());
  monitor.on('pressure', (event) => {
    if (event.scope === 'agent') runs.get(event.id)?.agent.emit('pressure', event);
    // First the pressure, then the queue pause or resume it causes.
    events.emit('pressure', event);
    if (event.scope !== 'host') return;
    // Critical: waiting out a notice's grace is no longer safe.
    if (event.level === 'critical') for (const run of noticed) void run.stop('evicted', { grace: 0 });
    const percent = (event.memory.usedRatio * 100).toFixed(1);
    if (event.level === 'normal') admission.resume('memory', `memory ${percent}% is back below the high threshold`);
    else admission.pause('memory', `memory ${percent}% is at level ${event.level}`);
  });
  monitor.on('relief', (report) => events.emit('relief', report));
  monitor.on('error', (error) => events.emit('error', error));
  return monitor;
}
