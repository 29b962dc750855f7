/**
 * Fake kernel trees for unit tests: a temp directory filled from a `{ path: content }` map,
 * standing in for /proc or a cgroupfs mount. Plain files cannot act like the kernel (no
 * propagation of controllers, no EBUSY), so tests write the kernel's side themselves.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';

/** A tree of files; a key ending in `/` is an empty directory. */
export type TreeSpec = Record<string, string>;

export interface FakeTree {
  root: string;
  /** Absolute path of `path` inside the tree. */
  path(...parts: string[]): string;
  write(path: string, content: string): void;
  read(path: string): string;
  /** Adds more files and directories. */
  add(spec: TreeSpec): void;
}

const roots: string[] = [];

/** Makes a fake tree in a fresh temp directory, removed after the current test. */
export function fakeTree(spec: TreeSpec = {}): FakeTree {
  const root = mkdtempSync(join(tmpdir(), 'nova-fake-'));
  roots.push(root);
  const tree: FakeTree = {
    root,
    path: (...parts) => join(root, ...parts),
    write(path, content) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    },
    read: (path) => readFileSync(join(root, path), 'utf8'),
    add(more) {
      for (const [path, content] of Object.entries(more)) {
        if (path.endsWith('/')) mkdirSync(join(root, path), { recursive: true });
        else tree.write(path, content);
      }
    },
  };
  tree.add(spec);
  return tree;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A mountinfo line for a cgroup mount (`fsType` cgroup2, or cgroup with `superOptions` naming the controller). */
export function mountinfoLine(options: {
  id?: number;
  root?: string;
  mountPoint: string;
  fsType: 'cgroup' | 'cgroup2' | string;
  superOptions?: string;
  mountOptions?: string;
  optional?: string;
}): string {
  const optional = options.optional === undefined ? 'shared:9' : options.optional;
  return [
    String(options.id ?? 30),
    '23',
    '0:26',
    options.root ?? '/',
    options.mountPoint,
    options.mountOptions ?? 'rw,nosuid,nodev,noexec,relatime',
    ...(optional === '' ? [] : optional.split(' ')),
    '-',
    options.fsType,
    options.fsType === 'cgroup2' ? 'cgroup2' : 'cgroup',
    options.superOptions ?? 'rw',
  ].join(' ');
}
