import { afterEach, describe, expect, it, vi } from 'vitest';
import { AGENT_CGROUP_ENV, findAgentCgroup } from '../../../src/agent/index.js';
import { fakeTree, mountinfoLine } from '../../helpers/fake-tree.js';
import { v1Files, v1HybridHost, v2Files, v2Host } from './trees.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('findAgentCgroup', () => {
  it('v2: the directory /proc/self/cgroup names under the cgroup2 mount', () => {
    const tree = v2Host('/agents/a1', v2Files('cg/agents/a1'));
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    expect(findAgentCgroup({ procRoot: tree.path('proc') })).toEqual({ dir: tree.path('cg/agents/a1'), version: 2, source: 'proc' });
  });

  it('v1 hybrid: the memory hierarchy wins over the v2 mount next to it', () => {
    const tree = v1HybridHost('/process_api/abc', v1Files('memory/process_api/abc', { usage: 1 }));
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    expect(findAgentCgroup({ procRoot: tree.path('proc') })).toEqual({ dir: tree.path('memory/process_api/abc'), version: 1, source: 'proc' });
  });

  it('container: "0::/" with the cgroup2 mount rooted at the agent\'s own cgroup is the mount point', () => {
    const tree = v2Host('/', v2Files('cg', { current: 5, max: 100 }));
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    expect(findAgentCgroup({ procRoot: tree.path('proc') })).toMatchObject({ dir: tree.path('cg'), version: 2 });
  });

  it('container without a cgroup namespace: a bind mount of /docker/abc maps /docker/abc/sub to <mount>/sub', () => {
    const tree = v2Host('/docker/abc/sub', v2Files('cg/sub'), '/docker/abc');
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    expect(findAgentCgroup({ procRoot: tree.path('proc') })?.dir).toBe(tree.path('cg/sub'));
    const own = v2Host('/docker/abc', v2Files('cg'), '/docker/abc');
    expect(findAgentCgroup({ procRoot: own.path('proc') })?.dir).toBe(own.path('cg'));
  });

  it('a path the mount does not reach ("/../x", or outside its root) falls back to the mount point', () => {
    const above = v2Host('/../other', v2Files('cg'));
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    expect(findAgentCgroup({ procRoot: above.path('proc') })?.dir).toBe(above.path('cg'));
    const outside = v2Host('/elsewhere', v2Files('cg'), '/docker/abc');
    expect(findAgentCgroup({ procRoot: outside.path('proc') })?.dir).toBe(outside.path('cg'));
  });

  it('unescapes mount points with spaces', () => {
    const tree = fakeTree({ 'my cg/a/cgroup.procs': '', 'my cg/a/cgroup.controllers': '' });
    tree.add({
      'proc/self/cgroup': '0::/a\n',
      'proc/self/mountinfo': `${mountinfoLine({ mountPoint: tree.path('my\\040cg'), fsType: 'cgroup2' })}\n`,
    });
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    expect(findAgentCgroup({ procRoot: tree.path('proc') })?.dir).toBe(tree.path('my cg/a'));
  });

  it('the environment variable the host sets comes before /proc', () => {
    const tree = v2Host('/agents/a1', { ...v2Files('cg/agents/a1'), ...v2Files('cg/agents/a2') });
    vi.stubEnv(AGENT_CGROUP_ENV, tree.path('cg/agents/a2'));
    expect(findAgentCgroup({ procRoot: tree.path('proc') })).toEqual({ dir: tree.path('cg/agents/a2'), version: 2, source: 'env' });
  });

  it('the environment variable can name a v1 memory directory', () => {
    const tree = v1HybridHost('/x', v1Files('memory/agents/a1', { usage: 1 }));
    vi.stubEnv(AGENT_CGROUP_ENV, tree.path('memory/agents/a1'));
    expect(findAgentCgroup({ procRoot: tree.path('proc') })).toEqual({ dir: tree.path('memory/agents/a1'), version: 1, source: 'env' });
  });

  it('the cgroupDir option comes before the environment', () => {
    const tree = v2Host('/agents/a1', { ...v2Files('cg/agents/a1'), ...v2Files('cg/agents/a2'), ...v2Files('cg/agents/a3') });
    vi.stubEnv(AGENT_CGROUP_ENV, tree.path('cg/agents/a2'));
    expect(findAgentCgroup({ procRoot: tree.path('proc'), cgroupDir: tree.path('cg/agents/a3') })).toMatchObject({ source: 'option', version: 2 });
  });

  it('a variable or option naming no cgroup directory is passed over', () => {
    const tree = v2Host('/agents/a1', v2Files('cg/agents/a1'));
    vi.stubEnv(AGENT_CGROUP_ENV, tree.path('does-not-exist'));
    expect(findAgentCgroup({ procRoot: tree.path('proc'), cgroupDir: tree.path('proc') })).toMatchObject({ source: 'proc', dir: tree.path('cg/agents/a1') });
  });

  it('no cgroup at all: no cgroup mounts, no /proc, or a v1 host without a memory hierarchy', () => {
    vi.stubEnv(AGENT_CGROUP_ENV, '');
    const bare = fakeTree({ 'proc/self/cgroup': '0::/\n', 'proc/self/mountinfo': '22 1 8:1 / / rw - ext4 /dev/sda1 rw\n' });
    expect(findAgentCgroup({ procRoot: bare.path('proc') })).toBeUndefined();
    expect(findAgentCgroup({ procRoot: bare.path('nothing') })).toBeUndefined();
    const pidsOnly = fakeTree({
      'proc/self/cgroup': '3:pids:/a\n',
      'proc/self/mountinfo': `${mountinfoLine({ mountPoint: '/sys/fs/cgroup/pids', fsType: 'cgroup', superOptions: 'rw,pids' })}\n`,
    });
    expect(findAgentCgroup({ procRoot: pidsOnly.path('proc') })).toBeUndefined();
  });
});
