/** AgentHost options and calls that fail before any kernel work: typed errors, nothing started. */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { AgentHost, type AgentHostOptions } from '../../../src/host/agent-host.js';
import { resolveSpawn } from '../../../src/host/options.js';
import { AgentUsers, type AgentUser } from '../../../src/users/index.js';

describe('AgentHost options', () => {
  it.each<[string, AgentHostOptions, string]>([
    ['maxConcurrent 0', { maxConcurrent: 0 }, ErrorCode.INVALID_OPTION],
    ['maxConcurrent -1', { maxConcurrent: -1 }, ErrorCode.INVALID_OPTION],
    ['maxConcurrent 1.5', { maxConcurrent: 1.5 }, ErrorCode.INVALID_OPTION],
    ['maxConcurrent NaN', { maxConcurrent: NaN }, ErrorCode.INVALID_OPTION],
    ['killGrace "soon"', { killGrace: 'soon' }, ErrorCode.INVALID_DURATION],
    ['killGrace -5', { killGrace: -5 }, ErrorCode.INVALID_DURATION],
    ['pollInterval "x"', { pollInterval: 'x' }, ErrorCode.INVALID_DURATION],
    ['limits.memoryMax 0', { limits: { memoryMax: 0 } }, ErrorCode.INVALID_SIZE],
    ['limits.pidsMax 0', { limits: { pidsMax: 0 } }, ErrorCode.INVALID_OPTION],
    ['workspaces without a root', { workspaces: { root: '' } }, ErrorCode.INVALID_OPTION],
    ['workspaces.slots 0', { workspaces: { root: '/tmp/x', slots: 0 } }, ErrorCode.INVALID_OPTION],
    ['user { uid: -1 }', { user: { uid: -1, gid: 0 } }, ErrorCode.INVALID_OPTION],
    ['user "bad name!"', { user: 'bad name!' }, ErrorCode.INVALID_OPTION],
    ['users.first 5', { users: { first: 5 } }, ErrorCode.INVALID_OPTION],
  ])('refuses %s', (_what, options, code) => {
    expect(() => new AgentHost(options)).toThrow(expect.objectContaining({ code }));
  });

  it('accepts Infinity concurrency and the defaults', () => {
    expect(() => new AgentHost({ maxConcurrent: Infinity })).not.toThrow();
    expect(() => new AgentHost()).not.toThrow();
  });
});

describe('a spawn’s user', () => {
  const defaults = { limits: {}, timeouts: undefined, killGrace: 0, forkInside: undefined, pool: false, users: new AgentUsers('root') };
  it('is validated with the spawn, before anything is queued or leased; the spec carries it to the run', () => {
    for (const user of [{ uid: 1.5, gid: 0 }, 'no/such', 42] as unknown as AgentUser[]) {
      expect(() => resolveSpawn('a', { command: 'true', user }, defaults)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    }
    expect(resolveSpawn('a', { command: 'true', user: 'root' }, defaults).spec.user).toBe('root');
    expect(resolveSpawn('a', { command: 'true' }, defaults).spec.user).toBeUndefined();
  });
});

describe('before start()', () => {
  it('spawn, root and kill are typed errors; dispose is harmless and idempotent', async () => {
    const host = new AgentHost();
    await expect(host.spawn('a', { command: 'true' })).rejects.toMatchObject({ code: ErrorCode.HOST_NOT_STARTED });
    expect(() => host.root).toThrow(expect.objectContaining({ code: ErrorCode.HOST_NOT_STARTED }));
    await expect(host.kill('a')).rejects.toMatchObject({ code: ErrorCode.AGENT_NOT_FOUND });
    expect(() => host.exec('a', 'true')).toThrow(expect.objectContaining({ code: ErrorCode.AGENT_NOT_RUNNING }));
    // The deprecated name still works.
    expect(() => host.run('a', 'true')).toThrow(expect.objectContaining({ code: ErrorCode.AGENT_NOT_RUNNING }));
    expect(host.agents()).toEqual([]);
    expect(host.memoryReport().agents).toEqual([]);
    expect(host.status().counts).toEqual({ queued: 0, starting: 0, running: 0, paused: 0, stopping: 0, exited: 0 });
    await host.dispose();
    await host.dispose();
    await expect(host.start()).rejects.toMatchObject({ code: ErrorCode.HOST_DISPOSED });
  });

  it('pause/resume admission emit one event each, and only on a change', () => {
    const host = new AgentHost();
    const events: string[] = [];
    host.on('queue', (e) => events.push(`${e.reason}:${e.why}:${e.paused}`));
    host.pauseAdmission('high');
    host.pauseAdmission('higher');
    expect(host.admissionPaused).toBe('high');
    host.resumeAdmission('low');
    host.resumeAdmission('lower');
    expect(host.admissionPaused).toBeUndefined();
    expect(events).toEqual(['paused:high:true', 'resumed:low:false']);
  });
});
