import { Redis } from 'ioredis';
import { openStores } from '../../src/store/index.js';
import { type LocalRedis, startLocalRedis } from '../../src/store/local-redis.js';

const lines: string[] = [];
const log = {
  warn: (_details: object, message: string) => lines.push(`warn ${message}`),
  info: (_details: object, message: string) => lines.push(`info ${message}`),
};

let server: LocalRedis;
let client: Redis;
beforeAll(async () => {
  server = await startLocalRedis({ maxMemory: '4mb', log });
  client = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  client.disconnect();
  await server.stop();
});

test('the private Redis runs with a memory cap and noeviction', async () => {
  expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(4 * 1024 * 1024)]);
  expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
});

test('past the cap writes are refused with the OOM error the bot reports, and nothing is evicted', async () => {
  const { images } = openStores(client, 60, 'oom', 60);
  await images.putUpload('first', Buffer.alloc(1024, 1));
  const chunk = Buffer.alloc(256 * 1024, 2);
  let refused: Error | null = null;
  for (let i = 0; i < 64 && !refused; i++) {
    await images.putUpload(`fill${i}`, chunk).catch((error: Error) => {
      refused = error;
    });
  }
  expect(String(refused)).toMatch(/^.*OOM command not allowed/);
  // noeviction: what was stored is still there, and deleting (what a refused command does) works.
  expect(await client.exists('oom:upload:first')).toBe(1);
  await client.flushall();
  await images.putUpload('after', Buffer.alloc(1024, 3));
  expect(await client.exists('oom:upload:after')).toBe(1);
});

test('a redis-server killed with SIGKILL is started again on the same port and clients reconnect', async () => {
  const before = server.process.pid;
  await client.set('k', 'v');
  server.process.kill('SIGKILL');
  const deadline = Date.now() + 15_000;
  while (server.restarts === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(server.restarts).toBe(1);
  expect(server.process.pid).not.toBe(before);
  // In memory only here (no data folder), so the key is gone, but the same address answers again.
  expect(await client.ping()).toBe('PONG');
  expect(lines).toContain('warn private redis-server died; starting it again');
  expect(lines).toContain('info private redis-server running again');
});

test('stop() is final: a stopped Redis is not started again', async () => {
  const other = await startLocalRedis({ log });
  const restartsBefore = other.restarts;
  await other.stop();
  await new Promise((r) => setTimeout(r, 600));
  expect(other.restarts).toBe(restartsBefore);
  expect(other.process.exitCode !== null || other.process.signalCode !== null).toBe(true);
});
