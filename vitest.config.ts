import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Real cgroups and real processes: one file at a time keeps the kernel's
          // view (and our cleanup checks) free of other files' agents.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Misbehaving agents and a hostile environment, on the real kernel (docs/reliability.md).
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          // One module cache for all its files (per-file hooks in the setup file): loading the
          // library afresh for every file costs ~10 s each in the v2 VM's software emulation.
          isolate: false,
          setupFiles: ['test/reliability/setup.ts'],
          globalSetup: ['test/reliability/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
