import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { planCapacity } from '../../../src/setup/capacity.js';
import { fakeTree } from '../../helpers/fake-tree.js';
import type { CgroupHierarchy } from '../../../src/cgroup/detect.js';

const GiB = 2 ** 30;

/** The seed's "Memory Limit Rationale", character for character. */
const SEED_TABLE = `Total RAM:           1,536 GB
─────────────────────────────
System/kernel:          32 GB   (page cache, buffers, kernel)
Safety headroom:       200 GB   (~13%, for spikes)
Available for agents: 1,304 GB
─────────────────────────────
Per agent limit:         4 GB
Max concurrent:        ~325 agents

Recommended max:       300 agents (leaves buffer)`;

describe('planCapacity', () => {
  it("the seed's figures, given explicitly, reproduce its table exactly", () => {
    const plan = planCapacity({ totalMemory: '1536G', systemReserve: '32G', headroom: '200G', perAgentLimit: '4G' });
    expect(plan).toMatchObject({
      totalMemory: 1536 * GiB,
      systemReserve: 32 * GiB,
      headroom: 200 * GiB,
      availableForAgents: 1304 * GiB,
      perAgentLimit: 4 * GiB,
      maxConcurrent: 326,
      approxMaxConcurrent: 325,
      recommendedMax: 300,
    });
    expect(plan.table).toBe(SEED_TABLE);
  });

  it("the defaults are the seed's shares: 1,536 GB alone gives the same table", () => {
    expect(planCapacity({ totalMemory: '1536G' }).table).toBe(SEED_TABLE);
  });

  it('defaults read MemTotal from /proc/meminfo and scale the reserve and headroom', () => {
    const tree = fakeTree({ 'meminfo': 'MemTotal:       201326592 kB\n' }); // 192 GiB
    const plan = planCapacity({ procRoot: tree.root });
    expect(plan.totalMemory).toBe(192 * GiB);
    expect(plan.systemReserve).toBe(4 * GiB);
    expect(plan.headroom).toBe(25 * GiB);
    expect(plan.maxConcurrent).toBe(40); // 163 GiB / 4
    expect(plan.approxMaxConcurrent).toBe(40);
    expect(plan.recommendedMax).toBe(35); // 38 → steps of 5
  });

  it('a small host keeps at least 1 GiB for the system; fractions shown with one decimal', () => {
    const plan = planCapacity({ totalMemory: 24684084 * 1024 });
    expect(plan.systemReserve).toBe(GiB);
    expect(plan.maxConcurrent).toBe(4);
    expect(plan.recommendedMax).toBe(3);
    expect(plan.table.split('\n')[0]).toBe('Total RAM:            23.5 GB');
    expect(plan.table).toContain('Max concurrent:        ~4 agents');
  });

  it('percentages of RAM for reserve and headroom', () => {
    const plan = planCapacity({ totalMemory: '1000G', systemReserve: '5%', headroom: '15%', perAgentLimit: '8G' });
    expect(plan.systemReserve).toBe(50 * GiB);
    expect(plan.headroom).toBe(150 * GiB);
    expect(plan.maxConcurrent).toBe(100);
    expect(plan.approxMaxConcurrent).toBe(100);
    expect(plan.recommendedMax).toBe(95); // 95 is below 100: steps of 5
    expect(plan.table).toContain('(~15%, for spikes)');
  });

  it('reserve and headroom above RAM → nothing available, 0 agents', () => {
    const plan = planCapacity({ totalMemory: '8G', systemReserve: '6G', headroom: '4G' });
    expect(plan).toMatchObject({ availableForAgents: 0, maxConcurrent: 0, approxMaxConcurrent: 0, recommendedMax: 0 });
  });

  it.each([
    [{ perAgentLimit: 0 }],
    [{ perAgentLimit: 'max' }],
    [{ totalMemory: '0' }],
    [{ headroom: '120%' }],
    [{ headroom: '%' }],
    [{ systemReserve: 'lots' }],
    [{ systemReserve: 'max' }],
  ])('refuses %j', (options) => {
    expect(() => planCapacity({ totalMemory: '64G', ...options })).toThrow(
      expect.objectContaining({ code: expect.stringMatching(new RegExp(`${ErrorCode.INVALID_OPTION}|${ErrorCode.INVALID_SIZE}`)) }),
    );
  });

  it('sizes for the budget: a 1 GiB pod holds 1 agent of 400M, not the machine\'s 49', () => {
    const tree = fakeTree({
      meminfo: `MemTotal: ${24 * 1024 * 1024} kB\n`,
      'cg/cgroup.controllers': 'memory pids\n',
      'cg/pod/memory.max': `${GiB}\n`,
      'cg/pod/cgroup.type': 'domain\n',
    });
    const hierarchy: CgroupHierarchy = { mode: 'unified', version: 2, mounts: { unified: tree.path('cg') }, own: { unified: tree.path('cg/pod') }, readOnly: [] };
    const plan = planCapacity({ procRoot: tree.root, hierarchy, perAgentLimit: '400M' });
    expect(plan).toMatchObject({ totalMemory: GiB, source: 'cgroup', cgroup: tree.path('cg/pod'), maxConcurrent: 1 });
    // 1/8 of a small total for the system (not 1 GiB: that would leave nothing), 13 % headroom.
    expect(plan.systemReserve).toBe(GiB / 8);
    expect(plan.headroom).toBe(Math.round((GiB * 200) / 1536));
    expect(plan.table.split('\n')[0]).toBe(`Memory limit:            1 GB   (${tree.path('cg/pod')})`);
    // Without the pod's limit: the machine's 24 GiB.
    expect(planCapacity({ procRoot: tree.root, perAgentLimit: '400M' })).toMatchObject({ totalMemory: 24 * GiB, source: 'meminfo' });
    expect(planCapacity({ procRoot: tree.root, hierarchy, budget: '512M' })).toMatchObject({ totalMemory: 512 * 2 ** 20, source: 'option' });
  });

  it('small totals: the system reserve is 1/8 below 8 GiB, 1 GiB up to 48 GiB, 1/48 above', () => {
    expect(planCapacity({ totalMemory: '2G' }).systemReserve).toBe(GiB / 4);
    expect(planCapacity({ totalMemory: '8G' }).systemReserve).toBe(GiB);
    expect(planCapacity({ totalMemory: '96G' }).systemReserve).toBe(2 * GiB);
    expect(planCapacity({ totalMemory: '2G' }).availableForAgents).toBe(2 * GiB - GiB / 4 - Math.round((2 * GiB * 200) / 1536));
  });
});
