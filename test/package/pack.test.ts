/**
 * What a user gets from the registry: `npm pack` of the built package, installed into a fresh
 * project (offline where the npm cache has the dependencies), imported by ESM and CommonJS
 * consumers through both entry points.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as agentSource from '../../src/agent/index.js';
import * as mainSource from '../../src/index.js';

const run = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;

/** The files a user needs; everything else stays out of the tarball. */
const ALLOWED_TOP = new Set(['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']);
const REQUIRED = ['index', 'agent', 'bullmq'].flatMap((entry) => ['js', 'cjs', 'd.ts', 'd.cts'].map((ext) => `dist/${entry}.${ext}`));

/** Names every consumer must find, beyond matching the source's export list. */
const MAIN_KEYS = ['AgentHost', 'Agent', 'Cgroup', 'TimeoutPolicy', 'AgentHostError', 'ErrorCode', 'isAgentHostError', 'parseSize', 'parseDuration', 'WorkspacePool', 'collectMetrics'];
const AGENT_KEYS = ['findAgentCgroup', 'memoryUsage', 'shouldReduceMemoryUsage', 'onPressure', 'onTimeoutSignals', 'onEviction', 'AGENT_CGROUP_ENV'];

/**
 * npm's environment from an enclosing `npm run` would point the nested npm at this repository
 * (local prefix, package fields): keep only what says where the cache and registry are.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig', 'npm_config_globalconfig']);
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') || keep.has(key.toLowerCase())));
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: npmEnv(), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

interface PackedFile {
  path: string;
}

let work: string;
let files: string[];
let consumer: string;

beforeAll(async () => {
  if (!existsSync(join(repo, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run check:package does)');
  work = mkdtempSync(join(tmpdir(), 'nova-pack-'));
  const [packed] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], repo)) as Array<{ filename: string; files: PackedFile[] }>;
  files = packed!.files.map((f) => f.path).sort();
  consumer = join(work, 'consumer');
  await run('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  await npm(['install', join(work, packed!.filename), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], consumer);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs `source` as a file of the consumer project and returns what it printed as JSON. */
async function consume(file: string, source: string): Promise<Record<string, unknown>> {
  writeFileSync(join(consumer, file), source);
  const { stdout } = await run(process.execPath, [file], { cwd: consumer });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The probe both module systems run: export lists, a few calls, and the missing optional peer. */
const probe = `
const report = async (main, agent) => {
  let metrics;
  try {
    await main.collectMetrics({ status() {}, on() {}, off() {} });
    metrics = 'resolved';
  } catch (error) {
    metrics = { code: error.code, message: error.message, typed: error instanceof main.AgentHostError };
  }
  return {
    main: Object.keys(main).sort(),
    agent: Object.keys(agent).sort(),
    parseSize: main.parseSize('4G'),
    policy: new main.TimeoutPolicy({ soft: '1m', hard: '2m' }).toJSON(),
    isClass: typeof main.AgentHost === 'function' && typeof main.Cgroup.self === 'function',
    metrics,
  };
};`;

const runtimeKeys = (module: object): string[] => Object.keys(module).sort();

describe('the packed tarball', () => {
  it('holds only dist/*, package.json, README.md, CHANGELOG.md and LICENSE', () => {
    const unexpected = files.filter((f) => !ALLOWED_TOP.has(f) && !/^dist\/[^/]+$/.test(f));
    expect(unexpected).toEqual([]);
    for (const f of [...REQUIRED, ...ALLOWED_TOP]) expect(files).toContain(f);
  });

  it('keeps `nova-agent-host/agent` free of dependencies: only Node built-ins', () => {
    const installed = join(consumer, 'node_modules/nova-agent-host/dist');
    const esm = [...readFileSync(join(installed, 'agent.js'), 'utf8').matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]);
    const cjs = [...readFileSync(join(installed, 'agent.cjs'), 'utf8').matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
    // tsup writes `fs` for `node:fs`: either form is a built-in.
    expect([...esm, ...cjs].filter((spec) => !isBuiltin(spec!))).toEqual([]);
    expect(esm.length).toBeGreaterThan(0);
  });

  it('keeps bullmq and ioredis out of the main entry point: only `nova-agent-host/bullmq` loads them', () => {
    const installed = join(consumer, 'node_modules/nova-agent-host/dist');
    const specifiers = (file: string): string[] =>
      [...readFileSync(join(installed, file), 'utf8').matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
    for (const file of ['index.js', 'index.cjs', 'agent.js', 'agent.cjs']) expect(specifiers(file).filter((spec) => /^(bullmq|ioredis)(\/|$)/.test(spec)), file).toEqual([]);
    for (const file of ['bullmq.js', 'bullmq.cjs']) expect(specifiers(file), file).toContain('bullmq');
  });

  it('fails to load `nova-agent-host/bullmq` without bullmq, naming the missing peer', async () => {
    writeFileSync(join(consumer, 'fleet.mjs'), `import('nova-agent-host/bullmq').then(() => console.log('loaded'), (e) => console.log(e.code, e.message.split('\\n')[0]));\n`);
    const { stdout } = await run(process.execPath, ['fleet.mjs'], { cwd: consumer });
    expect(stdout).toMatch(/^ERR_MODULE_NOT_FOUND .*'bullmq'/);
  });

  for (const [kind, file, source] of [
    ['ESM', 'consumer.mjs', `import * as main from 'nova-agent-host';\nimport * as agent from 'nova-agent-host/agent';\n${probe}\nconsole.log(JSON.stringify(await report(main, agent)));\n`],
    ['CommonJS', 'consumer.cjs', `const main = require('nova-agent-host');\nconst agent = require('nova-agent-host/agent');\n${probe}\nreport(main, agent).then((r) => console.log(JSON.stringify(r)));\n`],
  ] as const) {
    it(`${kind} consumers import both entry points with every export of the source`, async () => {
      const result = await consume(file, source);
      expect(result.main).toEqual(runtimeKeys(mainSource));
      expect(result.agent).toEqual(runtimeKeys(agentSource));
      expect(result.main).toEqual(expect.arrayContaining(MAIN_KEYS));
      expect(result.agent).toEqual(expect.arrayContaining(AGENT_KEYS));
      expect(result.parseSize).toBe(4 * 1024 ** 3);
      expect(result.policy).toMatchObject({ soft: 60_000, hard: 120_000 });
      expect(result.isClass).toBe(true);
      // prom-client is an optional peer: not installed here, so collectMetrics says how to get it.
      expect(result.metrics).toEqual({
        code: 'ERR_INVALID_OPTION',
        message: 'collectMetrics() needs the optional peer dependency prom-client: npm install prom-client',
        typed: true,
      });
    });
  }
});
