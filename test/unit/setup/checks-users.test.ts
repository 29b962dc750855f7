/** The `agent-users` preflight check: who agents run as, for root and non-root orchestrators. */
import { describe, expect, it } from 'vitest';
import { agentUsersCheck } from '../../../src/setup/checks-users.js';

describe('agent-users check', () => {
  it('a root orchestrator with the default (dynamic) or a fixed user is ok', () => {
    expect(agentUsersCheck(0)).toMatchObject({ id: 'agent-users', status: 'ok', fix: undefined, found: expect.stringContaining('dynamic') });
    expect(agentUsersCheck(0, { uid: 1234, gid: 1234 })).toMatchObject({ status: 'ok', found: expect.stringContaining('uid 1234') });
  });

  it("user: 'root' under a root orchestrator warns: agents could raise their own limits", () => {
    expect(agentUsersCheck(0, 'root')).toMatchObject({ status: 'warn', found: expect.stringContaining('raise their own limits'), fix: expect.stringContaining("'dynamic'") });
  });

  it('a non-root orchestrator warns that its agents share its user, and says how to get separate ones', () => {
    const c = agentUsersCheck(1000);
    expect(c).toMatchObject({ status: 'warn', found: expect.stringContaining('uid 1000, not root') });
    expect(c.fix).toMatch(/root/);
    expect(c.detail).toMatch(/accidents/);
  });

  it('a user that cannot be had fails, with the reason', () => {
    expect(agentUsersCheck(0, { uid: -1, gid: 0 })).toMatchObject({ status: 'fail' });
    expect(agentUsersCheck(0, 'no-such-user-here')).toMatchObject({ status: 'fail', found: expect.stringContaining('no user') });
  });
});
