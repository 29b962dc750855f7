/**
 * (5) Critical threshold crossed → first victim killed. A started MemoryMonitor with auto-kill
 * watches a real AgentHost's agents; host memory comes from an injected `readMemory` that the
 * bench flips from 50 % to 96 % at a random moment of the tick cycle. Measured: until the host's
 * `kill` event (the decision) and until the victim's result (its processes dead, cgroup removed).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryMonitor, type HostMemory, type MonitorHost } from '../src/monitor/index.js';
import type { BenchEnv } from './lib/env.js';
import type { SectionResult } from './lib/report.js';
import { mmm, ms, summarize } from './lib/stats.js';

const INTERVAL = 1000;
const TOTAL = 64 * 2 ** 30;

export async function relief(env: BenchEnv): Promise<SectionResult> {
  const host = await env.host('relief');
  let used = 0.5;
  const readMemory = (): HostMemory => ({ total: TOTAL, available: TOTAL * (1 - used), used: TOTAL * used, usedRatio: used });
  const monitorHost: MonitorHost = {
    agents: () => host.agents().filter((a) => a.state === 'running' && a.cgroup !== undefined) as never,
    kill: async (id, info) => {
      await host.kill(id, { force: true, reason: 'relief', details: { ...info } });
    },
  };
  const monitor = new MemoryMonitor(monitorHost, { interval: INTERVAL, autoKill: true, cooldown: 100, readMemory });
  const errors: Error[] = [];
  monitor.on('error', (error) => errors.push(error));
  env.defer(() => monitor.stop());
  let next = 0;
  const spawnOne = () => host.spawn(`v${next++}`, { command: 'sleep', args: ['600'], priority: next % 3 });
  for (let i = 0; i < 3; i++) await spawnOne();
  monitor.start();

  const decision: number[] = [];
  const dead: number[] = [];
  let extraKills = 0;
  for (let run = 0; run < env.scale.reliefRuns; run++) {
    await sleep(Math.random() * INTERVAL);
    let killedId: string | undefined;
    let decided = 0;
    const onKill = (agent: { id: string }, event: { reason: string }): void => {
      if (event.reason !== 'relief') return;
      if (killedId !== undefined) {
        extraKills++;
        return;
      }
      killedId = agent.id;
      decided = performance.now();
      used = 0.5;
    };
    host.on('kill', onKill);
    const start = performance.now();
    used = 0.96;
    const deadline = Date.now() + 5 * INTERVAL;
    while (killedId === undefined && Date.now() < deadline) await sleep(1);
    if (killedId === undefined) throw new Error('no relief kill within 5 intervals');
    const victim = host.get(killedId);
    if (victim) await victim.result;
    dead.push(performance.now() - start);
    decision.push(decided - start);
    host.off('kill', onKill);
    await spawnOne();
    while (monitor.level !== 'normal') await sleep(20);
  }
  monitor.stop();
  if (errors.length > 0) throw new Error(`monitor errors: ${errors[0]!.message}`);
  const d = summarize(decision);
  const k = summarize(dead);
  return {
    id: 'relief',
    title: '(5) Critical threshold crossed → first victim killed (auto-kill)',
    headlines: [
      {
        metric: 'critical crossed → victim dead (max)',
        result: `${ms(k.max)} (median ${ms(k.median)}; interval ${INTERVAL} ms)`,
        target: '≤ one interval',
        verdict: k.max <= INTERVAL ? 'met' : 'missed',
      },
    ],
    tables: [
      {
        columns: ['until', 'n', 'min / median / max'],
        rows: [
          ["the host's `kill` event (the monitor's decision)", String(d.n), mmm(d)],
          ['the victim ended (result resolved: processes dead, cgroup removed)', String(k.n), mmm(k)],
        ],
      },
    ],
    notes: [
      `MemoryMonitor { interval: ${INTERVAL} ms, autoKill: true, cooldown: 100 ms } over a real AgentHost with 3 \`sleep\` agents; the crossing happens at a random point of the tick cycle, so the decision waits for the next tick (uniform over one interval) and the kill follows at once.`,
      ...(extraKills > 0 ? [`${extraKills} extra kill(s) in a round (the bench lowers memory as soon as the first kill is announced).`] : []),
    ],
    data: { decision, dead },
  };
}
