/**
 * A child left in some v1 hierarchies only (an orchestrator killed between two rmdirs of its
 * delete) is still found by children(), so its parent can be deleted.
 */
import { rmdirSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cgroup } from '../../src/index.js';
import { skipIf } from '../helpers/kernel.js';
import { uniqueName } from '../helpers/cgroups.js';

describe('Cgroup.children() across v1 hierarchies', () => {
  it('finds a child that exists only in the pids and freezer hierarchies, and delete() removes it', async (ctx) => {
    skipIf(ctx, Cgroup.self().version !== 1 && 'one directory per cgroup on v2: nothing can be half-removed');
    const parent = Cgroup.create(Cgroup.self(), uniqueName('partial'));
    try {
      const child = Cgroup.create(parent, 'half');
      rmdirSync(child.location.memory!); // as a crash after the first rmdir of delete() leaves it
      expect(parent.children().map((c) => c.name)).toEqual(['half']);
      await parent.delete();
      for (const dir of [...parent.dirs, ...child.dirs]) expect(existsSync(dir)).toBe(false);
    } finally {
      if (parent.dirs.some((dir) => existsSync(dir))) await parent.delete();
    }
  });
});
