/**
 * Which user agents run as. An agent running as the user that owns its cgroup's files can rewrite
 * its own limits and leave its cgroup; one running as the orchestrator's user can also signal the
 * orchestrator and read its state. Only a root orchestrator can give agents users of their own.
 */
import { isAgentHostError } from '../errors.js';
import { defaultUser, resolveUser, type AgentUser } from '../users/user.js';
import { check, type PreflightCheck } from './report.js';

const ID = 'agent-users';
const TITLE = 'agents run as their own users';
const RECOMMENDED = "a root orchestrator with user 'dynamic' (the default as root): a uid per agent";

/** Judges the `user` agents would run as (`AgentHostOptions.user`), for an orchestrator running as `uid`. */
export function agentUsersCheck(uid: number | undefined, user: AgentUser = defaultUser(uid)): PreflightCheck {
  if (uid !== 0) {
    return check({
      id: ID,
      title: TITLE,
      status: 'warn',
      found: `the orchestrator runs as uid ${uid ?? '?'}, not root: its agents share its user and can rewrite their own limits, leave their cgroups and signal it`,
      recommended: RECOMMENDED,
      fix: 'run the orchestrator as root (agents then get dynamic users), or run each agent user in a unit of its own (systemd-run --uid=… -p Delegate=yes)',
      detail: 'a delegated subtree protects against accidents (a runaway build), not against a hostile agent; see "Agent users" in docs/host.md',
    });
  }
  let resolved;
  try {
    resolved = resolveUser(user, {}, uid);
  } catch (error) {
    if (!isAgentHostError(error)) throw error;
    return check({ id: ID, title: TITLE, status: 'fail', found: error.message, recommended: RECOMMENDED, fix: "user: 'dynamic'" });
  }
  if (resolved === undefined) {
    return check({
      id: ID,
      title: TITLE,
      status: 'warn',
      found: "user: 'root': agents run as root and can raise their own limits, leave their cgroups and signal any process",
      recommended: RECOMMENDED,
      fix: "drop user: 'root' (the default as root is 'dynamic')",
    });
  }
  const what = resolved === 'dynamic' ? 'a dynamic user each (uid leased per agent)' : `uid ${resolved.uid}, gid ${resolved.gid}`;
  return check({ id: ID, title: TITLE, status: 'ok', found: `agents run as ${what}, without supplementary groups`, recommended: RECOMMENDED });
}
