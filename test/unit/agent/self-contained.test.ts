/**
 * `nova-agent-host/agent` runs inside agents' harnesses: it may import only `node:` built-ins and
 * its own files, never the orchestrator side (src/cgroup, src/errors.ts, ...) or a package.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../../src/agent');
const files = readdirSync(dir).filter((file) => file.endsWith('.ts'));

describe('src/agent is self-contained', () => {
  it.each(files)('%s imports only node: built-ins and ./ siblings', (file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const specifiers = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/g),
      ...text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g),
      ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ...text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((match) => match[1]!);
    const outside = specifiers.filter((s) => !s.startsWith('node:') && !/^\.\/[\w-]+\.js$/.test(s));
    expect(outside).toEqual([]);
  });

  it('has the files it is expected to have', () => {
    expect(files).toContain('index.ts');
    expect(files.length).toBeGreaterThan(3);
  });
});
