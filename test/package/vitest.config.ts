/**
 * The packed-tarball checks: slow-ish (npm pack + npm install), so they are not part of the unit
 * or integration projects. Run through `npm run check:package`, which builds first.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'package',
    include: ['test/package/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
