/**
 * (4) OOM kill → `oom` event latency. A hog (`tail /dev/zero`, a child of the agent's shell, so the
 * agent lives on and only the watcher can tell) fills a 64M agent; the kernel's kill time comes
 * from its log (/dev/kmsg, mapped onto CLOCK_MONOTONIC). Side by side on the same kill: the host's
 * `oom` event (inotify on memory.events on v2, the host's poll on v1) and plain polling of
 * memory.events every 100 ms and every 1 s.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from '../src/index.js';
import type { BenchEnv } from './lib/env.js';
import { KernelLog, nowUs } from '../test/helpers/kmsg.js';
import { skippedSection, type Headline, type SectionResult } from './lib/report.js';
import { ms, summarize } from './lib/stats.js';

const MODES = ['host', 'poll100', 'poll1000'] as const;
type Mode = (typeof MODES)[number];

export async function oomLatency(env: BenchEnv): Promise<SectionResult> {
  const title = '(4) OOM kill → `oom` event latency';
  const kmsg = KernelLog.open();
  if (!kmsg) {
    return skippedSection('oom', title, 'OOM kill → oom event', 'skipped: /dev/kmsg not readable and writable (needs root)', '≤ 50 ms p99 (v2)');
  }
  env.defer(() => kmsg.close());
  const v2 = env.machine.cgroupVersion === 2;
  const host = await env.host('oom', { limits: { memoryMax: '64M', memoryHigh: 'max', swapMax: 0, pidsMax: 64 } });
  const seen = new Map<string, number>();
  host.on('oom', (agent) => {
    if (!seen.has(agent.id)) seen.set(agent.id, nowUs());
  });
  const latencies: Record<Mode, number[]> = { host: [], poll100: [], poll1000: [] };
  let missed = 0;
  for (let run = 0; run < env.scale.oomRuns; run++) {
    const id = `o${run}`;
    const pidFile = join(env.dir, `${id}.pid`);
    kmsg.calibrate();
    const agent: Agent = await host.spawn(id, { command: 'sh', args: ['-c', `tail /dev/zero & echo $! > '${pidFile}'; wait; exec sleep 600`] });
    const cgroup = agent.cgroup!;
    const times: Partial<Record<Mode, number>> = {};
    const timers: NodeJS.Timeout[] = [];
    // Each poller starts at a random phase: the hog's kill comes at a fairly fixed time after
    // the spawn, and pollers started with it would all see it at the same point of their cycle.
    const poll = (mode: Mode, every: number): void => {
      const check = (): void => {
        try {
          if (times[mode] === undefined && (cgroup.memoryEvents()?.oomKill ?? 0) > 0) times[mode] = nowUs();
        } catch {
          // the cgroup went away: the run is over
        }
      };
      const begin = (): void => {
        check();
        timers.push(setInterval(check, every));
      };
      timers.push(setTimeout(begin, Math.random() * every));
    };
    poll('poll100', 100);
    poll('poll1000', 1000);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (!seen.has(id) || times.poll100 === undefined || times.poll1000 === undefined)) await sleep(5);
    for (const timer of timers) clearTimeout(timer);
    times.host = seen.get(id);
    await host.kill(id, { force: true });
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const killed = kmsg.oomKillOf(pid);
    if (killed === undefined || times.host === undefined) {
      missed++;
      continue;
    }
    for (const mode of MODES) if (times[mode] !== undefined) latencies[mode].push((times[mode]! - killed) / 1000);
  }
  const label: Record<Mode, string> = {
    host: v2 ? "AgentHost 'oom' event (inotify on memory.events)" : "AgentHost 'oom' event (v1: no file events; host poll every 1 s)",
    poll100: 'polling memory.events every 100 ms',
    poll1000: 'polling memory.events every 1 s',
  };
  const rows = MODES.map((mode) => {
    const s = summarize(latencies[mode]);
    return [label[mode], String(s.n), ms(s.min), ms(s.median), ms(s.p99), ms(s.max)];
  });
  const hostSummary = summarize(latencies.host);
  const headlines: Headline[] = [
    {
      metric: `OOM kill → oom event, p99 (${v2 ? 'v2, inotify' : 'v1, polling'})`,
      result: `${ms(hostSummary.p99)} (median ${ms(hostSummary.median)}, n=${hostSummary.n})`,
      target: '≤ 50 ms p99 on v2',
      verdict: v2 ? (hostSummary.p99 <= 50 && hostSummary.n > 0 ? 'met' : 'missed') : 'info',
    },
  ];
  return {
    id: 'oom',
    title,
    headlines,
    tables: [{ columns: ['how the kill is seen', 'n', 'min', 'median', 'p99', 'max'], rows }],
    notes: [
      'Latency from the kernel\'s "Killed process" log record (its /dev/kmsg timestamp mapped onto process.hrtime by a timed marker write) to the moment the bench saw the event; one hog per run in a fresh 64M agent, all three observers on the same kill, each poller started at a random phase of its interval.',
      ...(missed > 0 ? [`${missed} run(s) without a matching kernel record or host event were left out.`] : []),
    ],
    data: latencies,
  };
}
