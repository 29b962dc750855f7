/**
 * Admission: which waiting agent starts next, and when. A priority queue (higher first, FIFO among
 * equals) with a concurrency limit, pause sources (a caller's and the memory monitor's, each lifted
 * only by itself), per-agent queue timeouts and abort signals, and a pluggable gate that can hold
 * the head of the queue back (admission by expected memory plugs in there) until `recheck()`.
 */
import type { Limits } from '../cgroup/limits.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import type { QueueEvent, QueueMemoryHold } from './events.js';

/** What the gate decides on: the agent at the head of the queue. */
export interface AdmissionCandidate {
  readonly id: string;
  readonly priority: number;
  /** The limits it will run with (its memory.max, say, for admission by expected memory). */
  readonly limits: Limits;
}

/** A gate's reason for holding the head back; with `memory`, a `queue` event (`reason: 'memory'`) reports the figures. */
export interface AdmissionHold {
  why: string;
  memory?: QueueMemoryHold;
}

/** `true` admits the candidate now; `false` or a reason holds it (and every agent behind it) until {@link Admission.recheck}. */
export type AdmissionGate = (candidate: AdmissionCandidate) => boolean | string | AdmissionHold;

/** One agent waiting for admission. */
export interface AdmissionTicket extends AdmissionCandidate {
  /** Runs once admitted; the slot is held until the promise settles (for a run, its whole life). */
  run(): Promise<unknown>;
  /** It left the queue without being admitted (timeout, abort, cancel, clear): why. */
  drop(error: AgentHostError): void;
}

/** How one agent waits. */
export interface WaitOptions {
  /** Cancels the wait (`ERR_ABORTED`). */
  signal?: AbortSignal;
  /** Give up after this many ms (`ERR_ADMISSION_TIMEOUT`). Default: wait forever. */
  timeout?: number;
  /** While admission is paused: `wait` (default) or throw `ERR_ADMISSION_REFUSED` at once. */
  whenPaused?: 'wait' | 'fail';
}

/** Options of an {@link Admission}. */
export interface AdmissionOptions {
  /** Agents admitted at once (positive integer or `Infinity`). */
  concurrency: number;
  /** Holds the head of the queue back while it answers other than `true`. Default: admit all. */
  canAdmit?: AdmissionGate;
  /** Every queue change, for the host's `queue` event. */
  onEvent?: (event: QueueEvent) => void;
}

/** Who paused admission: a caller (`pauseAdmission()`), the memory monitor, or a later source. */
export type PauseSource = 'manual' | 'memory' | (string & {});

interface Waiting {
  ticket: AdmissionTicket;
  /** A `queued` event went out: only then does `dequeued` follow. */
  announced: boolean;
  detach(): void;
}

/** The admission queue of one host. */
export class Admission {
  readonly #concurrency: number;
  readonly #gate: AdmissionGate | undefined;
  readonly #onEvent: (event: QueueEvent) => void;
  readonly #waiting: Waiting[] = [];
  readonly #pauses = new Map<PauseSource, string>();
  #running = 0;
  #held: string | undefined;
  /** The agent a `memory` queue event went out for: one event per agent held, not one per recheck. */
  #heldFor: string | undefined;
  #lastHold: AdmissionHold | undefined;

  constructor(options: AdmissionOptions) {
    const { concurrency } = options;
    if (!(concurrency === Infinity || (Number.isSafeInteger(concurrency) && concurrency > 0))) {
      throw new AgentHostError(ErrorCode.INVALID_OPTION, `maxConcurrent must be a positive integer or Infinity, got ${concurrency}`);
    }
    this.#concurrency = concurrency;
    this.#gate = options.canAdmit;
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  /** Agents waiting. */
  get size(): number {
    return this.#waiting.length;
  }

  /** Agents admitted and not finished (holding a slot). */
  get running(): number {
    return this.#running;
  }

  /** Why admission is paused (every source's reason), or `undefined` when it is not. */
  get paused(): string | undefined {
    return this.#pauses.size === 0 ? undefined : [...this.#pauses.values()].join('; ');
  }

  /** Why the gate holds the head of the queue back, or `undefined`. */
  get held(): string | undefined {
    return this.#held;
  }

  /** The queue's figures now, as `status().queue` shows them. */
  snapshot(): { size: number; running: number; pending: number; paused: boolean; why: string | undefined } {
    const why = this.paused;
    return { size: this.size, running: this.#running, pending: this.#running, paused: why !== undefined, why };
  }

  /**
   * Queues `ticket`, starting it at once when it may. Throws (having queued nothing) when the
   * signal is already aborted, or admission is paused and `whenPaused` is `fail`.
   */
  enqueue(ticket: AdmissionTicket, options: WaitOptions = {}): void {
    const { id } = ticket;
    if (options.signal?.aborted) throw aborted(id);
    const why = this.paused;
    if (why !== undefined && options.whenPaused === 'fail') throw new AgentHostError(ErrorCode.ADMISSION_REFUSED, `agent ${id} not admitted: ${why}`);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => void this.cancel(id, aborted(id));
    const entry: Waiting = {
      ticket,
      announced: false,
      detach: () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      },
    };
    // Higher priority first; among equals, first come first served.
    const at = this.#waiting.findIndex((other) => other.ticket.priority < ticket.priority);
    this.#waiting.splice(at === -1 ? this.#waiting.length : at, 0, entry);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeout !== undefined) {
      const ms = options.timeout;
      timer = setTimeout(() => this.cancel(id, new AgentHostError(ErrorCode.ADMISSION_TIMEOUT, `agent ${id} waited ${ms} ms in the queue`)), ms);
      timer.unref();
    }
    this.#pump();
    if (this.#waiting.includes(entry)) {
      entry.announced = true;
      this.#emit('queued', id);
      if (this.#waiting[0] === entry && this.#held !== undefined) this.#hold(entry, this.#lastHold!);
    }
  }

  /** Takes a waiting agent out of the queue and drops it with `error`; `false` if it is not waiting. */
  cancel(id: string, error: AgentHostError): boolean {
    const index = this.#waiting.findIndex((entry) => entry.ticket.id === id);
    if (index === -1) return false;
    const [entry] = this.#waiting.splice(index, 1);
    entry!.detach();
    entry!.ticket.drop(error);
    if (entry!.announced) this.#emit('dequeued', id);
    // The head may have been what the gate held back.
    if (index === 0) this.#pump();
    return true;
  }

  /** Drops every waiting agent (the host is being disposed). */
  clear(error: (id: string) => AgentHostError): void {
    for (const { ticket } of [...this.#waiting]) this.cancel(ticket.id, error(ticket.id));
  }

  /** Holds every waiting agent back until `source` resumes (other sources' pauses are independent). */
  pause(source: PauseSource, why: string): void {
    if (this.#pauses.has(source)) return;
    this.#pauses.set(source, why);
    this.#emit('paused', undefined, why);
  }

  /** Lifts `source`'s pause; agents start once no source holds admission paused. */
  resume(source: PauseSource, why: string): void {
    if (!this.#pauses.delete(source)) return;
    // Announced before starting anyone: the `dequeued` events must follow `resumed`.
    this.#emit('resumed', undefined, why);
    this.#pump();
  }

  /** Asks the gate again (memory was freed, an estimate changed). */
  recheck(): void {
    this.#pump();
  }

  #pump(): void {
    while (this.#pauses.size === 0 && this.#running < this.#concurrency && this.#waiting.length > 0) {
      const head = this.#waiting[0]!;
      const verdict = this.#gate?.(head.ticket) ?? true;
      if (verdict !== true) return this.#hold(head, verdict);
      this.#held = undefined;
      this.#heldFor = undefined;
      this.#waiting.shift();
      head.detach();
      this.#running++;
      if (head.announced) this.#emit('dequeued', head.ticket.id);
      // A run that throws at once frees its slot like one that rejects.
      void settled(new Promise((resolve) => resolve(head.ticket.run()))).then(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  /** Holds `head` back; a memory hold is announced once per agent, after its `queued` event. */
  #hold(head: Waiting, verdict: false | string | AdmissionHold): void {
    const { id } = head.ticket;
    const hold = typeof verdict === 'object' ? verdict : { why: verdict === false ? `agent ${id} not admitted yet` : verdict };
    this.#held = hold.why;
    this.#lastHold = hold;
    if (hold.memory === undefined || this.#heldFor === id || !head.announced) return;
    this.#heldFor = id;
    this.#emit('memory', id, hold.why, hold.memory);
  }

  #emit(reason: QueueEvent['reason'], id?: string, why?: string, memory?: QueueMemoryHold): void {
    const event: QueueEvent = { reason, size: this.size, running: this.#running, pending: this.#running, paused: this.#pauses.size > 0 };
    if (id !== undefined) event.id = id;
    if (why !== undefined) event.why = why;
    if (memory !== undefined) event.memory = memory;
    this.#onEvent(event);
  }
}

function aborted(id: string): AgentHostError {
  return new AgentHostError(ErrorCode.ABORTED, `spawn of agent ${id} was aborted`);
}

/** Resolves when `promise` settles, either way: the slot is freed whatever the run's outcome. */
function settled(promise: Promise<unknown>): Promise<void> {
  return promise.then(
    () => undefined,
    () => undefined,
  );
}
