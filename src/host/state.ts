/**
 * What a restarted orchestrator needs to adopt its agents: one small JSON file per agent in
 * a state directory (cgroupfs cannot hold regular files, and user xattrs on cgroups need 5.7+
 * and root). Written atomically (write, then rename) so a crash never leaves half a record.
 */
import { readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentUserRecord } from '../users/agent-users.js';
import { isAlive, privateDir } from './ownership.js';

export interface AgentRecord {
  id: string;
  pid: number | undefined;
  command: string;
  args: readonly string[];
  priority: number;
  protected: boolean;
  preferred: boolean;
  /** The spawn's `profile` and `expectedMemory` (bytes): a restarted host still reserves and learns by them. */
  profile?: string;
  expectedMemory?: number;
  startedAt: number;
  workspace: string | undefined;
  /** Who the agent runs as, when not the orchestrator's user: its uid lease and HOME are released when it ends. */
  user?: AgentUserRecord;
  /** Pid of the orchestrator that started the agent. */
  owner: number;
}

export class StateStore {
  constructor(readonly dir: string) {}

  /** Makes the directory, and removes records half-written by an orchestrator that died mid-write. */
  prepare(): void {
    privateDir(this.dir);
    for (const name of readdirSync(this.dir)) {
      const writer = /\.json\.(\d+)\.tmp$/.exec(name)?.[1];
      if (writer !== undefined && !isAlive(Number(writer))) unlinkSync(join(this.dir, name));
    }
  }

  write(record: AgentRecord): void {
    const file = join(this.dir, `${record.id}.json`);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(record), { mode: 0o600 });
    renameSync(temp, file);
  }

  read(id: string): AgentRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${id}.json`), 'utf8')) as AgentRecord;
    } catch {
      return undefined;
    }
  }

  remove(id: string): void {
    try {
      unlinkSync(join(this.dir, `${id}.json`));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** Ids with a record. */
  ids(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((name) => name.endsWith('.json'))
        .map((name) => name.slice(0, -'.json'.length));
    } catch {
      return [];
    }
  }
}
