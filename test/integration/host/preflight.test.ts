/** AgentHost runs the host preflight on start(): refuses on failing checks, warns, or skips it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentHost, ErrorCode, type PreflightReport } from '../../../src/index.js';
import { startHost, tempDir, testRoot } from './harness.js';

describe('AgentHost preflight on start()', () => {
  it('runs by default and reports this host (refuse passes: nothing here makes isolation a lie)', async () => {
    const reports: PreflightReport[] = [];
    const root = testRoot('preflight');
    const host = new AgentHost({ cgroupRoot: root, stateDir: tempDir('pf') });
    host.on('preflight', (report) => reports.push(report));
    await host.start();
    try {
      expect(reports).toHaveLength(1);
      expect(reports[0]!.checks.some((c) => c.id === 'swap')).toBe(true);
      expect(reports[0]!.checks.filter((c) => c.status === 'fail')).toEqual([]);
    } finally {
      await host.dispose();
    }
  });

  it("is skipped with preflight: 'off'", async () => {
    let seen = 0;
    const { host } = await startHost({ preflight: 'off' });
    host.on('preflight', () => seen++);
    expect(seen).toBe(0);
  });

  it('refuses a host where isolation would be a lie (swap on, no memory controller), creating nothing', async () => {
    // A fake /proc: swap on, no cgroup mounted at all.
    const proc = tempDir('pf-proc');
    mkdirSync(join(proc, 'self'));
    writeFileSync(join(proc, 'self', 'cgroup'), '');
    writeFileSync(join(proc, 'self', 'mountinfo'), '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n');
    writeFileSync(join(proc, 'swaps'), 'Filename Type Size Used Priority\n/dev/sda2 partition 1024 0 -2\n');
    writeFileSync(join(proc, 'meminfo'), 'MemTotal: 1000 kB\nMemAvailable: 900 kB\n');
    const stateDir = join(tempDir('pf2'), 'state');
    const host = new AgentHost({ stateDir, preflight: { procRoot: proc, sysRoot: tempDir('pf-sys') } });
    await expect(host.start()).rejects.toMatchObject({ code: ErrorCode.PREFLIGHT_FAILED });
    expect(() => host.root).toThrow(expect.objectContaining({ code: ErrorCode.HOST_NOT_STARTED }));

    // The same host, told to warn, goes on to placement (which fails on its own terms here or succeeds on this kernel).
    const warned: PreflightReport[] = [];
    const lenient = new AgentHost({ cgroupRoot: testRoot('pf-warn'), stateDir: join(tempDir('pf3'), 'state'), preflight: { mode: 'warn', procRoot: proc, sysRoot: tempDir('pf-sys2') } });
    lenient.on('preflight', (report) => warned.push(report));
    await lenient.start();
    try {
      expect(warned[0]!.checks.some((c) => c.status === 'fail')).toBe(true);
    } finally {
      await lenient.dispose();
    }
  });
});
