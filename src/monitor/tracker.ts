/**
 * Per-agent state of the monitor: the open files of its cgroup, its bounded sample ring, and
 * the throttling / livelock detectors fed by each sample.
 */
import { emptySample, type MemorySampler } from '../cgroup/stats.js';
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
  /*
   * Filled anew every tick instead of made: 300 agents' samples and detections each second would
   * be the garbage that keeps V8's young generation large on an idle host.
   */
  readonly #raw = emptySample();
  readonly #sample: AgentSample = { time: 0, current: 0, events: this.#raw.events, highDelta: 0, pressure: undefined };
  readonly #detection: Detection = { throttled: false, livelock: undefined };

  constructor(agent: MonitoredAgent, capacity: number) {
    this.agent = agent;
    this.sampler = agent.cgroup.sampler();
    this.ring = new SampleRing(capacity);
  }

  /**
   * Reads the cgroup's cheap figures; `undefined` once it is gone. The sample is this tracker's
   * own, overwritten by the next call: copy it (shallowly: its `events` and `pressure` objects are
   * never changed) to keep it.
   */
  sample(time: number): AgentSample | undefined {
    const raw = this.#raw;
    if (!this.sampler.read(raw)) return undefined;
    const high = raw.events.high;
    const highDelta = this.#lastHigh === undefined ? 0 : Math.max(0, high - this.#lastHigh);
    this.#lastHigh = high;
    const sample = this.#sample;
    sample.time = time;
    sample.current = raw.current;
    sample.events = raw.events;
    sample.highDelta = highDelta;
    sample.pressure = raw.pressure;
    this.ring.push(sample);
    return sample;
  }

  /** What `sample` revealed; the result is this tracker's own, overwritten by the next call. */
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
    this.#detection.throttled = started;
    this.#detection.livelock = livelock;
    return this.#detection;
  }

  /** How fast the agent's memory grows, bytes per second, over its last few samples. */
  growth(): number {
    return slope(this.ring.recent(GROWTH_SAMPLES));
  }

  close(): void {
    this.sampler.close();
  }
}
