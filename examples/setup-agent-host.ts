/**
 * setup-agent-host.sh: check this host against the seed's setup, plan capacity, and (with --apply,
 * as root) set it up. Without --apply nothing is changed: the actions are listed as a dry run.
 *
 *   npx tsx examples/setup-agent-host.ts                     # preflight + capacity + dry run
 *   sudo npx tsx examples/setup-agent-host.ts --apply        # swap off, cgroup root, sysctls, tmpfs, pool
 *   npx tsx examples/setup-agent-host.ts --slots 50 --workspaces /srv/agents/active --scratch /srv/agents/scratch
 */
import { parseArgs } from 'node:util';
import { applySetup, formatPreflight, formatSetup, planCapacity, preflight, type SetupOptions } from 'nova-agent-host';

const { values } = parseArgs({
  options: {
    apply: { type: 'boolean', default: false },
    slots: { type: 'string' },
    workspaces: { type: 'string' },
    scratch: { type: 'string' },
    'scratch-size': { type: 'string' },
    'cgroup-root': { type: 'string' },
    'per-agent': { type: 'string', default: '4G' },
  },
});

const options: SetupOptions = {
  workspaceSlots: values.slots === undefined ? undefined : Number(values.slots),
  workspaceRoot: values.workspaces,
  scratchDir: values.scratch,
  scratchSize: values['scratch-size'] as SetupOptions['scratchSize'],
  cgroupRoot: values['cgroup-root'],
};

const before = preflight(options);
console.log(formatPreflight(before));

console.log('\ncapacity of this host:\n');
console.log(planCapacity({ perAgentLimit: values['per-agent'] }).table);

console.log('');
const result = await applySetup({ ...options, dryRun: !values.apply });
console.log(formatSetup(result));

if (!values.apply) {
  console.log('\ndry run: run again with --apply (as root) to make these changes');
} else {
  const after = preflight(options);
  console.log(`\nafter setup:\n${formatPreflight(after)}`);
  process.exitCode = result.ok && after.ok ? 0 : 1;
}
