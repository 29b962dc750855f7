/**
 * The memory budget on the real kernel: the orchestrator in a 1 GiB cgroup (a container, a pod)
 * on a machine with far more RAM. The host must count the container's limit, not the machine's:
 * admission pauses at 85 % of 1 GiB, auto-kill relief runs at 95 %, and the kernel's OOM killer
 * in the container never has to act. Runs natively (v1 here) and in the v2 VM.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Cgroup, type HostMemory } from '../../../src/index.js';
import { testParent } from '../../helpers/cgroups.js';
import { defer, kernelOomKills, tempDir } from './harness.js';
import type { BudgetOrchestratorConfig } from './fixtures/budget-orchestrator.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/budget-orchestrator.ts', import.meta.url));
const GiB = 2 ** 30;
const parent = testParent('budget');

type Line = { kind: string; data: any };

/** Runs the budget orchestrator moved into `cgroup` (every hierarchy) before node starts; resolves with its lines once it exits. */
function runInside(cgroup: Cgroup, config: BudgetOrchestratorConfig): Promise<{ code: number | null; lines: Line[]; stderr: string }> {
  const join_ = cgroup.dirs.map((dir) => `echo $$ > ${join(dir, 'cgroup.procs')}`).join(' && ');
  const child = spawn('sh', ['-c', `${join_} && exec "$@"`, 'sh', process.execPath, '--import', 'tsx', SCRIPT, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: Line[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const space = line.indexOf(' ');
    try {
      lines.push({ kind: line.slice(0, space), data: JSON.parse(line.slice(space + 1)) });
    } catch {
      lines.push({ kind: 'TEXT', data: line });
    }
    if (process.env.BUDGET_TRACE) console.log(line);
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, lines, stderr })));
}

describe('the memory budget of an orchestrator in a 1 GiB cgroup', () => {
  it('counts the cgroup limit: admission pauses at 85 %, relief runs at 95 %, the kernel OOM-kills nothing', async () => {
    const ctr = Cgroup.create(parent, 'ctr', { limits: { memoryMax: GiB, swapMax: 0 } });
    const oomBefore = kernelOomKills(ctr);
    const { code, lines, stderr } = await runInside(ctr, {
      stateDir: join(tempDir('budget'), 'state'),
      agents: 6,
      gapMs: 1500,
      steps: 12,
      stepBytes: '16M',
      limits: { memoryMax: '400M', memoryHigh: '400M', swapMax: 0, pidsMax: 128 },
      monitor: { interval: 200, autoKill: true, cooldown: 1000 },
      runMs: 30_000,
    });
    expect(code, stderr).toBe(0);
    const memory = lines.find((l) => l.kind === 'MEMORY')!.data as HostMemory;
    // The container's limit, not the machine's RAM.
    expect(memory).toMatchObject({ total: GiB, source: 'cgroup', cgroup: ctr.path });
    const events = lines.filter((l) => l.kind === 'EVENT').map((l) => l.data);
    const high = events.find((e) => e.type === 'pressure' && e.level !== 'normal');
    expect(high, JSON.stringify(events)).toBeDefined();
    expect(high.ratio).toBeGreaterThanOrEqual(0.85);
    expect(high.total).toBe(GiB);
    expect(events.some((e) => e.type === 'queue' && e.reason === 'paused')).toBe(true);
    const critical = events.find((e) => e.type === 'pressure' && e.level === 'critical');
    expect(critical?.ratio, JSON.stringify(events)).toBeGreaterThanOrEqual(0.95);
    const relief = events.filter((e) => e.type === 'relief' && e.trigger === 'auto-kill').flatMap((e) => e.kills);
    expect(relief.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'exit' && e.reason === 'relief').length).toBe(relief.length);
    // Nothing was left to the kernel: no OOM kill in the container, none of an agent.
    expect(kernelOomKills(ctr)).toBe(oomBefore);
    expect(events.filter((e) => e.type === 'exit' && e.reason === 'oom')).toEqual([]);
    expect(lines.some((l) => l.kind === 'DONE')).toBe(true);
    console.log(`budget ${memory.total} (${memory.source} ${memory.cgroup}); first high at ${(high.ratio * 100).toFixed(1)} %, critical at ${(critical.ratio * 100).toFixed(1)} %; relief kills ${relief.length}`);
  }, 120_000);
});
