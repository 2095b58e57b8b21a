import { Redis } from 'ioredis';
import { type LocalRedis, startLocalRedis } from '../../src/store/local-redis.js';

/** A real redis-server on a free loopback port for one test file, and a client to it. */
export async function withRedis(): Promise<{ server: LocalRedis; client: Redis; stop(): Promise<void> }> {
  const server = await startLocalRedis();
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  return {
    server,
    client,
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}
