/**
 * A BullMQ Worker whose jobs are agents on one node's AgentHost. The host's admission drives
 * fetching: while admission is paused (memory high, or paused by hand) or agents wait in the
 * host's own queue (it is at `maxConcurrent`), the worker fetches nothing, so jobs wait in Redis
 * for a node with room instead of being started, and killed, on a full one.
 */
import { hostname } from 'node:os';
import { Job, UnrecoverableError, WaitingError, Worker, type WorkerOptions } from 'bullmq';
import type { AgentHost } from '../host/agent-host.js';
import type { Agent, AgentResult } from '../host/agent.js';
import type { QueueEvent } from '../host/events.js';
import { AgentHostError, ErrorCode } from '../errors.js';
import { parseDuration, type Duration } from '../util/duration.js';
import { Emitter } from '../util/emitter.js';
import { OrphanGuard } from './guard.js';
import { toSpawnOptions, validateJobData, type AgentJobData, type AgentJobResult } from './job.js';
import { reportProgress } from './progress.js';
import { agentOutcome, spawnFailure, type AgentOutcome, type RetryOomOptions } from './outcome.js';

/** The part of an AgentHost a worker uses: its public API, nothing more. */
export type AgentWorkerHost = Pick<AgentHost, 'spawn' | 'kill' | 'agents' | 'status' | 'admissionPaused' | 'root' | 'on' | 'off'>;

/** Options of {@link createAgentWorker}: BullMQ's `WorkerOptions` (its defaults) plus these. */
export interface AgentWorkerOptions extends WorkerOptions {
  /** The queue's name. */
  queue: string;
  /**
   * Jobs in progress at once on this node: set it to the host's `maxConcurrent`, so BullMQ itself
   * stops fetching at the host's capacity. Default `1` (BullMQ's).
   */
  concurrency?: number;
  /** This node's name in results, progress and metrics. Default: the machine's host name. */
  node?: string;
  /**
   * The longest a job may wait in the host's own queue before it goes back to Redis for another
   * node (it can wait there only if a spawn raced a pause or the host filled up). Default `'5s'`.
   */
  localQueueTimeout?: Duration;
  /**
   * How long {@link AgentWorker.close} lets running agents finish; after that it kills them
   * gracefully (SIGTERM, the host's grace, SIGKILL) and returns their jobs to the queue without
   * using an attempt. Default: wait for them however long they take.
   */
  closeTimeout?: Duration;
  /**
   * Retry an agent the kernel OOM-killed at its own limit with a larger one (the job's attempts
   * permitting); `false` (default) fails it for good, as its next attempt would hit the same limit.
   */
  retryOom?: RetryOomOptions | false;
  /**
   * Run the orphan guard: a small process that kills this worker's agents the moment the
   * orchestrator dies, so they never run beside the copies other nodes start once the jobs' locks
   * expire (docs/fleet.md). Default `true`. Without it, the agents run on until the orchestrator
   * restarts and its worker kills them.
   */
  orphanGuard?: boolean;
}

/** What became of a job on this node: one event per processing, for metrics and logs. */
export interface AgentJobOutcomeEvent {
  /** The job's (and agent's) id. */
  id: string;
  /** `completed`; `failed` for good; `retried` (failed, attempts left); `returned` to the queue untouched. */
  outcome: 'completed' | 'failed' | 'retried' | 'returned';
  /** The agent's exit reason, or `admission` for a job handed back before it ran. */
  reason: AgentResult['reason'] | 'admission';
  /** From the job's creation (or the end of its delay) to its start here, in ms. */
  queueWaitMs: number;
  /** The agent's result, when it ran. */
  result?: AgentResult;
}

/** Events of {@link AgentWorker.outcomes}. */
export type AgentWorkerEvents = {
  /** A job was processed on this node. */
  outcome: (event: AgentJobOutcomeEvent) => void;
  /** Fetching stopped (`false`) or started again (`true`) because of the host's admission. */
  fetching: (fetching: boolean, why: string | undefined) => void;
  /** Agents a previous orchestrator left running for jobs of this queue were killed on start. */
  orphans: (ids: string[]) => void;
};

/** The worker's own events ({@link AgentWorker.outcomes}), apart from BullMQ's. */
export class AgentWorkerOutcomes extends Emitter<AgentWorkerEvents> {
  /** Made by the worker. */
  constructor() {
    super();
  }
}

interface InFlight {
  job: Job<AgentJobData, AgentJobResult>;
  agent: Agent;
  /** When the job's lock was last taken or renewed, as `Date.now()`. */
  renewedAt: number;
  /** Set when this worker killed the agent to give its job back. */
  handedBack?: string;
}

/**
 * An agent whose lock was not renewed for this share of the lock duration is killed: the lock is
 * about to expire, after which another node may start the job. BullMQ renews every quarter to half
 * of it, so a healthy worker never gets near.
 */
const LEASE_SHARE = 0.8;

/**
 * A BullMQ `Worker` whose jobs are agents; see {@link createAgentWorker}. `close()` stops fetching
 * and lets running agents finish, or, after `closeTimeout`, kills them and returns their jobs.
 */
export class AgentWorker extends Worker<AgentJobData, AgentJobResult> {
  /** Per-job outcomes, admission-driven fetching changes and orphan kills (BullMQ's own events stay on the worker). */
  readonly outcomes = new AgentWorkerOutcomes();
  /** Resolves with the ids of the orphans killed on start, once the worker fetches (or could). */
  readonly started: Promise<string[]>;
  readonly #host: AgentWorkerHost;
  readonly #node: string;
  readonly #localQueueTimeout: number;
  readonly #closeTimeout: number | undefined;
  readonly #retryOom: RetryOomOptions | false;
  readonly #useGuard: boolean;
  #guard: OrphanGuard | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Map<string, InFlight>();
  /** The orphans' kill, which every fetch waits for. */
  readonly #orphans: Promise<string[]>;
  /** Whether this worker paused itself for the host's admission (a caller's own pause is theirs). */
  #heldBack = false;
  #gating = false;

  /** This node's name ({@link AgentWorkerOptions.node}). */
  get node(): string {
    return this.#node;
  }

  /** Whether the worker holds back from fetching because its host has no room. */
  get heldBack(): boolean {
    return this.#heldBack;
  }

  /** The orphan guard's pid, once the worker has started (unless `orphanGuard: false`). */
  get guardPid(): number | undefined {
    return this.#guard?.pid;
  }

  /** Prefer {@link createAgentWorker}. */
  constructor(host: AgentWorkerHost, options: AgentWorkerOptions) {
    const { queue, node, localQueueTimeout, closeTimeout, retryOom, orphanGuard, ...workerOptions } = options;
    if (typeof queue !== 'string' || queue === '') throw new AgentHostError(ErrorCode.INVALID_OPTION, 'createAgentWorker needs a `queue` name');
    // The processor reaches the instance through this variable: `this` does not exist yet here.
    let self: AgentWorker | undefined;
    // Never autorun: orphans of a previous orchestrator must be gone before the first fetch.
    super(queue, (job, token, signal) => self!.#process(job, token, signal), { ...workerOptions, autorun: false });
    self = this;
    this.#host = host;
    this.#node = node ?? hostname();
    this.#localQueueTimeout = parseDuration(localQueueTimeout ?? '5s', 'localQueueTimeout');
    this.#closeTimeout = closeTimeout === undefined ? undefined : parseDuration(closeTimeout, 'closeTimeout');
    this.#retryOom = retryOom ?? false;
    this.#useGuard = orphanGuard ?? true;
    this.on('lockRenewalFailed', (ids) => this.#lockLost(ids, 'its lock could not be renewed'));
    this.on('locksRenewed', ({ jobIds }) => {
      const now = Date.now();
      for (const id of jobIds) {
        const entry = this.#inFlight.get(id);
        if (entry) entry.renewedAt = now;
      }
    });
    this.#orphans = this.#killOrphans();
    this.started = this.#start(options.autorun ?? true);
    // A failed start is reported as an 'error' event; `started` still carries it for awaiting callers.
    this.started.catch((error: unknown) => this.emit('error', error as Error));
  }

  /**
   * Stops fetching and waits for the running agents (BullMQ's `close`). With `closeTimeout`, agents
   * still running after it are killed gracefully and their jobs returned to the queue. `force`:
   * BullMQ's forced close — nothing is awaited; dispose the host right after, and the jobs go to
   * other nodes once their locks expire.
   */
  override async close(force = false): Promise<void> {
    this.#stopGating();
    const timer =
      !force && this.#closeTimeout !== undefined ? setTimeout(() => this.#handBackAll('the worker closed'), this.#closeTimeout) : undefined;
    try {
      await super.close(force);
    } finally {
      if (timer) clearTimeout(timer);
      if (this.#leaseTimer) clearInterval(this.#leaseTimer);
      // After a forced close agents may still run: the caller disposes the host next.
      this.#guard?.close();
      this.outcomes.removeAllListeners();
    }
  }

  /** BullMQ's fetch loop, once the orphans of a previous orchestrator are gone (also when a caller runs it). */
  override async run(): Promise<void> {
    await this.#orphans;
    return super.run();
  }

  async #start(autorun: boolean): Promise<string[]> {
    const orphans = await this.#orphans;
    if (this.closing) return orphans;
    if (this.#useGuard) this.#guard = OrphanGuard.start();
    const lockDuration = this.opts.lockDuration ?? 30_000;
    this.#leaseTimer = setInterval(() => this.#checkLeases(lockDuration), Math.max(50, lockDuration / 8));
    this.#leaseTimer.unref();
    this.#host.on('queue', this.#onQueue);
    this.#gating = true;
    const status = this.#host.status();
    this.#gate(status.queue.paused || status.queue.size > 0, status.queue.why);
    if (autorun) void this.run().catch((error: unknown) => this.emit('error', error as Error));
    return orphans;
  }

  /**
   * Agents alive on the host when the worker starts whose ids are jobs of this queue: a previous
   * orchestrator of this node ran them and died. This worker holds none of their locks, so the
   * jobs are (or soon will be, through BullMQ's stalled check) another node's: kill them.
   */
  async #killOrphans(): Promise<string[]> {
    const killed: string[] = [];
    for (const agent of this.#host.agents()) {
      const job = await Job.fromId(this, agent.id);
      if (job === undefined) continue;
      killed.push(agent.id);
      await this.#host.kill(agent.id, { force: true }).catch(() => undefined);
    }
    if (killed.length > 0) this.outcomes.emit('orphans', killed);
    return killed;
  }

  readonly #onQueue = (event: QueueEvent): void => this.#gate(event.paused || event.size > 0, event.why);

  /** Pauses fetching while the host has no room, resumes when it has. */
  #gate(full: boolean, why: string | undefined): void {
    if (!this.#gating || this.closing) return;
    if (full && !this.#heldBack) {
      this.#heldBack = true;
      void this.pause(true);
      this.outcomes.emit('fetching', false, why ?? 'agents wait in the host queue');
    } else if (!full && this.#heldBack) {
      this.#heldBack = false;
      void this.resume();
      this.outcomes.emit('fetching', true, why);
    }
  }

  #stopGating(): void {
    this.#gating = false;
    this.#host.off('queue', this.#onQueue);
  }

  async #process(job: Job<AgentJobData, AgentJobResult>, token: string | undefined, signal: AbortSignal | undefined): Promise<AgentJobResult> {
    const queueWaitMs = Math.max(0, (job.processedOn ?? Date.now()) - job.timestamp - (job.delay ?? 0));
    try {
      validateJobData(job.data);
    } catch (error) {
      throw new UnrecoverableError(`error: job ${job.id}: ${(error as Error).message}`);
    }
    const data = job.data;
    let outcome: AgentOutcome;
    let result: AgentResult | undefined;
    const paused = this.#host.admissionPaused;
    if (paused !== undefined) {
      // Fetched while the pause was on its way: not this node's job.
      outcome = { kind: 'return', why: `admission paused: ${paused}` };
    } else {
      let agent: Agent | undefined;
      // Known to the guard before it exists: an orchestrator dying in the middle of the spawn
      // must not leave an agent the guard never heard of.
      this.#guard?.add(data.id, this.#host.root.child(data.id).dirs);
      try {
        agent = await this.#host.spawn(data.id, toSpawnOptions(data, { queueTimeout: this.#localQueueTimeout, signal }));
      } catch (error) {
        outcome = spawnFailure(data.id, error);
        this.#guard?.remove(data.id);
      }
      if (agent !== undefined) {
        const entry: InFlight = { job, agent, renewedAt: job.processedOn ?? Date.now() };
        this.#inFlight.set(job.id!, entry);
        const stop = reportProgress(job, agent, this.#node);
        try {
          result = await agent.result;
        } finally {
          stop();
          this.#guard?.remove(agent.id);
          this.#inFlight.delete(job.id!);
        }
        outcome = agentOutcome(result, { limits: data.limits, retryOom: this.#retryOom, handedBack: entry.handedBack, cancelled: signal?.aborted });
      }
    }
    return this.#settle(job, token, outcome!, queueWaitMs, result);
  }

  async #settle(job: Job<AgentJobData, AgentJobResult>, token: string | undefined, outcome: AgentOutcome, queueWaitMs: number, result?: AgentResult): Promise<AgentJobResult> {
    const id = job.data.id;
    const reason = result?.reason ?? (outcome.kind === 'retry' || outcome.kind === 'fail' ? outcome.error.reason : 'admission');
    const report = (kind: AgentJobOutcomeEvent['outcome']): void => void this.outcomes.emit('outcome', { id, outcome: kind, reason, queueWaitMs, ...(result ? { result } : {}) });
    switch (outcome.kind) {
      case 'completed': {
        report('completed');
        const { exitCode, signal, peakMemory, oomKills, durationMs } = result!;
        return { id, node: this.#node, reason: result!.reason, exitCode, signal, peakMemory, oomKills, durationMs, queueWaitMs };
      }
      case 'return':
        // Back to the wait list as it was: no attempt used, any node may take it. This fails only
        // when the lock is gone, and then the job is already someone else's.
        await job.moveToWait(token).catch(() => undefined);
        report('returned');
        throw new WaitingError(outcome.why);
      case 'retry': {
        if (outcome.limits) await job.updateData({ ...job.data, limits: outcome.limits });
        report(job.attemptsMade + 1 < (job.opts.attempts ?? 1) ? 'retried' : 'failed');
        throw outcome.error;
      }
      case 'fail':
        report('failed');
        // BullMQ's marker for "do not retry"; the typed error stays reachable as its cause.
        throw Object.assign(new UnrecoverableError(outcome.error.message), { cause: outcome.error });
    }
  }

  /** Kills the running agents (gracefully) and marks their jobs to go back to the queue. */
  #handBackAll(why: string): void {
    for (const entry of this.#inFlight.values()) this.#handBack(entry, why, false);
  }

  #handBack(entry: InFlight, why: string, force: boolean): void {
    entry.handedBack ??= why;
    this.#host.kill(entry.agent.id, { force }).catch(() => undefined);
  }

  /**
   * These jobs' locks are lost or about to expire (Redis unreachable, the renewal refused): another
   * node may take them after the stalled check, so this node's copy stops at once.
   */
  #lockLost(jobIds: string[], why: string): void {
    for (const id of jobIds) {
      const entry = this.#inFlight.get(id);
      if (entry && entry.handedBack === undefined) this.#handBack(entry, why, true);
    }
  }

  #checkLeases(lockDuration: number): void {
    const limit = Date.now() - lockDuration * LEASE_SHARE;
    const late = [...this.#inFlight].filter(([, entry]) => entry.renewedAt < limit).map(([id]) => id);
    if (late.length > 0) this.#lockLost(late, `its lock was not renewed for ${Math.round(lockDuration * LEASE_SHARE)} ms`);
  }
}

/**
 * A BullMQ `Worker` on `queue` whose jobs ({@link AgentJobData}) are agents on `host`:
 * - fetches only while the host has room (admission not paused, nothing waiting in its queue);
 * - spawns each job's agent, reports its events as job progress, and completes the job with its
 *   {@link AgentJobResult} on exit 0;
 * - fails it on a non-zero exit (retried by BullMQ's `attempts`/`backoff`) or a relief kill
 *   (retried: another node may have room); fails it for good on a kernel OOM kill at its own limit
 *   (unless `retryOom`), a hard timeout, a kill by hand or a command that cannot start;
 * - kills, on start, agents a crashed orchestrator of this node left running for this queue's jobs.
 *
 * The host must be started; close the worker before disposing the host.
 *
 * @example
 * ```ts
 * const host = await new AgentHost({ maxConcurrent: 50 }).start();
 * const worker = createAgentWorker(host, { queue: 'agents', connection: { host: '127.0.0.1', port: 6379 }, concurrency: 50 });
 * process.on('SIGTERM', async () => { await worker.close(); await host.dispose(); });
 * ```
 */
export function createAgentWorker(host: AgentWorkerHost, options: AgentWorkerOptions): AgentWorker {
  return new AgentWorker(host, options);
}
