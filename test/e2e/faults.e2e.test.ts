import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageView } from '../../src/sandbox/discord/index.js';
import { finishedMessage, imagine, imagineGrid, isGrid, jobIdOf, requireJobId } from './messages.js';
import { jobRecord } from './records.js';
import { type Stack, startStack } from './stack.js';

/** Every distinct message (not revision) in the channel that carries the finished grid of a job. */
function gridMessagesFor(stack: Stack, jobId: string): MessageView[] {
  return stack.discord.messages('general').filter((m) => isGrid(m) && jobIdOf(m) === jobId);
}

async function waitForRecord(
  stack: Stack,
  predicate: (record: { id: string; status: string; worker?: string }) => boolean,
) {
  for (let i = 0; i < 2000; i++) {
    const keys = await stack.redisClient.keys('lb:job:*');
    for (const key of keys) {
      const raw = await stack.redisClient.get(key);
      const record = raw ? JSON.parse(raw) : null;
      if (record && predicate(record)) return record as { id: string; status: string; worker?: string };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no such record');
}

describe('a worker killed mid-job', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2 });
  }, 90_000);
  afterAll(async () => stack?.stop());

  test('the job completes on the other worker and exactly one result is posted', async () => {
    const handle = imagine(stack.discord, 'bob', 'penguin::0.5 热带雨林::0.5 --q 2 --seed 11');
    await handle.response(3000);
    const running = await waitForRecord(stack, (r) => r.status === 'running' && Boolean(r.worker));
    const pid = Number(running.worker!.split('/')[1]);
    const victim = stack.workers.find((w) => w.pid === pid)!;
    expect(victim).toBeDefined();
    victim.kill('SIGKILL');

    const grid = await finishedMessage(stack.discord, handle);
    expect(jobIdOf(grid)).toBe(running.id);
    const record = await jobRecord(stack.redisClient, running.id);
    expect(record.status).toBe('done');
    expect(record.worker).not.toBe(running.worker);
    // Give a duplicate delivery time to show up, then count.
    await new Promise((r) => setTimeout(r, 1500));
    expect(gridMessagesFor(stack, running.id)).toHaveLength(1);
  }, 90_000);

  test('Discord 429s on the edits are waited out and the grid still arrives once', async () => {
    stack.discord.injectRateLimit({ route: /^PATCH \/webhooks\//, count: 3, retryAfterMs: 200 });
    const grid = await imagineGrid(stack.discord, 'cy', 'palm tree');
    const limited = stack.discord.requests.filter(
      (r) => r.route.startsWith('PATCH /webhooks/') && r.status === 429,
    );
    expect(limited.length).toBe(3);
    expect(gridMessagesFor(stack, requireJobId(grid))).toHaveLength(1);
  }, 90_000);
});

describe('Redis restarts and expired tokens', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 0, redisDataDir: mkdtempSync(join(tmpdir(), 'latentbot-aof-')) });
  }, 90_000);
  afterAll(async () => stack?.stop());

  test('jobs queued before a Redis restart (AOF on) are not lost; bot and workers reconnect', async () => {
    const handles = ['crab', 'red apple'].map((prompt) => imagine(stack.discord, 'bob', prompt));
    for (const handle of handles) await handle.response(3000);
    // The reply comes first, the queue right after it.
    for (let i = 0; i < 200 && ((await stack.renderQueue.getJobCounts('wait')).wait ?? 0) < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await stack.renderQueue.getJobCounts('wait')).wait).toBe(2);

    await stack.restartRedis();
    await stack.startWorker();

    for (const handle of handles) await finishedMessage(stack.discord, handle);
  }, 120_000);

  test('a result that finishes after the 15-minute token life goes out as a channel message, once', async () => {
    await Promise.all(
      stack.workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once('exit', resolve);
            w.kill('SIGTERM');
          }),
      ),
    );
    const handle = imagine(stack.discord, 'cy', 'snowman');
    await handle.response(3000);
    const original = stack.discord.originalMessage(handle.id)!;
    stack.discord.ageInteraction(handle.id, 16 * 60 * 1000);
    await stack.startWorker();

    const posted = await stack.discord.waitForMessage(
      (m) => isGrid(m) && m.id !== original.id && m.interactionId === null,
      {
        timeoutMs: 60_000,
      },
    );
    expect(posted.content).toContain('snowman');
    await new Promise((r) => setTimeout(r, 1500));
    expect(gridMessagesFor(stack, requireJobId(posted))).toHaveLength(1);
  }, 120_000);
});
