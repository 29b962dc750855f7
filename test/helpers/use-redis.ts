/** The redis-server of a test file, started and stopped by vitest hooks (kept apart: bench/ loads redis.ts without vitest). */
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from './redis.js';

/**
 * One redis-server for a test file: started in `beforeAll`, stopped in `afterAll`. Returns the
 * getter of the running server (valid inside tests and hooks).
 */
export function useRedis(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('useRedis(): the server runs only inside tests and hooks');
    return server;
  };
}
