import { Redis } from 'ioredis';
import { JobCaps } from '../../src/store/job-caps.js';
import { Keys } from '../../src/store/keys.js';
import { withRedis } from '../helpers/redis.js';

let redis: Awaited<ReturnType<typeof withRedis>>;
let prefix = 0;
let caps: JobCaps;

beforeAll(async () => {
  redis = await withRedis();
});
afterAll(async () => redis?.stop());
beforeEach(() => {
  caps = new JobCaps(redis.client, new Keys(`t${++prefix}`), 200);
});

describe('queued caps', () => {
  test('reservations are all or nothing and name the scope that is full', async () => {
    expect(await caps.reserveQueued('g', 'u', ['a', 'b'], { perUser: 3, perGuild: 10 })).toMatchObject({
      ok: true,
      userQueued: 2,
    });
    expect(await caps.reserveQueued('g', 'u', ['c', 'd'], { perUser: 3, perGuild: 10 })).toMatchObject({
      ok: false,
      scope: 'user',
    });
    expect(await caps.queuedCount('g', 'u')).toBe(2);
    expect(await caps.reserveQueued('g', 'v', ['e', 'f', 'g'], { perUser: 5, perGuild: 4 })).toMatchObject({
      ok: false,
      scope: 'guild',
    });
    await caps.releaseQueued('g', 'u', 'a');
    expect(await caps.queuedCount('g', 'u')).toBe(1);
  });

  test('the cap holds under concurrency from many connections', async () => {
    const clients = Array.from({ length: 8 }, () => new Redis(redis.server.url));
    const keys = new Keys(`race${prefix}`);
    const attempts = Array.from({ length: 200 }, (_, i) =>
      new JobCaps(clients[i % clients.length]!, keys).reserveQueued('g', 'u', [`job${i}`], {
        perUser: 10,
        perGuild: 1000,
      }),
    );
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect(await new JobCaps(redis.client, keys).queuedCount('g', 'u')).toBe(10);
    for (const client of clients) client.disconnect();
  });
});

describe('running slots', () => {
  test('at most N per user; the same job may re-acquire its own slot (a retry)', async () => {
    expect(await caps.acquireRunning('u', 'a', 1)).toBe(true);
    expect(await caps.acquireRunning('u', 'b', 1)).toBe(false);
    expect(await caps.acquireRunning('u', 'a', 1)).toBe(true);
    await caps.releaseRunning('u', 'a');
    expect(await caps.acquireRunning('u', 'b', 1)).toBe(true);
  });

  test('a slot whose lease ran out (its worker died) is free again', async () => {
    expect(await caps.acquireRunning('u', 'a', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(await caps.acquireRunning('u', 'b', 1)).toBe(true);
    expect(await caps.runningJobs('u')).toEqual(['b']);
  });

  test('renewing keeps the lease alive', async () => {
    expect(await caps.acquireRunning('u', 'a', 1)).toBe(true);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await caps.renewRunning('u', 'a');
    }
    expect(await caps.acquireRunning('u', 'b', 1)).toBe(false);
  });
});
