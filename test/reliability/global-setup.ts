/**
 * Global setup of the `reliability` project: bundles every fixture script once per run into
 * self-contained .mjs files (esbuild, which tsup brings) and removes them at the end. Child
 * processes then start with plain `node`: `node --import tsx` transformed the sources on every
 * start, seconds natively and 20-30 s per child under the v2 VM's software emulation.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory of the bundled fixtures (`<name>.mjs`). */
    reliabilityFixtures: string;
  }
}

export default function setup(project: TestProject): () => void {
  const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'nova-fixtures-'));
  // Readable by the other user some fixtures run as.
  chmodSync(dir, 0o755);
  buildSync({
    entryPoints: readdirSync(fixtures)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(fixtures, f)),
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // CommonJS dependencies bundled into ESM still call require() for node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  project.provide('reliabilityFixtures', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
