/**
 * The capacity plan's arithmetic, shared by planCapacity() and the limits AgentHost.start() writes
 * on its agents' root: 1,536 GB − 32 GB system − 200 GB headroom = 1,304 GB for agents, scaled.
 */
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/cgroup/cgroup.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';
import { ErrorCode } from '../../../src/errors.js';
import { backstopLimits } from '../../../src/host/placement.js';
import { planCapacity } from '../../../src/setup/capacity.js';
import { agentsRootLimits, reserveOf } from '../../../src/setup/reserve.js';
import { fakeTree } from '../../helpers/fake-tree.js';

const GiB = 2 ** 30;

describe('reserveOf and agentsRootLimits', () => {
  it('1,536 GB → 32 GB system, 200 GB headroom, 1,304 GB for agents; memory.high 1/32 below', () => {
    expect(reserveOf(1536 * GiB)).toEqual({ systemReserve: 32 * GiB, headroom: 200 * GiB, availableForAgents: 1304 * GiB });
    expect(agentsRootLimits(1304 * GiB)).toEqual({ memoryMax: 1304 * GiB, memoryHigh: (1304 * GiB * 31) / 32 });
    // In whole pages, as the kernel keeps them.
    expect(agentsRootLimits(GiB + 4095)).toEqual({ memoryMax: GiB, memoryHigh: (GiB * 31) / 32 });
  });

  it.each([
    // total, system, available: at least 1 GiB of system up to 48 GiB, 1/8 below 8 GiB
    [1 * GiB, GiB / 8],
    [2 * GiB, GiB / 4],
    [8 * GiB, GiB],
    [24 * GiB, GiB],
    [192 * GiB, 4 * GiB],
  ])('small and mid-size machines: %d bytes keep %d for the system, 13 %% headroom, the rest for agents', (total, system) => {
    const reserve = reserveOf(total);
    expect(reserve.systemReserve).toBe(system);
    expect(reserve.headroom).toBe(Math.round((total * 200) / 1536));
    expect(reserve.availableForAgents).toBe(total - system - reserve.headroom);
    expect(reserve.availableForAgents).toBeGreaterThan(total / 2);
  });

  it('explicit reserves, as sizes or shares; never below 0 for agents', () => {
    expect(reserveOf(64 * GiB, { system: '2G', headroom: '10%' })).toEqual({ systemReserve: 2 * GiB, headroom: Math.round(6.4 * GiB), availableForAgents: 64 * GiB - 2 * GiB - Math.round(6.4 * GiB) });
    expect(reserveOf(GiB, { system: '1G', headroom: '1G' }).availableForAgents).toBe(0);
    expect(() => reserveOf(GiB, { system: '120%' })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
  });
});

describe('backstopLimits: what start() writes is what planCapacity() prints', () => {
  function pod(limit: number): { hierarchy: CgroupHierarchy; procRoot: string; base: Cgroup } {
    const tree = fakeTree({
      'proc/meminfo': `MemTotal: ${24 * 1024 * 1024} kB\n`,
      'cg/cgroup.controllers': 'memory pids\n',
      'cg/pod/memory.max': `${limit}\n`,
      'cg/pod/cgroup.type': 'domain\n',
      // The root's own limit (from an earlier start) is not an input: the plan decides it.
      'cg/pod/nova-agents/memory.max': `${GiB / 2}\n`,
    });
    const hierarchy: CgroupHierarchy = { mode: 'unified', version: 2, mounts: { unified: tree.path('cg') }, own: { unified: tree.path('cg/pod') }, readOnly: [] };
    return { hierarchy, procRoot: tree.path('proc'), base: Cgroup.self({ hierarchy }) };
  }

  it('a 4 GiB pod: the root gets its plan\'s "available for agents"', () => {
    const { hierarchy, procRoot, base } = pod(4 * GiB);
    const limits = backstopLimits({ parent: base }, {}, procRoot)!;
    const plan = planCapacity({ procRoot, hierarchy });
    expect(plan.totalMemory).toBe(4 * GiB);
    expect(limits).toEqual(plan.agentsRoot);
    expect(limits.memoryMax).toBe(Math.floor(plan.availableForAgents / 4096) * 4096);
    expect(plan.availableForAgents).toBe(4 * GiB - GiB / 2 - Math.round((4 * GiB * 200) / 1536));
    // The same reserve options give the same figures on both sides.
    expect(backstopLimits({ parent: base }, { reserve: { system: '256M', headroom: '5%' } }, procRoot)).toEqual(
      planCapacity({ procRoot, hierarchy, systemReserve: '256M', headroom: '5%' }).agentsRoot,
    );
  });

  it('an explicit agentsMemoryMax, or false for none; a budget that leaves nothing is an error to report', () => {
    const { procRoot, base } = pod(4 * GiB);
    expect(backstopLimits({ parent: base }, { agentsMemoryMax: '2G' }, procRoot)).toEqual(agentsRootLimits(2 * GiB));
    expect(backstopLimits({ parent: base }, { agentsMemoryMax: false }, procRoot)).toBeUndefined();
    expect(() => backstopLimits({ parent: base }, { agentsMemoryMax: 0 }, procRoot)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    expect(() => backstopLimits({ parent: base }, { reserve: { system: '3G', headroom: '1G' } }, procRoot)).toThrow(
      expect.objectContaining({ code: ErrorCode.HOST_MEMORY_UNAVAILABLE }),
    );
  });
});
