/**
 * `nova-agent-host/agent` from inside real cgroups: node children in a cgroup the test limits
 * read their own usage and limit (through the host's environment variable, and from
 * /proc/self/cgroup alone) and must see the numbers the host set; children using
 * onTimeoutSignals get real SIGUSR1/SIGTERM.
 *
 * The children run the agent module as plain JavaScript, transpiled into a temp directory
 * (test/helpers/agent-module.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cgroup, type SpawnOptions } from '../../src/cgroup/index.js';
import { EVICTION_AGENT, writeAgentModule } from '../helpers/agent-module.js';
import { testParent } from '../helpers/cgroups.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const LIMIT = 64 * MiB;
const HIGH = 48 * MiB;

let dir: string;
const parent = testParent('agent');

const REPORT = `
import { findAgentCgroup, memoryUsage, shouldReduceMemoryUsage } from './agent/index.js';
const replacer = (_, value) => (value === Infinity ? 'Infinity' : value);
process.stdout.write(JSON.stringify({ found: findAgentCgroup(), usage: memoryUsage(), reduce: shouldReduceMemoryUsage(0.99) }, replacer));
`;

// Allocates after its first reading, with the threshold set relative to where it started, so
// the crossing is its own doing whatever node's baseline is on this kernel.
const PRESSURE = `
import { memoryUsage, onPressure } from './agent/index.js';
const start = memoryUsage();
const threshold = Math.min(0.95, start.ratio + 0.1);
onPressure((event) => {
  process.stdout.write(JSON.stringify({ start: start.ratio, threshold, state: event.state, ratio: event.usage.ratio, max: event.usage.max }));
  process.exit(0);
}, { threshold, intervalMs: 50 });
setTimeout(() => { globalThis.held = Buffer.alloc(Math.ceil(start.max * 0.15), 1); }, 200);
setTimeout(() => process.exit(3), 30_000);
`;

const SIGNALS = `
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTimeoutSignals } from './agent/index.js';
const out = process.env.OUT;
const mode = process.argv[2];
const timeouts = onTimeoutSignals({
  onSoft: (signal) => writeFileSync(out + '.soft', signal + ' aborted=' + timeouts.signal.aborted),
  onHard: async (signal) => {
    await sleep(50);
    writeFileSync(out + '.hard', signal);
    if (mode === 'reject') throw new Error('could not save state');
  },
});
if (mode === 'dispose') timeouts.dispose();
writeFileSync(out + '.ready', '');
// The seed's work loop: until told to wrap up, then save state.
let rounds = 0;
while (!timeouts.signal.aborted) {
  await sleep(20);
  rounds++;
}
writeFileSync(out + '.saved', String(rounds));
// Done early: wait for the hard signal like a harness that has nothing left to do.
setInterval(() => {}, 1000);
`;


beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-agent-it-'));
  writeAgentModule(dir);
  writeFileSync(join(dir, 'report.mjs'), REPORT);
  writeFileSync(join(dir, 'pressure.mjs'), PRESSURE);
  writeFileSync(join(dir, 'signals.mjs'), SIGNALS);
  writeFileSync(join(dir, 'eviction.mjs'), EVICTION_AGENT);
  console.log(`cgroup v${Cgroup.self().version}, below ${Cgroup.self().path}`);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
function cgroup(options: { limited?: boolean; under?: Cgroup } = {}): Cgroup {
  const limits = options.limited === false ? undefined : { memoryMax: LIMIT, memoryHigh: HIGH, swapMax: 0 };
  return Cgroup.create(options.under ?? parent, `agent-${++counter}`, { ...(limits && { limits }) });
}

async function node(cg: Cgroup, script: string, args: string[] = [], env: SpawnOptions['env'] = {}) {
  const subprocess = cg.spawn(process.execPath, [join(dir, script), ...args], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], buffer: true });
  const pid = await cg.joined(subprocess);
  return { subprocess, pid };
}

interface Report {
  found: { dir: string; version: number; source: string };
  usage: { current: number; max: number | 'Infinity'; high: number | 'Infinity'; ratio: number; cgroup: string; version: number; workingSet?: number; pressure?: number };
  reduce: boolean;
}

async function report(cg: Cgroup, env: SpawnOptions['env'] = {}): Promise<Report> {
  const { subprocess } = await node(cg, 'report.mjs', [], env);
  const result = await subprocess;
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
  return JSON.parse(String(result.stdout)) as Report;
}

function expectLimitSeen(r: Report, cg: Cgroup): void {
  const version = Cgroup.self().version;
  expect(r.usage).toMatchObject({ max: LIMIT, high: HIGH, cgroup: cg.path, version });
  // Node itself, in use: more than a few MiB, less than the limit it runs under.
  expect(r.usage.current).toBeGreaterThan(4 * MiB);
  expect(r.usage.current).toBeLessThanOrEqual(LIMIT);
  expect(r.usage.ratio).toBeCloseTo(r.usage.current / LIMIT, 10);
  expect(r.usage.workingSet).toBeLessThanOrEqual(r.usage.current);
  expect(r.reduce).toBe(false);
  if (version === 2) expect(r.usage.pressure).toBeGreaterThanOrEqual(0);
}

describe('memoryUsage from inside a real cgroup', () => {
  it('finds its cgroup through NOVA_AGENT_CGROUP and sees the limit the host set', async () => {
    const cg = cgroup();
    const r = await report(cg, { NOVA_AGENT_CGROUP: cg.path });
    console.log(`agent sees: ${JSON.stringify(r.usage)}`);
    expect(r.found).toEqual({ dir: cg.path, version: Cgroup.self().version, source: 'env' });
    expectLimitSeen(r, cg);
    await cg.delete();
  });

  it('finds the same cgroup from /proc/self/cgroup alone', async () => {
    const cg = cgroup();
    const r = await report(cg);
    expect(r.found).toEqual({ dir: cg.path, version: Cgroup.self().version, source: 'proc' });
    expectLimitSeen(r, cg);
    await cg.delete();
  });

  it('nested: an unlimited cgroup inside the limited one reports the outer limit', async () => {
    const outer = cgroup();
    const inner = cgroup({ limited: false, under: outer });
    const r = await report(inner);
    expect(r.found).toMatchObject({ dir: inner.path, source: 'proc' });
    expectLimitSeen(r, outer);
    await outer.delete();
  });

  it('unlimited: max Infinity, ratio 0', async () => {
    const cg = cgroup({ limited: false });
    const r = await report(cg);
    expect(r.usage).toMatchObject({ max: 'Infinity', ratio: 0 });
    expect(r.usage.current).toBeGreaterThan(4 * MiB);
    await cg.delete();
  });

  it('onPressure reports the crossing the agent causes by allocating', async () => {
    const cg = cgroup();
    const { subprocess } = await node(cg, 'pressure.mjs');
    const result = await subprocess;
    expect(result.exitCode).toBe(0);
    const event = JSON.parse(String(result.stdout)) as { start: number; threshold: number; state: string; ratio: number; max: number };
    expect(event).toMatchObject({ state: 'above', max: LIMIT });
    expect(event.ratio).toBeGreaterThan(event.threshold);
    expect(event.start).toBeLessThan(event.threshold);
    await cg.delete();
  });
});

describe('onTimeoutSignals with real signals', () => {
  const exists = (path: string): boolean => {
    try {
      readFileSync(path);
      return true;
    } catch {
      return false;
    }
  };

  async function start(mode: string) {
    const cg = cgroup();
    const out = join(dir, `signals-${cg.name}`);
    const child = await node(cg, 'signals.mjs', [mode], { OUT: out });
    await waitFor(() => exists(`${out}.ready`), { message: `${out}.ready` });
    return { ...child, cg, out, read: (ext: string) => readFileSync(`${out}.${ext}`, 'utf8') };
  }

  it('SIGUSR1 aborts the signal (the loop stops and saves), SIGTERM runs onHard, then exit 0', async () => {
    const agent = await start('normal');
    process.kill(agent.pid, 'SIGUSR1');
    await waitFor(() => exists(`${agent.out}.saved`), { message: 'state saved after SIGUSR1' });
    expect(agent.read('soft')).toBe('SIGUSR1 aborted=true');
    expect(agent.subprocess.exitCode).toBeNull(); // wrapped up, still running
    process.kill(agent.pid, 'SIGTERM');
    const result = await agent.subprocess;
    expect({ exitCode: result.exitCode, signal: result.signal, stderr: result.stderr }).toEqual({ exitCode: 0, signal: undefined, stderr: '' });
    expect(agent.read('hard')).toBe('SIGTERM');
    await agent.cg.delete();
  });

  it('SIGTERM first: the loop stops too; a failing onHard exits 1 with the error shown', async () => {
    const agent = await start('reject');
    process.kill(agent.pid, 'SIGTERM');
    const result = await agent.subprocess;
    expect(result.exitCode).toBe(1);
    expect(String(result.stderr)).toContain('could not save state');
    expect(exists(`${agent.out}.saved`)).toBe(true);
    expect(exists(`${agent.out}.soft`)).toBe(false);
    expect(agent.read('hard')).toBe('SIGTERM');
    await agent.cg.delete();
  });

  it('after dispose, SIGTERM terminates the process the default way', async () => {
    const agent = await start('dispose');
    process.kill(agent.pid, 'SIGTERM');
    const result = await agent.subprocess;
    expect(result.signal).toBe('SIGTERM');
    expect(exists(`${agent.out}.hard`)).toBe(false);
    await agent.cg.delete();
  });
});

describe('onEviction with a real notice', () => {
  it('the notice (SIGUSR2 to the cgroup) reaches the handler, which saves state before the kill', async () => {
    const cg = cgroup();
    const out = join(dir, `eviction-${cg.name}`);
    const exists = (path: string): boolean => readdirSync(dir).includes(path.slice(dir.length + 1));
    const agent = await node(cg, 'eviction.mjs', [], { OUT: out });
    await waitFor(() => exists(`${out}.ready`), { message: `${out}.ready` });
    // What the host does for a non-emergency relief kill: the notice, a grace, then the kill.
    expect(cg.signal('SIGUSR2')).toBe(1);
    await waitFor(() => exists(`${out}.saved`), { message: 'state saved after the eviction notice' });
    expect(readFileSync(`${out}.saved`, 'utf8')).toBe('SIGUSR2 aborted=true');
    expect(agent.subprocess.exitCode).toBeNull(); // the notice alone does not end it
    await cg.kill();
    const result = await agent.subprocess;
    expect(result.signal).toBe('SIGKILL');
    await cg.delete();
  });
});
