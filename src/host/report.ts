/** The host's reports as data — per-agent memory (`memoryReport()`) and the overview (`status()`) — and the tables they print. */
import type { HostMemory } from '../monitor/types.js';
import { formatBytes } from '../util/size.js';
import type { Agent, AgentState } from './agent.js';

/** One agent's line of check-agent-memory.sh: its cgroup's figures when the report was taken. */
export interface AgentMemoryRow {
  id: string;
  /** `paused`: frozen by the memory monitor's pause policy (its memory held, its timeouts' clock stopped). */
  state: AgentState;
  pid: number | undefined;
  current: number;
  peak: number;
  workingSet: number;
  /** memory.max in bytes (`Infinity` if none). */
  limit: number;
  /** current / limit × 100 (0 without a limit). */
  percentOfLimit: number;
  pids: number;
  oomKills: number;
}

/** What `host.memoryReport()` returns: running agents, largest first, and their totals. */
export interface MemoryReport {
  /** When it was taken (ms since the epoch). */
  at: number;
  agents: AgentMemoryRow[];
  total: { current: number; workingSet: number; pids: number; oomKills: number };
  /** The host's memory against its budget when the report was taken, if the host could read it. */
  memory?: HostMemory;
}

/** One agent's line of agent-status.sh: memory figures only while it has a cgroup (not while queued). */
export interface AgentStatusRow extends Partial<AgentMemoryRow> {
  id: string;
  state: AgentState;
  uptimeMs: number | undefined;
  priority: number;
}

/** What `host.status()` returns: the whole overview of agent-status.sh, as data. */
export interface HostStatus {
  /** When it was taken (ms since the epoch). */
  at: number;
  root: string | undefined;
  /** Host memory (from the monitor's reader), `undefined` if /proc/meminfo could not be read. */
  memory: HostMemory | undefined;
  /** The monitor's level (`undefined` with `monitor: false`). */
  level: 'normal' | 'high' | 'critical' | undefined;
  counts: Record<AgentState, number>;
  agents: AgentStatusRow[];
  /** OOM kills since the host started, including agents that have ended. */
  oomKills: number;
  /** Agents waiting (`size`) and running (`running`; `pending` is its deprecated alias), and why admission is paused. */
  queue: { size: number; running: number; /** @deprecated Use `running`. */ pending: number; paused: boolean; why: string | undefined };
}

function memoryRow(agent: Agent): AgentMemoryRow | undefined {
  let stats;
  try {
    stats = agent.stats();
  } catch {
    return undefined; // The agent ended between listing and reading.
  }
  if (!stats) return undefined;
  const { memory, pids } = stats;
  return {
    id: agent.id,
    state: agent.state,
    pid: agent.pid,
    current: memory.current,
    peak: memory.peak,
    workingSet: memory.workingSet,
    limit: memory.max,
    percentOfLimit: memory.max === Infinity || memory.max === 0 ? 0 : (memory.current / memory.max) * 100,
    pids: pids.current,
    oomKills: memory.events.oomKill,
  };
}

export function buildMemoryReport(agents: Agent[], memory?: HostMemory): MemoryReport {
  const rows = agents.map(memoryRow).filter((row): row is AgentMemoryRow => row !== undefined);
  rows.sort((a, b) => b.current - a.current);
  const total = { current: 0, workingSet: 0, pids: 0, oomKills: 0 };
  for (const row of rows) {
    total.current += row.current;
    total.workingSet += row.workingSet;
    total.pids += row.pids;
    total.oomKills += row.oomKills;
  }
  return { at: Date.now(), agents: rows, total, ...(memory && { memory }) };
}

export function buildStatus(input: {
  agents: Agent[];
  queue: HostStatus['queue'];
  root: string | undefined;
  oomKills: number;
  memory: HostMemory | undefined;
  level: HostStatus['level'];
}): HostStatus {
  const now = Date.now();
  const counts: Record<AgentState, number> = { queued: 0, starting: 0, running: 0, paused: 0, stopping: 0, exited: 0 };
  const rows: AgentStatusRow[] = input.agents.map((agent) => {
    counts[agent.state]++;
    const memory = agent.state === 'queued' || agent.state === 'starting' ? undefined : memoryRow(agent);
    return {
      ...memory,
      id: agent.id,
      state: agent.state,
      priority: agent.priority,
      uptimeMs: agent.startedAt === undefined ? undefined : now - agent.startedAt,
    };
  });
  return { at: now, root: input.root, memory: input.memory, level: input.level, counts, agents: rows, oomKills: input.oomKills, queue: input.queue };
}

/** A plain-text table: the first row is the header. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd()).join('\n');
}

const percent = (value: number): string => `${value.toFixed(1)}%`;
const duration = (ms: number | undefined): string => {
  if (ms === undefined) return '-';
  const s = Math.floor(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/** check-agent-memory.sh's table. */
export function formatMemoryReport(report: MemoryReport): string {
  if (report.agents.length === 0) return 'No agents running.';
  const rows = [['AGENT', 'PID', 'CURRENT', 'PEAK', 'WORKING SET', 'LIMIT', '% LIMIT', 'PIDS', 'OOM']];
  for (const a of report.agents) {
    rows.push([a.state === 'paused' ? `${a.id} (paused)` : a.id, String(a.pid ?? '-'), formatBytes(a.current), formatBytes(a.peak), formatBytes(a.workingSet), formatBytes(a.limit), percent(a.percentOfLimit), String(a.pids), String(a.oomKills)]);
  }
  rows.push(['TOTAL', '', formatBytes(report.total.current), '', formatBytes(report.total.workingSet), '', '', String(report.total.pids), String(report.total.oomKills)]);
  return formatTable(rows);
}

/** Where the budget comes from, unless it is the machine's RAM: `the memory limit, working set of /sys/fs/cgroup/pod counted, …`. */
function budgetOf(m: HostMemory): string | undefined {
  if (m.source === undefined || m.source === 'meminfo') return undefined;
  const usage = m.cgroup === undefined ? '' : `, working set of ${m.cgroup} counted, kernel OOM kills there: ${m.oomKills ?? 0}`;
  return `${m.source === 'cgroup' ? 'the memory limit' : 'the budget option'}${usage}`;
}

/** agent-status.sh's overview. */
export function formatStatus(status: HostStatus): string {
  const lines: string[] = [];
  const m = status.memory;
  lines.push(
    m
      ? `Host memory: ${formatBytes(m.used)} used of ${formatBytes(m.total)} (${percent(m.usedRatio * 100)}${status.level ? `, ${status.level}` : ''}), ` +
          `${formatBytes(m.available)} available, swap ${!m.swapTotal ? 'off' : `${formatBytes(m.swapTotal - (m.swapFree ?? 0))} used`}`
      : 'Host memory: unknown',
  );
  const budget = m && budgetOf(m);
  if (budget !== undefined) lines.push(`Budget: ${budget}`);
  const c = status.counts;
  lines.push(`Agents: ${c.running} running, ${c.paused} paused, ${c.stopping} stopping, ${c.queued} queued; OOM kills: ${status.oomKills}`);
  lines.push(`Queue: ${status.queue.size} waiting${status.queue.paused ? ` (admission paused: ${status.queue.why ?? 'paused'})` : ''}`);
  if (status.root) lines.push(`Cgroup root: ${status.root}`);
  if (status.agents.length > 0) {
    const rows = [['AGENT', 'STATE', 'PID', 'UPTIME', 'MEMORY', '% LIMIT', 'PIDS', 'OOM', 'PRIO']];
    for (const a of status.agents) {
      rows.push([a.id, a.state, String(a.pid ?? '-'), duration(a.uptimeMs), a.current === undefined ? '-' : formatBytes(a.current), a.percentOfLimit === undefined ? '-' : percent(a.percentOfLimit), String(a.pids ?? '-'), String(a.oomKills ?? 0), String(a.priority)]);
    }
    lines.push('', formatTable(rows));
  }
  return lines.join('\n');
}
