/**
 * A real Redis for the fleet tests: Debian's `redis-server` on a free port of 127.0.0.1, in a temp
 * directory, with persistence off (`--save '' --appendonly no`), stopped (by its pid) and removed
 * by `stop()`. Never a mock: BullMQ's Lua scripts are what the tests exercise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `{ host, port }` for BullMQ's `connection`. */
  readonly connection: { host: string; port: number };
  readonly pid: number;
  /** SIGTERM, waits for the exit, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the kernel's choice for port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `redis-server`; resolves once it accepts connections. Retries another port if one was taken meanwhile. */
export async function startRedis(): Promise<RedisServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'nova-redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await ready(child, port);
    } catch (error) {
      lastError = error;
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      })());
    return { host: '127.0.0.1', port, connection: { host: '127.0.0.1', port }, pid: child.pid!, stop };
  }
  throw new Error(`redis-server did not start: ${String(lastError)}`);
}

/** Resolves when a PING on `port` is answered; rejects if the server exits first or after 10 s. */
async function ready(child: ChildProcess, port: number): Promise<void> {
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited: ${output.trim()}`);
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within 10 s: ${output.trim()}`);
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
