/**
 * Optional Prometheus metrics through `prom-client`, an optional peer dependency: it is imported
 * only when {@link collectMetrics} is called, so users who never call it need not install it.
 *
 * Nothing polls: gauges read the host in `collect()` callbacks at scrape time (one `status()` per
 * scrape, shared by every metric), and counters follow the host's events.
 */
import type * as PromClient from 'prom-client';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { AgentHost } from '../host/agent-host.js';
import type { AgentState, ExitReason, KillReason } from '../host/agent.js';
import type { AgentHostEvents } from '../host/agent-host.js';
import type { OomScope } from '../host/oom-scope.js';
import type { HostStatus } from '../host/report.js';

/**
 * The part of a `prom-client` `Registry` this module uses. Declared here so the library's types do
 * not require `prom-client` to be installed; any `Registry` (the default `register` too) fits.
 */
export interface MetricsRegistry {
  /** `text/plain; version=0.0.4` or the OpenMetrics type. */
  readonly contentType: string;
  /** The scrape text. */
  metrics(): Promise<string>;
  /** The metric registered under `name`, or `undefined`. */
  getSingleMetric(name: string): unknown;
  /** Unregisters the metric `name`. */
  removeSingleMetric(name: string): void;
}

/** What {@link collectMetrics} reads and listens to: an {@link AgentHost}, or anything shaped like its reporting side. */
export type MetricsSource = Pick<AgentHost, 'status' | 'on' | 'off'>;

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /** Where the metrics are registered. Default: `prom-client`'s global `register`. */
  registry?: MetricsRegistry;
  /** Prefix of every metric name. Default `'nova_agent_host_'`. */
  prefix?: string;
}

/** The registered metrics; {@link MetricsHandle.dispose} removes them and the host listeners. */
export interface MetricsHandle {
  /** The registry the metrics are in: serve `await registry.metrics()` with `registry.contentType`. */
  readonly registry: MetricsRegistry;
  /** Full names of the registered metrics. */
  readonly names: readonly string[];
  /** Unregisters every metric and removes the event listeners. Idempotent. */
  dispose(): void;
  /** {@link MetricsHandle.dispose}, for `using metrics = await collectMetrics(host)`. */
  [Symbol.dispose](): void;
}

/** Memory pressure levels as gauge values: `normal` 0, `high` 1 (spawning stops), `critical` 2 (killing starts). */
export const PRESSURE_LEVELS: Readonly<{
  /** Below the high threshold (85 % by default). */
  normal: 0;
  /** At or above the high threshold: new agents wait. */
  high: 1;
  /** At or above the critical threshold (95 % by default): relief kills agents. */
  critical: 2;
}> = Object.freeze({ normal: 0, high: 1, critical: 2 });

/** Without a MemoryMonitor, the level is derived from host memory with the default thresholds (85 % high, 95 % critical). */
const DEFAULT_THRESHOLDS = { high: 0.85, critical: 0.95 } as const;

const AGENT_STATES = ['queued', 'starting', 'running', 'paused', 'stopping', 'exited'] as const satisfies readonly AgentState[];
const KILL_REASONS = ['killed', 'timeout', 'relief', 'evicted'] as const satisfies readonly KillReason[];
const EXIT_REASONS = ['exit', 'oom', 'killed', 'timeout', 'relief', 'evicted', 'error'] as const satisfies readonly ExitReason[];

const OOM_SCOPES = ['agent', 'agents-root'] as const satisfies readonly OomScope[];

const OPENMETRICS = 'application/openmetrics-text';
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers host and per-agent gauges and counters in a `prom-client` registry:
 *
 * | metric (after the prefix) | type | labels |
 * |---|---|---|
 * | `host_memory_used_bytes`, `host_memory_total_bytes`, `host_memory_used_ratio` (against the memory budget) | gauge | |
 * | `memory_budget_info` (1), `memory_budget_oom_kills` (the kernel's count in the budget cgroup) | gauge | `source`, `cgroup` (info) |
 * | `pressure_level` (0 normal, 1 high, 2 critical) | gauge | |
 * | `queue_length` (waiting), `queue_pending` (running), `admission_paused` (0/1) | gauge | |
 * | `agents` | gauge | `state` |
 * | `agent_memory_current_bytes`, `agent_memory_peak_bytes`, `agent_memory_working_set_bytes`, `agent_memory_limit_bytes` (`+Inf` without a limit), `agent_pids` | gauge | `agent` |
 * | `oom_kills_total` (since the host started) | counter | |
 * | `oom_kills_by_scope_total`: whose limit was reached, the agent's own or one above it (the root's backstop) | counter | `scope` |
 * | `kills_total` | counter | `reason` |
 * | `spawns_total` | counter | |
 * | `exits_total` | counter | `reason` |
 *
 * The pressure level is the host's MemoryMonitor level when it has one, else the level of the
 * last host `pressure` event, else derived from host memory with the default thresholds (85 %, 95 %).
 * Host memory figures (and a level derived from them) are `NaN` when `/proc/meminfo` cannot be read.
 *
 * @throws `ERR_INVALID_OPTION` when `prom-client` is not installed, the prefix is not a valid metric
 * name, or a metric of the same name is already registered (use another prefix or registry, or
 * dispose the first handle).
 *
 * @example
 * ```ts
 * const metrics = await collectMetrics(host);
 * http.createServer(async (_, res) => res.end(await metrics.registry.metrics())).listen(9464);
 * ```
 */
export async function collectMetrics(host: MetricsSource, options: CollectMetricsOptions = {}): Promise<MetricsHandle> {
  const prefix = options.prefix ?? 'nova_agent_host_';
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME.test(prefix))) {
    throw new AgentHostError(ErrorCode.INVALID_OPTION, `prefix must match ${NAME} (or be empty), got ${JSON.stringify(prefix)}`);
  }
  const prom = await loadPromClient();
  const registry = (options.registry ?? prom.register) as PromClient.Registry;
  // OpenMetrics registries append `_total` to counter names themselves.
  const total = String(registry.contentType).startsWith(OPENMETRICS) ? '' : '_total';

  const names = {
    used: `${prefix}host_memory_used_bytes`,
    memTotal: `${prefix}host_memory_total_bytes`,
    ratio: `${prefix}host_memory_used_ratio`,
    budget: `${prefix}memory_budget_info`,
    budgetOomKills: `${prefix}memory_budget_oom_kills`,
    level: `${prefix}pressure_level`,
    queueLength: `${prefix}queue_length`,
    queuePending: `${prefix}queue_pending`,
    paused: `${prefix}admission_paused`,
    agents: `${prefix}agents`,
    current: `${prefix}agent_memory_current_bytes`,
    peak: `${prefix}agent_memory_peak_bytes`,
    workingSet: `${prefix}agent_memory_working_set_bytes`,
    limit: `${prefix}agent_memory_limit_bytes`,
    pids: `${prefix}agent_pids`,
    oomKills: `${prefix}oom_kills${total}`,
    oomKillsByScope: `${prefix}oom_kills_by_scope${total}`,
    kills: `${prefix}kills${total}`,
    spawns: `${prefix}spawns${total}`,
    exits: `${prefix}exits${total}`,
  };
  // All or nothing: refuse before registering any, so a clash leaves the registry as it was.
  for (const name of Object.values(names)) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new AgentHostError(
        ErrorCode.INVALID_OPTION,
        `metric ${name} is already registered: use another prefix or registry, or dispose the first collectMetrics() handle`,
      );
    }
  }

  const snapshot = scrapeSnapshot(host);
  /** The level of the last host `pressure` event, if any came. */
  let lastLevel: number | undefined;
  const registers = [registry];
  const gauge = <L extends string>(name: string, help: string, read: (status: HostStatus, g: PromClient.Gauge<L>) => void, labelNames: readonly L[] = []): void => {
    new prom.Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        read(snapshot(), this);
      },
    });
  };

  // A gauge without labels always has a value: NaN (prom-client writes `Nan`, which Prometheus
  // parses) says "unknown" where 0 would lie.
  gauge(names.used, 'Memory in use against the budget (MemTotal - MemAvailable, or the budget cgroup\'s working set), in bytes.', (s, g) => g.set(s.memory?.used ?? NaN));
  gauge(names.memTotal, 'The memory budget: the tightest of MemTotal, the memory limits from the agents\' root up and the budget option, in bytes.', (s, g) =>
    g.set(s.memory?.total ?? NaN),
  );
  gauge(names.ratio, 'Share of the memory budget in use: the figure the 85 %/95 % thresholds compare against.', (s, g) => g.set(s.memory?.usedRatio ?? NaN));
  gauge(
    names.budget,
    'Where the memory budget comes from (always 1): source meminfo, cgroup or option, and the budget cgroup.',
    (s, g) => {
      if (s.memory) g.set({ source: s.memory.source ?? 'meminfo', cgroup: s.memory.cgroup ?? '' }, 1);
    },
    ['source', 'cgroup'],
  );
  gauge(names.budgetOomKills, 'OOM kills the kernel counted in the budget cgroup and below it (NaN without a budget cgroup).', (s, g) =>
    g.set(s.memory?.oomKills ?? NaN),
  );
  gauge(names.level, 'Host memory pressure level: 0 normal, 1 high (spawning stops), 2 critical (killing starts).', (s, g) =>
    g.set(pressureLevel(host, s, lastLevel) ?? NaN),
  );
  gauge(names.queueLength, 'Agents waiting in the queue.', (s, g) => g.set(s.queue.size));
  gauge(names.queuePending, 'Agents running (holding a queue slot).', (s, g) => g.set(s.queue.pending));
  gauge(names.paused, 'Whether admission is paused because memory is high (1) or not (0).', (s, g) => g.set(s.queue.paused ? 1 : 0));
  gauge(names.agents, 'Live agents by state.', (s, g) => AGENT_STATES.forEach((state) => g.set({ state }, s.counts[state] ?? 0)), ['state']);
  const perAgent = (name: string, help: string, pick: (row: HostStatus['agents'][number]) => number | undefined): void =>
    gauge(
      name,
      help,
      (s, g) => {
        for (const row of s.agents) {
          const value = pick(row);
          if (value !== undefined) g.set({ agent: row.id }, value);
        }
      },
      ['agent'],
    );
  perAgent(names.current, "Memory use of the agent's cgroup, in bytes.", (row) => row.current);
  perAgent(names.peak, "Highest memory use of the agent's cgroup, in bytes.", (row) => row.peak);
  perAgent(names.workingSet, "Working set of the agent's cgroup (memory use less inactive file cache), in bytes.", (row) => row.workingSet);
  perAgent(names.limit, "Memory limit of the agent's cgroup (memory.max), in bytes; +Inf without one.", (row) => row.limit);
  perAgent(names.pids, "Processes in the agent's cgroup.", (row) => row.pids);

  new prom.Counter({
    name: names.oomKills,
    help: 'OOM kills in agent cgroups since the host started, ended agents included.',
    registers,
    collect() {
      // The host keeps the count; a counter cannot be set, so it is rebuilt at each scrape.
      this.reset();
      this.inc(snapshot().oomKills);
    },
  });
  const oomByScope = new prom.Counter({
    name: names.oomKillsByScope,
    help: "OOM kills by whose limit was reached: agent (its own memory.max) or agents-root (the agents' root backstop, or a limit above it).",
    labelNames: ['scope'],
    registers,
  });
  const kills = new prom.Counter({ name: names.kills, help: 'Agents killed, by reason (killed, timeout, relief, evicted).', labelNames: ['reason'], registers });
  const spawns = new prom.Counter({ name: names.spawns, help: 'Agents started.', registers });
  const exits = new prom.Counter({ name: names.exits, help: 'Agents ended, by reason (exit, oom, killed, timeout, relief, evicted, error).', labelNames: ['reason'], registers });
  // Every label value from zero, so rate() sees the first increment.
  for (const reason of KILL_REASONS) kills.inc({ reason }, 0);
  for (const reason of EXIT_REASONS) exits.inc({ reason }, 0);
  for (const scope of OOM_SCOPES) oomByScope.inc({ scope }, 0);

  const listeners = {
    kill: ((_agent, event) => kills.inc({ reason: event.reason })) satisfies AgentHostEvents['kill'],
    spawn: (() => spawns.inc()) satisfies AgentHostEvents['spawn'],
    oom: ((_agent, event) => oomByScope.inc({ scope: event.scope }, event.count)) satisfies AgentHostEvents['oom'],
    exit: ((_agent, result) => exits.inc({ reason: result.reason })) satisfies AgentHostEvents['exit'],
    pressure: ((event) => {
      if (event.scope !== 'host') return;
      const level = toLevel(event.level);
      if (level !== undefined) lastLevel = level;
    }) satisfies AgentHostEvents['pressure'],
  };
  host.on('kill', listeners.kill);
  host.on('spawn', listeners.spawn);
  host.on('oom', listeners.oom);
  host.on('exit', listeners.exit);
  host.on('pressure', listeners.pressure);

  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    host.off('kill', listeners.kill);
    host.off('spawn', listeners.spawn);
    host.off('oom', listeners.oom);
    host.off('exit', listeners.exit);
    host.off('pressure', listeners.pressure);
    for (const name of Object.values(names)) registry.removeSingleMetric(name);
  };
  return { registry, names: Object.values(names), dispose, [Symbol.dispose]: dispose };
}

/** @internal `prom-client`, imported on first use; `load` is replaceable for tests. */
export async function loadPromClient(load: () => Promise<unknown> = () => import('prom-client'), caller = 'collectMetrics()'): Promise<typeof PromClient> {
  let mod: { default?: unknown };
  try {
    mod = (await load()) as { default?: unknown };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    throw new AgentHostError(
      ErrorCode.INVALID_OPTION,
      missing
        ? `${caller} needs the optional peer dependency prom-client: npm install prom-client`
        : `${caller} could not load prom-client: ${(error as Error | undefined)?.message ?? String(error)}`,
      { cause: error },
    );
  }
  // From the CommonJS build, or where Node cannot see the named exports, they sit on `default`.
  return (typeof (mod as Partial<typeof PromClient>).Gauge === 'function' ? mod : (mod.default ?? mod)) as typeof PromClient;
}

/**
 * One `host.status()` per scrape: a registry calls every metric's `collect()` in one synchronous
 * pass, so the first call reads the host and the rest share its result until the next turn.
 */
function scrapeSnapshot(host: MetricsSource): () => HostStatus {
  let cached: HostStatus | undefined;
  return () => {
    if (cached === undefined) {
      cached = host.status();
      setImmediate(() => {
        cached = undefined;
      }).unref();
    }
    return cached;
  };
}

function pressureLevel(host: MetricsSource, status: HostStatus, lastEvent: number | undefined): number | undefined {
  // The MemoryMonitor, where the host has one: read defensively, its shape is not part of this module's contract.
  const monitor = (host as { monitor?: { level?: unknown } | undefined }).monitor;
  const fromMonitor = monitor !== null && typeof monitor === 'object' ? toLevel(monitor.level) : undefined;
  if (fromMonitor !== undefined) return fromMonitor;
  if (lastEvent !== undefined) return lastEvent;
  if (!status.memory) return undefined;
  const ratio = status.memory.usedRatio;
  return ratio >= DEFAULT_THRESHOLDS.critical ? PRESSURE_LEVELS.critical : ratio >= DEFAULT_THRESHOLDS.high ? PRESSURE_LEVELS.high : PRESSURE_LEVELS.normal;
}

function toLevel(level: unknown): number | undefined {
  if (typeof level === 'number') return level === 0 || level === 1 || level === 2 ? level : undefined;
  if (typeof level === 'string' && Object.hasOwn(PRESSURE_LEVELS, level)) return PRESSURE_LEVELS[level as keyof typeof PRESSURE_LEVELS];
  return undefined;
}
