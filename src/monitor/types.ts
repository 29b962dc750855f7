/** The public shapes of the memory monitor: what the host hands it, what it reports. */
import type { Cgroup } from '../cgroup/cgroup.js';
import type { Psi } from '../cgroup/parse.js';
import type { MemoryEvents } from '../cgroup/stats.js';
import type { Duration } from '../util/duration.js';
import type { BudgetOptions } from './budget.js';

/** Host memory level: `high` stops admission, `critical` is where auto-kill starts. */
export type MemoryLevel = 'normal' | 'high' | 'critical';

/**
 * The host's memory against its budget: the tightest of MemTotal, the memory limit of every cgroup
 * from the agents' root up (a container, a pod, a slice) and the `budget` option (see
 * {@link HostMemory.source}).
 */
export interface HostMemory {
  /** The budget, bytes: MemTotal, or the tightest cgroup limit, or the `budget` option. */
  total: number;
  /**
   * Bytes that can still be used: MemAvailable (page cache counts as free), or for a cgroup budget
   * the limit minus the cgroup's working set — never more than the machine's MemAvailable.
   */
  available: number;
  /** total − available, bytes (a cgroup budget: its working set, memory.current − inactive_file). */
  used: number;
  /** used / total, 0…1: the figure the thresholds apply to. */
  usedRatio: number;
  /** SwapTotal and SwapFree, bytes (swap should be off: a swapping host of agents slows to a halt); read from meminfo, optional for `readMemory`. */
  swapTotal?: number;
  swapFree?: number;
  /** Memory PSI: the budget cgroup's on v2, else the host's; absent where the kernel has none (psi=0, before 4.20). */
  pressure?: Psi;
  /**
   * Where {@link total} comes from: `meminfo` (the machine), `cgroup` (the tightest memory limit
   * from the agents' root up), `option` (the `budget` option). Always set by the library; optional
   * for `readMemory`.
   */
  source?: 'meminfo' | 'cgroup' | 'option';
  /** The budget cgroup's directory, whose working set is {@link used}. */
  cgroup?: string;
  /**
   * OOM kills the kernel counted in the budget cgroup: on v2 in it and below it (memory.events
   * `oom_kill`); v1 counts a kill only in the victim's own cgroup (memory.oom_control), so kills in
   * agents show in their own counts (`status().oomKills`), not here.
   */
  oomKills?: number;
}

/** What the host gives the monitor for each live agent. */
export interface MonitoredAgent {
  readonly id: string;
  readonly cgroup: Cgroup;
  /** Higher is more important: killed later by relief. */
  readonly priority: number;
  /** Never chosen by relief. */
  readonly protected?: boolean;
  /** Chosen before any unpreferred agent. */
  readonly preferred?: boolean;
  /** When the agent started, ms since the epoch: the pause policy freezes the newest first. Default: when the monitor first saw it. */
  readonly startedAt?: number;
  /** When the host froze it for the pause policy, ms since the epoch; `undefined` while it runs. The host owns this. */
  readonly pausedAt?: number;
}

/** The host side the monitor works through: it lists agents and performs kills (with reason `relief`). */
export interface MonitorHost {
  /**
   * The agents' root, once there is one: the memory limits from it up bound the budget. Default:
   * the monitor's `cgroup` option.
   */
  root?(): Cgroup | undefined;
  /** The live agents now; called once per tick and once per relief step. */
  agents(): Iterable<MonitoredAgent>;
  /**
   * Kills the agent's cgroup with reason `relief` (the host emits its own `kill`); resolves once
   * done. With `info.eviction` the kill is not an emergency: the host first sends the notice
   * signal, and kills (reason `evicted`) after `graceMs` unless the agent ended sooner.
   */
  kill(id: string, info: ReliefKill): Promise<void>;
  /**
   * Resolves once a killed agent's memory is back: its run has ended and its cgroup is empty or
   * gone. Default: the monitor polls the victim's cgroup until it is empty.
   */
  released?(id: string): Promise<void>;
  /**
   * Freezes the agent (its timeouts paused) and sets its `pausedAt`; without `pause` and
   * `resume` the pause policy is off. Resolves once it is frozen.
   */
  pause?(id: string, info: PauseInfo): Promise<void>;
  /** Thaws an agent the pause policy froze and clears its `pausedAt`. */
  resume?(id: string, info: PauseInfo): Promise<void>;
}

/** Why the pause policy froze or thawed an agent (the host's `pause` / `resume` event details). */
export interface PauseInfo {
  id: string;
  action: 'pause' | 'resume';
  /** The agent's growth when frozen, bytes per second (0 for a thaw). */
  growth: number;
  /** Host memory then, and how fast it grew, bytes per second. */
  memory: HostMemory;
  rate: number;
}

/** One tick's figures for one agent, kept in a bounded ring per agent. */
export interface AgentSample {
  /** When it was read, ms since the epoch. */
  time: number;
  /** Bytes charged to the agent's cgroup. */
  current: number;
  /** The cgroup's memory event counters (totals). */
  events: MemoryEvents;
  /**
   * How much memory.events `high` rose since the previous sample: times the agent was throttled
   * at memory.high (v2; always 0 on v1, which has no such counter). 0 for an agent's first sample.
   */
  highDelta: number;
  /** The cgroup's memory PSI (v2 with PSI; undefined on v1). */
  pressure: Psi | undefined;
}

/** An agent as the victim policy sees it: its standing and its memory right now. */
export interface VictimCandidate {
  readonly id: string;
  readonly agent: MonitoredAgent;
  readonly priority: number;
  readonly protected: boolean;
  readonly preferred: boolean;
  /** Bytes the kernel cannot drop cheaply (current − inactive file cache): what a kill frees. */
  readonly workingSet: number;
  /** Bytes charged to the cgroup. */
  readonly current: number;
}

/** Orders candidates, first victim first; candidates left out are never killed. */
export type VictimPolicy = (candidates: VictimCandidate[]) => VictimCandidate[];

/** What made the monitor kill; `hold-limit`: a frozen agent held its memory past the pause policy's deadline. */
export type ReliefTrigger = 'relieve' | 'auto-kill' | 'livelock' | 'hold-limit';

/** One relief kill and the figures that led to it (also the host's `kill` event details). */
export interface ReliefKill {
  id: string;
  reason: 'relief';
  trigger: ReliefTrigger;
  priority: number;
  preferred: boolean;
  /** The agent's working set and usage when it was chosen, bytes. */
  workingSet: number;
  current: number;
  /** Host memory re-read just before the kill. */
  memory: HostMemory;
  /** The used ratio relief works down to (not for livelock kills). */
  target?: number;
  /** Dry run: the used ratio expected once this and the earlier victims are gone (working sets freed). */
  estimatedRatio?: number;
  /** Livelock kills: the sample that completed the stall and how long it had lasted, ms. */
  livelock?: { sample: AgentSample; stalledMs: number };
  /**
   * Set when the kill is not an emergency: send `signal` now (the agent's `onEviction`), kill
   * after `graceMs` (result reason `evicted`). Absent: kill at once (reason `relief`).
   */
  eviction?: { signal: NodeJS.Signals; graceMs: number };
}

/** Why a relief round ended; `alarm-cleared`: an automatic round, once below the alarm and memory no longer rising. */
export type ReliefOutcome = 'target-reached' | 'alarm-cleared' | 'no-candidates' | 'max-kills' | 'stopped';

/** The account of one relief round (`relieve()` or auto-kill). */
export interface ReliefReport {
  trigger: Exclude<ReliefTrigger, 'livelock' | 'hold-limit'>;
  dryRun: boolean;
  /** The used ratio the round worked down to. */
  target: number;
  /** Host memory when the round started and when it ended (the same reading for a dry run). */
  before: HostMemory;
  after: HostMemory;
  /** The kills made, in order; for a dry run the kills it would make. */
  kills: ReliefKill[];
  /** Kills the host failed to carry out; those agents were skipped for the rest of the round. */
  failures: Array<{ id: string; error: Error }>;
  outcome: ReliefOutcome;
  durationMs: number;
}

/** Options of one relief round. */
export interface RelieveOptions {
  /** Stop once host memory used is below this percentage (1–100). Default: the monitor's `reliefTarget` × 100 (75). */
  targetPercent?: number;
  /** Kill nothing; report what would be killed (estimating that a kill frees its working set). Default `false`. */
  dryRun?: boolean;
  /** Kill at most this many agents. Default `Infinity`. */
  maxKills?: number;
  /**
   * An extra wait after the victims' memory is released, before measuring again. Default 0: a
   * round waits for each victim's cgroup to empty (bounded by `releaseTimeout`) instead of
   * guessing how long memory takes to come back.
   */
  cooldown?: Duration;
}

/** The pause-before-kill policy (`MemoryMonitorOptions.pause`); it acts through `MonitorHost.pause`/`resume`. */
export interface PauseOptions {
  /** Thaw below this used fraction (while memory is not rising). Default `thresholds.high − 0.05` (0.80). */
  resumeBelow?: number;
  /** A frozen agent holding its memory this long while memory stays above `resumeBelow` is evicted. Default `60s`. */
  holdLimit?: Duration;
  /** Among unpreferred agents of equal priority, freeze the `newest` (least work lost) or the `fastest-growing` first. Default `newest`. */
  order?: 'newest' | 'fastest-growing';
}

/** Eviction notices (`MemoryMonitorOptions.eviction`): a non-emergency relief kill is announced first. */
export interface EvictionNoticeOptions {
  /** The notice signal (the agent's `onEviction`); `false`: no notices, kill at once. Default `SIGUSR2`. */
  signal?: NodeJS.Signals | false;
  /** Bounds of the grace between notice and kill: the time left before `critical` at the current growth rate. Default `2s` and `30s`. */
  minGrace?: Duration;
  maxGrace?: Duration;
}

/** Livelock detection: an agent held at memory.high, stalled instead of OOM-killed (no swap). */
export interface LivelockOptions {
  /** The cgroup's PSI `full` avg10 (percent) at or above which it counts as stalled. Default 40. */
  highPressure?: number;
  /** How long the stall must last. Default `10s`. */
  duration?: Duration;
  /** `event` only emits `pressure` {kind: 'livelock'}; `kill` also kills the agent through the host. Default `event`. */
  action?: 'event' | 'kill';
}

/** Options of a {@link MemoryMonitor} (`AgentHostOptions.monitor`); every default is in {@link MONITOR_DEFAULTS}. */
export interface MemoryMonitorOptions extends BudgetOptions {
  /** Sampling interval. Default `1000` ms. */
  interval?: Duration;
  /** Used fractions of the memory budget ({@link HostMemory.total}) for the levels. Default `{ high: 0.85, critical: 0.95 }`. */
  thresholds?: { high?: number; critical?: number };
  /** A level is left only this far (fraction) below its threshold, so it does not flap. Default `0.02`. */
  hysteresis?: number;
  /** Kill agents by policy while `critical`. Default `false`. */
  autoKill?: boolean;
  /**
   * How an automatic round ends. `until-clear` (default): the fewest victims, each one's memory
   * awaited, until below the alarm (`critical − hysteresis`) and no longer rising. `to-target`:
   * the previous release's round — one kill per `cooldown`, no notice, down to `reliefTarget`.
   */
  autoKillMode?: 'until-clear' | 'to-target';
  /** `relieve()` (and `to-target` auto-kill) stop once used memory is below this fraction. Default `0.75`. */
  reliefTarget?: number;
  /** Growth expected while a victim's memory comes back (the horizon of a round's deficit), and the wait between `to-target` kills. Default `2s`. */
  cooldown?: Duration;
  /** The longest wait for a victim's memory to be released after its kill (its notice's grace comes on top). Default `10s`. */
  releaseTimeout?: Duration;
  /** Pause before kill. Default on (`{ resumeBelow: high − 0.05, holdLimit: '60s', order: 'newest' }`) where the host can freeze agents; `false` for off. */
  pause?: PauseOptions | false;
  /** Notice before a non-emergency relief kill. Default `{ signal: 'SIGUSR2', minGrace: '2s', maxGrace: '30s' }`; `false` for none. */
  eviction?: EvictionNoticeOptions | false;
  /**
   * Orders the victims. Default {@link defaultVictimPolicy}: preferred first, then lowest priority,
   * then largest working set. Protected agents are never offered to it.
   */
  victimPolicy?: VictimPolicy;
  livelock?: LivelockOptions;
  /** Samples kept per agent (a ring). Default `60`. */
  samples?: number;
  /** Where `meminfo` and `pressure/memory` are read. Default `/proc` (tests use fake trees). */
  procRoot?: string;
  /** Reads host memory instead of `procRoot` (tests drive the level without filling RAM). */
  readMemory?: () => HostMemory;
  /**
   * Where the walk up for memory limits starts when the host names no agents' root: a cgroup, or
   * `false` for MemTotal alone. Default: this process's own cgroup (none with a `procRoot` other
   * than `/proc`: a fake machine has no real cgroups).
   */
  cgroup?: Cgroup | false;
}

/** Events of {@link MemoryMonitor}. */
export type MonitorEvents = {
  /** A host level change, or an agent starting to be throttled at memory.high or found livelocked there. */
  pressure: (event: HostPressureEvent | AgentPressureEvent) => void;
  /** A relief round (`relieve()` or auto-kill) finished. */
  relief: (report: ReliefReport) => void;
  /** A relief kill was carried out (the host emits its own `kill` as well). */
  kill: (kill: ReliefKill) => void;
  /** A tick's host figures and the level after it. */
  sample: (event: { memory: HostMemory; level: MemoryLevel }) => void;
  /** The pause policy froze an agent through the host. */
  pause: (info: PauseInfo) => void;
  /** The pause policy thawed an agent through the host. */
  resume: (info: PauseInfo) => void;
  /** A tick or a relief step failed (host memory unreadable, a kill refused); monitoring goes on. */
  error: (error: Error) => void;
};

/** Host memory moved to another level: admission pauses at `high`, relief may start at `critical`. */
export interface HostPressureEvent {
  scope: 'host';
  /** The level now. */
  level: MemoryLevel;
  /** The level before this change. */
  previous: MemoryLevel;
  /** The figures that caused the change. */
  memory: HostMemory;
}

/** One agent is struggling at its own memory.high, whatever the host's level. */
export interface AgentPressureEvent {
  scope: 'agent';
  /** The agent's id. */
  id: string;
  /** `throttled`: memory.events `high` started rising; `livelock`: throttled with PSI full high for the configured time. */
  kind: 'throttled' | 'livelock';
  /** The agent's reading that triggered it. */
  sample: AgentSample;
}
