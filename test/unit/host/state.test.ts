/** StateStore: the per-agent JSON records a restarted orchestrator reattaches from. */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateStore, type AgentRecord } from '../../../src/host/state.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nova-state-unit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const record = (id: string, extra: Partial<AgentRecord> = {}): AgentRecord => ({
  id,
  pid: 1234,
  command: 'sleep',
  args: ['60'],
  priority: 2,
  protected: false,
  preferred: true,
  startedAt: 1_700_000_000_000,
  workspace: '/ws/ws-001',
  owner: 42,
  ...extra,
});

describe('StateStore', () => {
  it('prepare() removes records half-written by a dead orchestrator, not those of a live one', () => {
    const store = new StateStore(dir);
    const dead = 2 ** 22 + 12345; // above any pid_max: no such process
    writeFileSync(join(dir, `a.json.${dead}.tmp`), '{"id":');
    writeFileSync(join(dir, `b.json.${process.pid}.tmp`), '{"id":');
    writeFileSync(join(dir, 'c.json'), JSON.stringify(record('c')));
    store.prepare();
    expect(readdirSync(dir).sort()).toEqual([`b.json.${process.pid}.tmp`, 'c.json']);
  });

  it('writes (0600, in a 0700 directory), reads, lists and removes records; no temp file is left', () => {
    const store = new StateStore(join(dir, 'nested', 'state'));
    store.prepare();
    expect(statSync(store.dir).mode & 0o777).toBe(0o700);
    store.write(record('a'));
    store.write(record('b', { pid: undefined, workspace: undefined }));
    expect(store.read('a')).toEqual(record('a'));
    expect(store.read('b')).toMatchObject({ id: 'b' });
    expect([store.read('b')!.pid, store.read('b')!.workspace]).toEqual([undefined, undefined]);
    expect(statSync(join(store.dir, 'a.json')).mode & 0o777).toBe(0o600);
    expect(store.ids().sort()).toEqual(['a', 'b']);
    expect(readdirSync(store.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    store.write(record('a', { pid: 99 }));
    expect(store.read('a')!.pid).toBe(99);
    store.remove('a');
    store.remove('a');
    expect(store.read('a')).toBeUndefined();
    expect(store.ids()).toEqual(['b']);
  });

  it('a missing directory or a corrupt record reads as nothing; other files are not records', () => {
    expect(new StateStore(join(dir, 'missing')).ids()).toEqual([]);
    const store = new StateStore(dir);
    writeFileSync(join(dir, 'broken.json'), '{"id":');
    writeFileSync(join(dir, 'host.pid'), '123');
    expect(store.read('broken')).toBeUndefined();
    expect(store.read('nobody')).toBeUndefined();
    expect(store.ids()).toEqual(['broken']);
  });
});
