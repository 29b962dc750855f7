/**
 * Per-agent state of the monitor: the open files of its cgroup, its bounded sample ring, and
 * the throttling / livelock detectors fed by each sample.
 */
import type { MemorySampler } from '../cgroup/stats.js';
import { SampleRing } from './ring.js';
import { slope } from './trend.js';
import type { AgentSample, MonitoredAgent } from './types.js';

/** Samples a growth rate is taken over: five ticks, long enough to see through one noisy reading. */
const GROWTH_SAMPLES = 5;

export interface DetectorSettings {
  /** PSI full avg10 (percent) that counts as stalled. */
  highPressure: number;
  /** How long a stall must last, ms. */
  duration: number;
  /**
   * How long after the last rise of `high` an agent still counts as throttled, ms. The kernel
   * makes a task over memory.high sleep up to 2 s per charge, so a throttled agent can pass a
   * tick without a new event; without this grace it would flap in and out of "throttled".
   */
  grace: number;
}

/** What a sample revealed. */
export interface Detection {
  /** The agent started being throttled (it was not within the grace period before). */
  throttled: boolean;
  /** The stall reached the configured duration (reported once per stall). */
  livelock: { stalledMs: number } | undefined;
}

export class AgentTracker {
  agent: MonitoredAgent;
  readonly sampler: MemorySampler;
  readonly ring: SampleRing;
  /** The tick that last listed the agent: the ones a tick did not list are dropped. */
  seen = 0;
  /** When the monitor first saw the agent: its start, for a host that does not say. */
  readonly firstSeen = Date.now();
  #lastHigh: number | undefined;
  #lastRise: number | undefined;
  #throttled = false;
  #stallSince: number | undefined;
  #stallReported = false;

  constructor(agent: MonitoredAgent, capacity: number) {
    this.agent = agent;
    this.sampler = agent.cgroup.sampler();
    this.ring = new SampleRing(capacity);
  }

  /** Reads the cgroup's cheap figures; `undefined` once it is gone. */
  sample(time: number): AgentSample | undefined {
    const raw = this.sampler.sample();
    if (raw === undefined) return undefined;
    const high = raw.events.high;
    const highDelta = this.#lastHigh === undefined ? 0 : Math.max(0, high - this.#lastHigh);
    this.#lastHigh = high;
    const sample: AgentSample = { time, current: raw.current, events: raw.events, highDelta, pressure: raw.pressure };
    this.ring.push(sample);
    return sample;
  }

  detect(sample: AgentSample, settings: DetectorSettings): Detection {
    if (sample.highDelta > 0) this.#lastRise = sample.time;
    const throttledNow = this.#lastRise !== undefined && sample.time - this.#lastRise <= settings.grace;
    const started = throttledNow && !this.#throttled && sample.highDelta > 0;
    this.#throttled = throttledNow;

    const full = sample.pressure?.full?.avg10;
    let livelock: Detection['livelock'];
    if (throttledNow && full !== undefined && full >= settings.highPressure) {
      this.#stallSince ??= sample.time;
      const stalledMs = sample.time - this.#stallSince;
      if (stalledMs >= settings.duration && !this.#stallReported) {
        this.#stallReported = true;
        livelock = { stalledMs };
      }
    } else {
      this.#stallSince = undefined;
      this.#stallReported = false;
    }
    return { throttled: started, livelock };
  }

  /** How fast the agent's memory grows, bytes per second, over its last few samples. */
  growth(): number {
    return slope(this.ring.recent(GROWTH_SAMPLES));
  }

  close(): void {
    this.sampler.close();
  }
}
