/** The machine a bench ran on: cores, kernel, cgroup mode, node; printed with every table. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { hostHierarchy } from '../../src/index.js';

export interface Machine {
  cores: number;
  cpu: string;
  memTotal: number;
  kernel: string;
  cgroupMode: string;
  cgroupVersion: 1 | 2 | undefined;
  node: string;
  /** The test VM of /work/shared/vm (software-emulated there: slow). */
  vm: boolean;
  /** systemd is PID 1 (the VM's `--systemd` mode, or a normal distro host). */
  systemd: boolean;
  hostname: string;
  loadAvg: number[];
  date: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

export function describeMachine(): Machine {
  const hierarchy = hostHierarchy();
  const hostname = os.hostname();
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memTotal: os.totalmem(),
    kernel: os.release(),
    cgroupMode: hierarchy.mode,
    cgroupVersion: hierarchy.version,
    node: process.version,
    vm: hostname === 'cgroup2-vm',
    systemd: read('/proc/1/comm') === 'systemd',
    hostname,
    loadAvg: os.loadavg().map((v) => Math.round(v * 100) / 100),
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
  };
}

/** A short key naming the environment: the section of docs/benchmarks.md a run replaces. */
export function environmentKey(machine: Machine): string {
  const v = `v${machine.cgroupVersion ?? '?'}`;
  if (machine.vm) return machine.systemd ? `${v}-vm-systemd` : `${v}-vm`;
  return `${v}-native`;
}

export function environmentTitle(machine: Machine): string {
  const v = `cgroup v${machine.cgroupVersion ?? '?'} (${machine.cgroupMode})`;
  if (machine.vm) return `${v}, test VM${machine.systemd ? ' with systemd as PID 1' : ''}`;
  return `${v}, native`;
}

export function machineLine(machine: Machine): string {
  return (
    `${machine.cores} cores (${machine.cpu}), ${(machine.memTotal / 2 ** 30).toFixed(1)} GiB, kernel ${machine.kernel}, ` +
    `cgroup ${machine.cgroupMode} (v${machine.cgroupVersion ?? '?'}), node ${machine.node}` +
    `${machine.vm ? ', QEMU VM' : ''}${machine.systemd ? ', systemd PID 1' : ''}, load avg ${machine.loadAvg.join(' ')} at start, ${machine.date} UTC`
  );
}
