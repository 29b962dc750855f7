/**
 * Per-test clean-up shared by the integration and reliability suites: what a test registers with
 * {@link defer} runs after it, last first, every step even when one fails.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cleanups: Array<() => Promise<void> | void> = [];

/** Runs `fn` after the current test (last registered, first run). */
export function defer(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Runs what {@link defer} registered, last first; each suite calls it after every test. */
export async function runDeferred(): Promise<void> {
  const errors: unknown[] = [];
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** A temp directory, removed after the test. */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `nova-${label}-`));
  // Agents of a root orchestrator run as users of their own: they must be able to write here (sticky, as /tmp).
  chmodSync(dir, 0o1777);
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
