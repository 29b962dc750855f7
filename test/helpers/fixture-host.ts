/**
 * The AgentHost a child-orchestrator fixture runs (a separate node process a test can SIGKILL,
 * put in another namespace or run as another user): the test's root, state and workspaces, with
 * the short grace and poll interval the suites use.
 */
import { AgentHost, Cgroup, type AgentHostOptions, type Limits, type Location } from '../../src/index.js';

export interface FixtureHostConfig {
  /** The agents' root; default: the host's own placement. */
  cgroupRoot?: Location;
  stateDir?: string;
  workspaces?: AgentHostOptions['workspaces'];
  limits?: Limits;
}

export async function startFixtureHost(config: FixtureHostConfig): Promise<AgentHost> {
  const host = new AgentHost({
    cgroupRoot: config.cgroupRoot ? new Cgroup(config.cgroupRoot) : undefined,
    stateDir: config.stateDir,
    workspaces: config.workspaces,
    limits: config.limits,
    killGrace: 200,
    pollInterval: 100,
  });
  await host.start();
  return host;
}
