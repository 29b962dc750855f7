/**
 * `nova-agent-host/agent`: the tiny, dependency-free side that runs inside an agent's own
 * harness. It must not import anything from the orchestrator side.
 */
export const AGENT_CGROUP_ENV = 'NOVA_AGENT_CGROUP';
