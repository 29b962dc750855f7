/**
 * Real cgroups for integration tests: a unique parent below this process's own cgroup
 * (never anywhere else), removed after the file's tests, plus what a test leaves behind.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Cgroup, type HierarchyKey } from '../../src/index.js';

/** Prefix of every cgroup the tests create: finds leftovers of crashed runs at a glance. */
export const TEST_PREFIX = 'nova-test';

/** A name no other test, file, run or engineer on the host uses at the same time. */
export function uniqueName(label = 'cg'): string {
  return `${TEST_PREFIX}-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * A fresh cgroup below {@link Cgroup.self} for one test file: created in `beforeAll`, deleted in
 * `afterAll` (killing what is left) and checked to be gone in every hierarchy. Call it at the top
 * of a test file or `describe` block; create the tests' cgroups below the returned one.
 *
 * On cgroup v2 the parent must accept controllers: that holds in the root cgroup (the VM) and in a
 * delegated cgroup without processes of its own; elsewhere creation fails with `ERR_CGROUP_BUSY`.
 */
export function testParent(label = 'parent'): Cgroup {
  const parent = Cgroup.self().child(uniqueName(label));
  beforeAll(() => {
    Cgroup.create(Cgroup.self(), parent.name);
  });
  afterAll(async () => {
    await parent.delete();
    const left = leftovers(parent);
    if (left.cgroups.length > 0 || left.pids.length > 0) {
      throw new Error(`test parent ${parent.path} left behind: ${JSON.stringify(left)}`);
    }
  });
  return parent;
}

export interface Leftovers {
  /** Directories of the cgroup and its descendants that still exist, in any hierarchy. */
  cgroups: string[];
  /** Processes still inside any of them. */
  pids: number[];
}

/** What remains of `cgroup` (and its descendants) in every hierarchy it spans: nothing, after a clean delete. */
export function leftovers(cgroup: Cgroup): Leftovers {
  const cgroups: string[] = [];
  const pids = new Set<number>();
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    cgroups.push(dir);
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
    } catch {
      // Removed while we looked.
    }
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) visit(join(dir, entry.name));
    } catch {
      // Removed while we looked.
    }
  };
  for (const dir of cgroup.dirs) visit(dir);
  return { cgroups, pids: [...pids].sort((a, b) => a - b) };
}

/**
 * Test cgroups (named {@link TEST_PREFIX}…) left by this or earlier runs directly below this
 * process's cgroup, in every hierarchy: a quick check that nothing leaks between files.
 */
export function strayTestCgroups(): string[] {
  const found: string[] = [];
  for (const dir of Cgroup.self().dirs) {
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory() && entry.name.startsWith(`${TEST_PREFIX}-`)) found.push(join(dir, entry.name));
      }
    } catch {
      // Hierarchy not readable: nothing of ours there.
    }
  }
  return found;
}

/**
 * The path of `cgroup` in `key`'s hierarchy as /proc/<pid>/cgroup prints it ("/a/b"), for a
 * hierarchy mounted at its root (true of hosts and the VM; not of a bind-mounted subtree).
 */
export function procCgroupPath(cgroup: Cgroup, key: HierarchyKey): string {
  const mount = cgroup.hierarchy.mounts[key];
  const dir = cgroup.location[key];
  if (mount === undefined || dir === undefined) throw new Error(`cgroup ${cgroup.path} has no ${key} directory`);
  return `/${relative(mount, dir)}`;
}

/** Reads a raw kernel file of `cgroup` in `key`'s hierarchy (default: the main one), trimmed. */
export function rawFile(cgroup: Cgroup, file: string, key?: HierarchyKey): string {
  const dir = key === undefined ? cgroup.path : cgroup.location[key];
  if (dir === undefined) throw new Error(`cgroup ${cgroup.path} has no ${key} directory`);
  return readFileSync(join(dir, file), 'utf8').trim();
}
