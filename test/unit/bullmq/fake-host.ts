/**
 * A stand-in for AgentHost with its public API as the worker uses it: the command names the
 * outcome (`exit:N`, `oom`, `oom-below:BYTES`, `relief-once`, `timeout`, `not-found`, `hang`).
 */
import { AgentHostError, ErrorCode, type Agent, type Cgroup, type AgentHostEvents, type AgentResult, type HostStatus, type QueueEvent, type SpawnAgentOptions } from '../../../src/index.js';
import { Emitter } from '../../../src/util/emitter.js';
import { parseSize } from '../../../src/util/size.js';

interface FakeAgent {
  id: string;
  pid: number;
  state: 'running' | 'exited';
  result: Promise<AgentResult>;
  end: (over: Partial<AgentResult>) => void;
  on: (event: string, listener: (...args: never[]) => void) => void;
  off: (event: string, listener: (...args: never[]) => void) => void;
}

export class FakeHost extends Emitter<AgentHostEvents> {
  readonly spawned: Array<{ id: string; options: SpawnAgentOptions & Record<string, unknown> }> = [];
  readonly kills: Array<{ id: string; force: boolean }> = [];
  /** Refuse this many spawns with ERR_ADMISSION_REFUSED. */
  refuseNext = 0;
  #paused: string | undefined;
  readonly #agents = new Map<string, FakeAgent>();
  readonly #reliefSeen = new Set<string>();
  #pid = 1000;

  /** No cgroups here: the guard gets no directories. */
  get root(): Cgroup {
    return { child: () => ({ dirs: [] }) } as unknown as Cgroup;
  }

  get admissionPaused(): string | undefined {
    return this.#paused;
  }

  pauseAdmission(why: string): void {
    this.#paused = why;
    this.emitQueue({ reason: 'paused', size: 0, running: this.#agents.size, pending: this.#agents.size, paused: true, why });
  }

  resumeAdmission(): void {
    this.#paused = undefined;
    this.emitQueue({ reason: 'resumed', size: 0, running: this.#agents.size, pending: this.#agents.size, paused: false });
  }

  emitQueue(event: QueueEvent): void {
    this.emit('queue', event);
  }

  get(id: string): FakeAgent | undefined {
    return this.#agents.get(id);
  }

  agents(): Agent[] {
    return [...this.#agents.values()] as unknown as Agent[];
  }

  status(): HostStatus {
    return { queue: { size: 0, running: this.#agents.size, pending: this.#agents.size, paused: this.#paused !== undefined, why: this.#paused } } as unknown as HostStatus;
  }

  /** An agent found alive by start(), as after an orchestrator restart. */
  adopt(id: string): void {
    this.#make(id);
  }

  async spawn(id: string, options: SpawnAgentOptions): Promise<Agent> {
    this.spawned.push({ id, options: structuredClone({ ...options, signal: undefined }) as SpawnAgentOptions & Record<string, unknown> });
    if (this.refuseNext > 0) {
      this.refuseNext--;
      throw new AgentHostError(ErrorCode.ADMISSION_REFUSED, `agent ${id} not admitted: memory high`);
    }
    if (options.command === 'not-found') throw new AgentHostError(ErrorCode.SPAWN_NOT_FOUND, `command not found: ${options.command}`);
    const agent = this.#make(id);
    const [kind, arg] = options.command.split(':');
    setTimeout(() => {
      if (kind === 'exit') agent.end({ exitCode: Number(arg) });
      else if (kind === 'oom') agent.end({ reason: 'oom', exitCode: null, signal: 'SIGKILL', oomKills: 1, peakMemory: 64 << 20 });
      else if (kind === 'oom-below') {
        const max = parseSize(options.limits?.memoryMax ?? 0);
        if (max < Number(arg)) agent.end({ reason: 'oom', exitCode: null, signal: 'SIGKILL', oomKills: 1, peakMemory: max });
        else agent.end({ exitCode: 0 });
      } else if (kind === 'relief-once') {
        if (this.#reliefSeen.has(id)) agent.end({ exitCode: 0 });
        else {
          this.#reliefSeen.add(id);
          agent.end({ reason: 'relief', exitCode: null, signal: 'SIGKILL' });
        }
      } else if (kind === 'timeout') agent.end({ reason: 'timeout', exitCode: null, signal: 'SIGTERM' });
    }, 20);
    return agent as unknown as Agent;
  }

  async kill(id: string, options: { force?: boolean } = {}): Promise<AgentResult> {
    const agent = this.#agents.get(id);
    if (!agent) throw new AgentHostError(ErrorCode.AGENT_NOT_FOUND, `no live agent ${id}`);
    this.kills.push({ id, force: options.force ?? false });
    agent.end({ reason: 'killed', exitCode: null, signal: 'SIGTERM' });
    return agent.result;
  }

  #make(id: string): FakeAgent {
    let resolve!: (result: AgentResult) => void;
    const result = new Promise<AgentResult>((r) => (resolve = r));
    const events = new Emitter<Record<string, (...args: unknown[]) => void>>();
    const agent: FakeAgent = {
      id,
      pid: this.#pid++,
      state: 'running',
      result,
      end: (over) => {
        if (agent.state === 'exited') return;
        agent.state = 'exited';
        this.#agents.delete(id);
        resolve({ id, exitCode: 0, signal: null, reason: 'exit', peakMemory: 1 << 20, oomKills: 0, durationMs: 20, ...over });
      },
      on: (event, listener) => void events.on(event, listener as (...args: unknown[]) => void),
      off: (event, listener) => void events.off(event, listener as (...args: unknown[]) => void),
    };
    this.#agents.set(id, agent);
    return agent;
  }
}
