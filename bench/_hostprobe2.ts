import { AgentHost, Cgroup } from '../src/index.js';
import { StateStore } from '../src/host/state.js';
import { mkdtempSync } from 'node:fs';
const acc: Record<string, number[]> = {};
const add = (k: string, v: number) => (acc[k] ??= []).push(v);
function wrap(obj: any, name: string, label: string) {
  const orig = obj[name];
  obj[name] = function (this: any, ...args: any[]) {
    const t0 = performance.now();
    const r = orig.apply(this, args);
    if (r && typeof r.then === 'function' && !(r as any).pid) return r.then((v: any) => (add(label, performance.now() - t0), v));
    add(label, performance.now() - t0);
    return r;
  };
}
wrap(Cgroup, 'create', 'Cgroup.create');
wrap(Cgroup.prototype, 'spawn', 'spawn (sync)');
wrap(Cgroup.prototype, 'joined', 'joined');
wrap(Cgroup.prototype, 'watch', 'watch');
wrap(Cgroup.prototype, 'stats', 'stats');
wrap(Cgroup.prototype, 'delete', 'delete');
wrap(Cgroup.prototype, 'populated', 'populated');
wrap(StateStore.prototype, 'write', 'state.write');
wrap(StateStore.prototype, 'remove', 'state.remove');
const top = Cgroup.create(Cgroup.self(), 'nova-bench-probe-' + process.pid);
const root = Cgroup.create(top, 'h');
const host = new AgentHost({ cgroupRoot: root, stateDir: mkdtempSync('/tmp/probe-') });
await host.start();
for (const k of Object.keys(acc)) acc[k] = [];
const N = 150;
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  const agent = await host.spawn('p' + i, { command: '/bin/true' });
  add('host.spawn resolved', performance.now() - t0);
  await agent.result;
  add('total', performance.now() - t0);
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1]!;
for (const [k, v] of Object.entries(acc)) console.log(k.padEnd(22), med(v).toFixed(3), 'n=' + v.length, 'sum/N=' + (v.reduce((a, b) => a + b, 0) / N).toFixed(3));
await host.dispose(); await top.delete();
