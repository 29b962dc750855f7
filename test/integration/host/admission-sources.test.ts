/**
 * Memory admission driven by the monitor (host level from an injected reading, not by filling RAM),
 * and a pause made by hand that the monitor's return to normal does not lift.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type HostMemory, type QueueEvent } from '../../../src/index.js';
import { waitFor } from '../../helpers/wait.js';
import { startHost } from './harness.js';

const reading = (usedRatio: number): HostMemory => ({ total: 1000, available: 1000 * (1 - usedRatio), used: 1000 * usedRatio, usedRatio });

describe('admission sources', () => {
  it('pauses at the high threshold and resumes below it; a manual pause outlives the monitor', async () => {
    let used = 0.5;
    const { host } = await startHost({ monitor: { interval: 20, readMemory: () => reading(used) } });
    const events: QueueEvent[] = [];
    host.on('queue', (e) => events.push(e));

    used = 0.9; // above 85 %
    await waitFor(() => host.admissionPaused !== undefined, { timeout: 5000 });
    await expect(host.spawn('refused', { command: 'true', admission: 'fail' })).rejects.toMatchObject({ code: ErrorCode.ADMISSION_REFUSED });
    const waiting = host.spawn('waiter', { command: 'true' });
    await sleep(100);
    expect(host.get('waiter')?.state).toBe('queued');

    host.pauseAdmission('maintenance');
    used = 0.5; // the monitor lifts its own pause only
    await waitFor(() => events.some((e) => e.reason === 'resumed'), { timeout: 5000 });
    await sleep(100);
    expect(host.admissionPaused).toBe('maintenance');
    expect(host.get('waiter')?.state).toBe('queued');

    host.resumeAdmission();
    const agent = await waiting;
    expect((await agent.result).reason).toBe('exit');
    expect(events.map((e) => e.reason)).toEqual(['paused', 'queued', 'paused', 'resumed', 'resumed', 'dequeued']);
  });
});
