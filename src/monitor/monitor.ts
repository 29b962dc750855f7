/**
 * MemoryMonitor: the one rule — memory is the only hard constraint — enforced continuously. Each
 * tick reads host memory (levels with hysteresis, for admission) and three small files per agent
 * (throttling and livelock at memory.high), runs the pause policy, and relief rounds kill by policy.
 */
import { Emitter } from '../util/emitter.js';
import { HostMemoryReader, ownCgroup } from './host-memory.js';
import { evictionNotice } from './deadline.js';
import { nextLevel } from './levels.js';
import { autoKillRound, resolveMonitorOptions, resolveRelieveOptions, type ResolvedMonitorOptions, type ResolvedRelieveOptions } from './options.js';
import { anyPaused, decideForTrackers } from './pause-step.js';
import { usedAhead } from './pause.js';
import { runRelief, untilEmpty, within, type ReliefSteps } from './relief.js';
import { AgentTracker, type DetectorSettings } from './tracker.js';
import { Trend } from './trend.js';
import type { AgentSample, HostMemory, MemoryLevel, MemoryMonitorOptions, MonitoredAgent, MonitorEvents, MonitorHost } from './types.js';
import type { PauseInfo, ReliefKill, ReliefReport, RelieveOptions, VictimCandidate } from './types.js';

const NO_SAMPLES: readonly AgentSample[] = Object.freeze([]);

/**
 * Samples host memory and every agent each `interval`: levels with hysteresis (the host pauses
 * admission at `high`), throttling and livelock at memory.high, and relief — killing agents by
 * policy until memory is below the target — on request or, with `autoKill`, while `critical`.
 * The host makes one unless `monitor: false`; `start()`/`stop()` it when used alone.
 */
export class MemoryMonitor extends Emitter<MonitorEvents> {
  readonly #host: MonitorHost;
  readonly #options: ResolvedMonitorOptions;
  #lastMemory: HostMemory | undefined;
  readonly #detector: DetectorSettings;
  readonly #reader: HostMemoryReader;
  readonly #trackers = new Map<string, AgentTracker>();
  /** Agents a relief or livelock kill was sent to, while the host still lists them. */
  readonly #killed = new Set<string>();
  #level: MemoryLevel = 'normal';
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  /** Counts passes over host.agents(): trackers a pass did not see belong to agents that are gone. */
  #pass = 0;
  /** Aborted by stop(): ends relief rounds at their next step (a cooldown at once). */
  #abort = new AbortController();
  /** Relief rounds run one after the other. */
  #reliefChain: Promise<unknown> = Promise.resolve();
  #reliefActive = 0;
  /**
   * Cleared when an auto-kill round killed nobody (nothing left to kill): another round would
   * only repeat that every tick. Set again when the level leaves `critical`.
   */
  #autoKillArmed = true;
  /** Host memory used over the last ticks: is it still rising, and how fast. */
  readonly #trend = new Trend();
  /** Agents with a freeze or thaw on its way through the host. */
  readonly #pausing = new Set<string>();
  /** Working sets of agents evicted by the pause policy, until their memory is released: as good as free. */
  readonly #leaving = new Map<string, number>();

  /** Validates `options` (`ERR_INVALID_OPTION`); sampling begins with `start()`. */
  constructor(host: MonitorHost, options: MemoryMonitorOptions = {}) {
    super();
    this.#host = host;
    this.#options = resolveMonitorOptions(options);
    this.#detector = {
      highPressure: this.#options.livelock.highPressure,
      duration: this.#options.livelock.duration,
      grace: Math.max(2 * this.#options.interval, 2000),
    };
    const { procRoot, cgroup, budget } = this.#options;
    const fallback = cgroup === undefined && procRoot === '/proc' ? ownCgroup() : cgroup || undefined;
    this.#reader = new HostMemoryReader(procRoot, { from: () => host.root?.() ?? fallback, option: budget });
  }

  /** The host memory level after the last tick (`normal` before the first). */
  get level(): MemoryLevel {
    return this.#level;
  }

  /** The resolved thresholds (fractions): what admission by expected peak reserves up to (`high`). */
  get thresholds(): { readonly high: number; readonly critical: number; readonly hysteresis: number } {
    const { high, critical, hysteresis } = this.#options;
    return { high, critical, hysteresis };
  }

  /** Whether the sampling timer runs. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts sampling: one tick now, then one every `interval`. Calling it again does nothing. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop();
  }

  /**
   * Stops sampling: clears the timer, ends relief rounds at their next step and closes every
   * file the monitor holds open. Sample history is kept; `start()` resumes.
   */
  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    this.#abort = new AbortController();
    for (const tracker of this.#trackers.values()) tracker.close();
    this.#reader.close();
  }

  /** Host memory against the budget now (`readMemory` if given): the tightest of MemTotal, the limits from the agents' root up, the `budget` option. */
  hostMemory(): HostMemory {
    return this.#options.readMemory ? this.#options.readMemory() : this.#reader.read();
  }

  /** The agent's recent samples, oldest first (at most `samples` of them). */
  agentSamples(id: string): readonly AgentSample[] {
    return this.#trackers.get(id)?.ring.toArray() ?? NO_SAMPLES;
  }

  /** The agent's usage at the last tick, bytes, without building its samples (admission asks for every agent). */
  lastUsage(id: string): number | undefined {
    return this.#trackers.get(id)?.ring.recent(1)[0]?.value;
  }

  /** Host memory as the last tick read it (`undefined` before the first): the figure the agents' last samples go with. */
  lastMemory(): HostMemory | undefined {
    return this.#lastMemory;
  }

  /** One sampling round (the timer's; tests may call it): read failures are `error` events, it rejects only when a listener throws. */
  async tick(): Promise<void> {
    let memory: HostMemory;
    try {
      memory = this.hostMemory();
    } catch (error) {
      this.emit('error', error as Error);
      return;
    }
    this.#lastMemory = memory;
    this.#trend.push(Date.now(), memory.used);
    const previous = this.#level;
    this.#level = nextLevel(previous, memory.usedRatio, this.#options);
    if (this.#level !== previous) {
      if (previous === 'critical') this.#autoKillArmed = true;
      this.emit('pressure', { scope: 'host', level: this.#level, previous, memory });
    }
    this.#sampleAgents(memory);
    this.#pausePolicy(memory);
    this.emit('sample', { memory, level: this.#level });
    if (this.#options.autoKill && this.#level === 'critical' && this.#autoKillArmed && this.#reliefActive === 0) {
      this.#autoKill();
    }
  }

  /**
   * Kills agents by policy until host memory is below the target: memory is re-read before
   * every kill, one kill is followed by a cooldown. `dryRun` kills nothing and reports what it
   * would kill. Rounds (and auto-kill) run one at a time.
   */
  async relieve(options: RelieveOptions = {}): Promise<ReliefReport> {
    return this.#relief('relieve', resolveRelieveOptions(options, this.#options));
  }

  #loop = (): void => {
    // tick() does its reading synchronously (cgroupfs reads are), so rounds never overlap. It
    // rejects only when a listener throws: report that rather than crash on an unhandled rejection.
    this.tick().catch((error: unknown) => this.emit('error', error as Error));
    if (!this.#running) return;
    this.#timer = setTimeout(this.#loop, this.#options.interval);
    this.#timer.unref();
  };

  #sampleAgents(memory: HostMemory): void {
    const pass = ++this.#pass;
    const time = Date.now();
    try {
      for (const agent of this.#host.agents()) {
        const tracker = this.#track(agent, pass);
        if (tracker === undefined) continue;
        let sample: AgentSample | undefined;
        try {
          sample = tracker.sample(time);
        } catch (error) {
          this.emit('error', error as Error);
          continue;
        }
        if (sample === undefined) continue;
        const { throttled, livelock } = tracker.detect(sample, this.#detector);
        if (!throttled && !livelock) continue;
        // The tracker refills its sample next tick: events get a copy of their own.
        const kept = { ...sample };
        if (throttled) this.emit('pressure', { scope: 'agent', id: agent.id, kind: 'throttled', sample: kept });
        if (livelock) {
          this.emit('pressure', { scope: 'agent', id: agent.id, kind: 'livelock', sample: kept });
          if (this.#options.livelock.action === 'kill') this.#livelockKill(tracker, kept, livelock.stalledMs, memory);
        }
      }
    } catch (error) {
      // host.agents() itself failed: keep the trackers, the next tick tries again.
      this.emit('error', error as Error);
      return;
    }
    this.#prune(pass);
  }

  /** The tracker of `agent`, made on first sight (or anew when its cgroup changed). */
  #track(agent: MonitoredAgent, pass: number): AgentTracker | undefined {
    let tracker = this.#trackers.get(agent.id);
    if (tracker && tracker.agent.cgroup.path !== agent.cgroup.path) {
      tracker.close();
      tracker = undefined;
    }
    if (!tracker) {
      try {
        tracker = new AgentTracker(agent, this.#options.samples);
      } catch (error) {
        this.emit('error', error as Error);
        return undefined;
      }
      this.#trackers.set(agent.id, tracker);
    }
    tracker.agent = agent;
    tracker.seen = pass;
    return tracker;
  }

  #prune(pass: number): void {
    for (const tracker of this.#trackers.values()) {
      if (tracker.seen === pass) continue;
      tracker.close();
      this.#trackers.delete(tracker.agent.id);
      this.#killed.delete(tracker.agent.id);
    }
  }

  #livelockKill(tracker: AgentTracker, sample: AgentSample, stalledMs: number, memory: HostMemory): void {
    const agent = tracker.agent;
    if (agent.protected || this.#killed.has(agent.id)) return;
    let usage: { current: number; workingSet: number } | undefined;
    try {
      usage = tracker.sampler.usage();
    } catch {
      // The working set is a figure for the report only: the sample's usage stands in.
    }
    const info: ReliefKill = {
      id: agent.id,
      reason: 'relief',
      trigger: 'livelock',
      priority: agent.priority,
      preferred: agent.preferred ?? false,
      workingSet: usage?.workingSet ?? sample.current,
      current: usage?.current ?? sample.current,
      memory,
      livelock: { sample, stalledMs },
    };
    this.#sendKill(info).catch((error: Error) => this.emit('error', error));
  }

  async #sendKill(info: ReliefKill): Promise<void> {
    this.#killed.add(info.id);
    try {
      await this.#host.kill(info.id, info);
    } catch (error) {
      this.#killed.delete(info.id);
      throw error;
    }
    this.emit('kill', info);
  }

  /** Freezes, thaws and evicts by the pause policy, where the host can freeze agents. */
  #pausePolicy(memory: HostMemory): void {
    const host = this.#host;
    const settings = this.#options.pause;
    if (settings === false || host.pause === undefined || host.resume === undefined) return;
    const rate = this.#trend.rate();
    const horizon = this.#options.interval;
    // Below high (and not about to reach it) only thawing can be due, and only with an agent frozen: most ticks end here.
    if (usedAhead(memory.usedRatio, rate, memory.total, horizon) < this.#options.high && !anyPaused(this.#trackers.values())) return;
    const away = { busy: new Set([...this.#killed, ...this.#pausing]), leaving: this.#leaving };
    const decision = decideForTrackers(this.#trackers.values(), away, memory, rate, { ...settings, high: this.#options.high, critical: this.#options.critical, horizon });
    const act = (action: 'pause' | 'resume', id: string, growth: number): void => {
      const info: PauseInfo = { id, action, growth, memory, rate };
      this.#pausing.add(id);
      (action === 'pause' ? host.pause!(id, info) : host.resume!(id, info))
        .then(
          () => this.emit(action, info),
          (error: Error) => this.emit('error', error),
        )
        .finally(() => this.#pausing.delete(id));
    };
    for (const id of decision.freeze) act('pause', id, this.#trackers.get(id)?.growth() ?? 0);
    for (const id of decision.thaw) act('resume', id, 0);
    for (const id of decision.evict) {
      const tracker = this.#trackers.get(id)!;
      const current = tracker.ring.last()?.current ?? 0;
      const eviction = this.#eviction(memory);
      const { priority, preferred = false } = tracker.agent;
      const info: ReliefKill = { id, reason: 'relief', trigger: 'hold-limit', priority, preferred, workingSet: current, current, memory, ...(eviction && { eviction }) };
      this.#leaving.set(id, current);
      this.#sendKill(info)
        .then(() => this.#released(info, tracker.agent.cgroup))
        .catch((error: Error) => this.emit('error', error))
        .finally(() => this.#leaving.delete(id));
    }
  }

  /** Resolves once a victim's memory is released (its run ended, or its cgroup empty), or after its grace and `releaseTimeout`. */
  #released(info: ReliefKill, cgroup: MonitoredAgent['cgroup'] | undefined): Promise<void> {
    const bound = (info.eviction?.graceMs ?? 0) + this.#options.releaseTimeout;
    if (this.#host.released) return within(this.#host.released(info.id), bound, this.#abort.signal);
    return cgroup === undefined ? Promise.resolve() : untilEmpty(cgroup, bound, this.#abort.signal);
  }

  /** The notice a relief kill at `memory` gets; `undefined`: at once (critical, or notices off). */
  #eviction(memory: HostMemory): ReliefKill['eviction'] {
    return evictionNotice(memory, this.#trend.rate(), this.#options.critical, this.#options.eviction);
  }

  #autoKill(): void {
    const options: ResolvedRelieveOptions = autoKillRound(this.#options);
    this.#relief('auto-kill', options).then(
      (report) => {
        if (report.kills.length === 0) this.#autoKillArmed = false;
      },
      (error: Error) => this.emit('error', error),
    );
  }

  #relief(trigger: ReliefReport['trigger'], options: ResolvedRelieveOptions): Promise<ReliefReport> {
    this.#reliefActive++;
    const signal = this.#abort.signal;
    let victims = new Map<string, VictimCandidate>();
    const steps: ReliefSteps = {
      readMemory: () => this.hostMemory(),
      candidates: (skip) => {
        const candidates = this.#candidates(skip);
        victims = new Map(candidates.map((c) => [c.id, c]));
        return candidates;
      },
      kill: (info) => this.#sendKill(info),
      released: (info) => this.#released(info, victims.get(info.id)?.agent.cgroup),
      rate: () => this.#trend.rate(),
      eviction: (memory) => (options.releaseAware ? this.#eviction(memory) : undefined),
    };
    const round = this.#reliefChain.then(() => runRelief(steps, trigger, options, signal));
    this.#reliefChain = round.catch(() => undefined);
    return round
      .then((report) => {
        this.emit('relief', report);
        return report;
      })
      .finally(() => this.#reliefActive--);
  }

  /** Live, unprotected agents not already being killed, with their working sets, in policy order. */
  #candidates(skip: ReadonlySet<string>): VictimCandidate[] {
    const pass = ++this.#pass;
    const candidates: VictimCandidate[] = [];
    for (const agent of this.#host.agents()) {
      const tracker = this.#track(agent, pass);
      if (tracker === undefined || agent.protected || skip.has(agent.id) || this.#killed.has(agent.id)) continue;
      let usage: { current: number; workingSet: number } | undefined;
      try {
        usage = tracker.sampler.usage();
      } catch (error) {
        this.emit('error', error as Error);
        continue;
      }
      if (usage === undefined) continue;
      candidates.push({
        id: agent.id,
        agent,
        priority: agent.priority,
        protected: false,
        preferred: agent.preferred ?? false,
        workingSet: usage.workingSet,
        current: usage.current,
      });
    }
    this.#prune(pass);
    // A custom policy may return anything: only agents offered to it, each once, can be killed.
    const offered = new Map(candidates.map((c) => [c.id, c]));
    const ordered: VictimCandidate[] = [];
    for (const choice of this.#options.victimPolicy(candidates.slice())) {
      const candidate = offered.get(choice.id);
      if (candidate === undefined) continue;
      offered.delete(choice.id);
      ordered.push(candidate);
    }
    return ordered;
  }
}
