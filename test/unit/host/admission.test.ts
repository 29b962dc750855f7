/** Admission with fake tickets: priorities, concurrency, pause sources, timeouts, aborts, the gate. */
import { describe, expect, it } from 'vitest';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { Admission, type AdmissionGate, type AdmissionTicket } from '../../../src/host/admission.js';
import type { QueueEvent } from '../../../src/host/events.js';
import { waitFor } from '../../helpers/wait.js';
import { deferred } from './fake-run.js';

function world(concurrency = 1, canAdmit?: AdmissionGate) {
  const events: QueueEvent[] = [];
  const admission = new Admission({ concurrency, canAdmit, onEvent: (event) => events.push(event) });
  const started: string[] = [];
  const dropped: Array<[string, string]> = [];
  const finish = new Map<string, () => void>();
  const ticket = (id: string, priority = 0): AdmissionTicket => ({
    id,
    priority,
    limits: { memoryMax: '1G' },
    run: () => {
      started.push(id);
      const done = deferred<void>();
      finish.set(id, () => done.resolve());
      return done.promise;
    },
    drop: (error) => void dropped.push([id, error.code]),
  });
  const end = async (id: string): Promise<void> => {
    finish.get(id)!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  const reasons = (): string[] => events.map((e) => `${e.reason}${e.id ? `:${e.id}` : ''}`);
  return { admission, events, started, dropped, ticket, end, reasons };
}

describe('Admission', () => {
  it('starts at once while there is room; then by priority, first come first served among equals', async () => {
    const w = world(1);
    w.admission.enqueue(w.ticket('first'));
    for (const [id, priority] of [['low', 0], ['high', 5], ['low2', 0], ['mid', 2]] as const) w.admission.enqueue(w.ticket(id, priority));
    expect(w.started).toEqual(['first']);
    expect(w.admission.snapshot()).toEqual({ size: 4, running: 1, pending: 1, paused: false, why: undefined });
    for (const id of ['first', 'high', 'mid', 'low']) await w.end(id);
    expect(w.started).toEqual(['first', 'high', 'mid', 'low', 'low2']);
    expect(w.reasons()).toEqual(['queued:low', 'queued:high', 'queued:low2', 'queued:mid', 'dequeued:high', 'dequeued:mid', 'dequeued:low', 'dequeued:low2']);
    // `running` is the word; `pending` its deprecated alias, always equal.
    expect(w.events.every((e) => e.pending === e.running)).toBe(true);
  });

  it('a slot is freed whatever the run does: resolve, reject or throw at once', async () => {
    const w = world(1);
    w.admission.enqueue({ ...w.ticket('throws'), run: () => { throw new Error('boom'); } });
    w.admission.enqueue({ ...w.ticket('rejects'), run: () => Promise.reject(new Error('no')) });
    w.admission.enqueue(w.ticket('ok'));
    await waitFor(() => w.started.includes('ok'));
    expect(w.admission.running).toBe(1);
  });

  it('pause sources are independent: each lifts only its own pause; resumed comes before the dequeued it causes', async () => {
    const w = world(Infinity);
    w.admission.pause('manual', 'by hand');
    w.admission.pause('memory', 'memory 90%');
    w.admission.pause('memory', 'again'); // one pause per source
    w.admission.enqueue(w.ticket('waiter'));
    expect(w.admission.paused).toBe('by hand; memory 90%');
    w.admission.resume('memory', 'memory back');
    expect(w.started).toEqual([]);
    w.admission.resume('memory', 'not paused by it'); // no-op, no event
    w.admission.resume('manual', 'resumed');
    expect(w.started).toEqual(['waiter']);
    expect(w.reasons()).toEqual(['paused', 'paused', 'queued:waiter', 'resumed', 'resumed', 'dequeued:waiter']);
    expect(w.events.map((e) => e.paused)).toEqual([true, true, true, true, false, false]);
  });

  it('whenPaused fail: ERR_ADMISSION_REFUSED at once, nothing queued', () => {
    const w = world();
    w.admission.pause('memory', 'memory 90%');
    expect(() => w.admission.enqueue(w.ticket('x'), { whenPaused: 'fail' })).toThrow(expect.objectContaining({ code: ErrorCode.ADMISSION_REFUSED }));
    expect(w.admission.size).toBe(0);
  });

  it('a queue timeout and an abort drop the waiter with their typed error (once), and free its place', async () => {
    const w = world(1);
    w.admission.enqueue(w.ticket('busy'));
    const controller = new AbortController();
    w.admission.enqueue(w.ticket('aborted'), { signal: controller.signal });
    w.admission.enqueue(w.ticket('late'), { timeout: 20 });
    controller.abort();
    controller.abort();
    await waitFor(() => w.dropped.length === 2);
    expect(w.dropped).toEqual([
      ['aborted', ErrorCode.ABORTED],
      ['late', ErrorCode.ADMISSION_TIMEOUT],
    ]);
    expect(w.admission.size).toBe(0);
    await w.end('busy');
    expect(w.started).toEqual(['busy']);
  });

  it('an already aborted signal throws before anything is queued', () => {
    const w = world();
    expect(() => w.admission.enqueue(w.ticket('x'), { signal: AbortSignal.abort() })).toThrow(expect.objectContaining({ code: ErrorCode.ABORTED }));
    expect(w.events).toEqual([]);
  });

  it('cancel() and clear() drop waiters; a cancel of one not waiting is false', () => {
    const w = world(1);
    w.admission.enqueue(w.ticket('running'));
    w.admission.enqueue(w.ticket('a'));
    w.admission.enqueue(w.ticket('b'));
    expect(w.admission.cancel('running', new AgentHostError(ErrorCode.ABORTED, 'x'))).toBe(false);
    expect(w.admission.cancel('a', new AgentHostError(ErrorCode.ABORTED, 'x'))).toBe(true);
    w.admission.clear(() => new AgentHostError(ErrorCode.HOST_DISPOSED, 'disposed'));
    expect(w.dropped).toEqual([
      ['a', ErrorCode.ABORTED],
      ['b', ErrorCode.HOST_DISPOSED],
    ]);
  });

  it('the gate holds the head of the queue (and all behind it) until recheck() admits it', () => {
    let free = 1;
    const w = world(Infinity, (candidate) => {
      expect(candidate.limits).toEqual({ memoryMax: '1G' });
      return free > 0 ? (free--, true) : `not enough memory for ${candidate.id}`;
    });
    w.admission.enqueue(w.ticket('one'));
    w.admission.enqueue(w.ticket('two', 1));
    w.admission.enqueue(w.ticket('three'));
    expect(w.started).toEqual(['one']);
    expect(w.admission.held).toBe('not enough memory for two');
    free = 1;
    w.admission.recheck();
    expect(w.started).toEqual(['one', 'two']);
    free = 5;
    w.admission.recheck();
    expect(w.started).toEqual(['one', 'two', 'three']);
    expect(w.admission.held).toBeUndefined();
  });

  it('rejects a bad concurrency', () => {
    for (const concurrency of [0, -1, 1.5, NaN]) {
      expect(() => new Admission({ concurrency })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_OPTION }));
    }
  });
});
