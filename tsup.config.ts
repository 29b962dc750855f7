import { defineConfig, type Options } from 'tsup';

const common: Options = {
  entry: { index: 'src/index.ts', agent: 'src/agent/index.ts', bullmq: 'src/bullmq/index.ts' },
  // Optional peers of `nova-agent-host/bullmq`: the user's own copies, never bundled.
  external: ['bullmq', 'ioredis', 'prom-client'],
  dts: true,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  splitting: false,
};

export default defineConfig([
  { ...common, format: 'esm' },
  // execa and p-queue ship ESM only, and Node 20 before 20.19 cannot require() ESM: the
  // CommonJS build carries its own copy of them so `require('nova-agent-host')` works everywhere.
  { ...common, format: 'cjs', noExternal: ['execa', 'p-queue'] },
]);
