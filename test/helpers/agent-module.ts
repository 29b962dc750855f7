/**
 * `nova-agent-host/agent` for child processes in integration tests: src/agent/ transpiled, file by
 * file (it has no dependencies), into a temp directory next to the test's scripts. Nothing is
 * written into the checkout, which the VM sees read-only, and no loader runs inside the children's
 * memory limit.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** Writes `<dir>/agent/*.js`: scripts in `dir` import it as `./agent/index.js`. */
export function writeAgentModule(dir: string): void {
  const src = join(import.meta.dirname, '../../src/agent');
  mkdirSync(join(dir, 'agent'));
  for (const file of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(src, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    writeFileSync(join(dir, 'agent', file.replace(/\.ts$/, '.js')), outputText);
  }
}

/**
 * An agent that hears the eviction notice through `onEviction`: it writes `$OUT.ready` once
 * listening and `$OUT.saved` (`<signal> aborted=true`) from its handler, then waits for the kill
 * like a harness that saved its state.
 */
export const EVICTION_AGENT = `
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { onEviction } from './agent/index.js';
const out = process.env.OUT;
const eviction = onEviction(async (notice) => {
  await sleep(20);
  writeFileSync(out + '.saved', notice.signal + ' aborted=' + eviction.signal.aborted);
});
writeFileSync(out + '.ready', '');
while (!eviction.signal.aborted) await sleep(20);
setInterval(() => {}, 1000);
`;
