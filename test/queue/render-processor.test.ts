import { type Job, Worker } from 'bullmq';
import pino from 'pino';
import type { GuildPolicy } from '../../src/policy/index.js';
import { parsePrompt } from '../../src/prompt/index.js';
import {
  type DeliveryJobData,
  openQueues,
  type RenderJobData,
  renderJobOptions,
} from '../../src/queue/queues.js';
import { createRenderProcessor, onRenderFailed } from '../../src/queue/render-processor.js';
import { BadInputError, DeadlineError, type Renderer } from '../../src/queue/renderer.js';
import { bullConnection } from '../../src/store/connection.js';
import { openStores } from '../../src/store/index.js';
import type { JobRecord } from '../../src/store/job-records.js';
import { withRedis } from '../helpers/redis.js';

let redis: Awaited<ReturnType<typeof withRedis>>;
beforeAll(async () => {
  redis = await withRedis();
});
afterAll(async () => redis?.stop());

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

/** Renders with a stand-in model whose failures the test scripts, through the real queue and Redis. */
async function runOne(renderer: Renderer, id: string, policy: Partial<GuildPolicy> = {}) {
  const connection = bullConnection(redis.server.url);
  const prefix = `t-${id}`;
  const queues = openQueues(connection, () => {}, prefix);
  const stores = openStores(redis.client, 60, prefix);
  await stores.policies.update('g', policy);
  const logger = pino({ level: 'silent' });
  const record: JobRecord = {
    id,
    kind: 'imagine',
    userId: 'u1',
    description: { ...parsePrompt('penguin'), params: { ...parsePrompt('penguin').params, seed: 1 } },
    reply: {
      applicationId: 'a',
      interactionToken: 't',
      interactionAt: Date.now(),
      messageId: '@original',
      channelId: 'c',
      guildId: 'g',
    },
    createdAt: Date.now(),
    status: 'queued',
  };
  await stores.records.create(record);
  await stores.caps.reserveQueued('g', 'u1', [id], { perUser: 10, perGuild: 10 });
  const deps = { ...stores, renderer, delivery: queues.delivery, logger };
  const worker = new Worker<RenderJobData>('render', createRenderProcessor(deps), { connection, prefix });
  const failed: Array<Promise<void>> = [];
  worker.on('failed', (job: Job<RenderJobData> | undefined, error) =>
    failed.push(onRenderFailed(deps, job, error)),
  );
  const delivered = new Promise<DeliveryJobData>((resolve) => {
    const deliveries = new Worker<DeliveryJobData>('deliver', async (job) => resolve(job.data), {
      connection,
      prefix,
    });
    afterCleanup.push(() => deliveries.close());
  });
  await queues.render.add(
    'imagine',
    { jobId: id },
    { ...renderJobOptions, backoff: { type: 'fixed', delay: 50 }, jobId: id },
  );
  const delivery = await delivered;
  await Promise.all(failed);
  const job = await queues.render.getJob(id);
  const result = {
    delivery,
    attempts: job?.attemptsMade ?? -1,
    record: await stores.records.get(id),
    queued: await stores.caps.queuedCount('g', 'u1'),
  };
  await worker.close();
  await queues.close();
  return result;
}

const afterCleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of afterCleanup.splice(0)) await cleanup();
});

test('bad input fails at once, is not retried, frees its queue place and tells the user', async () => {
  let calls = 0;
  const renderer: Renderer = {
    async render() {
      calls++;
      throw new BadInputError('the image at https://x/y.png is not an image');
    },
    close: async () => {},
  };
  const { delivery, attempts, record, queued } = await runOne(renderer, 'badinput0001');
  expect(calls).toBe(1);
  expect(attempts).toBe(1);
  expect(delivery).toEqual({
    jobId: 'badinput0001',
    outcome: 'failed',
    message: 'the image at https://x/y.png is not an image',
  });
  expect(record).toMatchObject({ status: 'failed', error: 'the image at https://x/y.png is not an image' });
  expect(queued).toBe(0);
});

test('a transient fault is retried and the job is delivered once, done', async () => {
  let calls = 0;
  const renderer: Renderer = {
    async render(_record, _inputs, onProgress) {
      calls++;
      if (calls === 1) throw new Error('onnxruntime: transient allocation failure');
      onProgress({ stage: 'denoise', step: 1, total: 1 });
      return {
        type: 'images',
        grid: png,
        images: [png, png, png, png],
        width: 64,
        height: 64,
        contentWidth: 32,
        contentHeight: 32,
        notes: [],
      };
    },
    close: async () => {},
  };
  const { delivery, record } = await runOne(renderer, 'transient001');
  expect(calls).toBe(2);
  expect(delivery).toEqual({ jobId: 'transient001', outcome: 'done' });
  expect(record).toMatchObject({ status: 'done', result: { count: 4 } });
});

test('a render past the deadline is stopped through its signal, not retried, and the user is told why', async () => {
  let calls = 0;
  let aborted = false;
  const renderer: Renderer = {
    render(_record, _inputs, _onProgress, signal) {
      calls++;
      // A render that would never end on its own: only the deadline's signal stops it.
      return new Promise((_resolve, reject) =>
        signal?.addEventListener('abort', () => {
          aborted = true;
          reject(new DeadlineError(String((signal.reason as Error).message)));
        }),
      );
    },
    close: async () => {},
  };
  const started = Date.now();
  const { delivery, attempts, record, queued } = await runOne(renderer, 'deadline0001', {
    maxRenderSeconds: 5,
  });
  expect(aborted).toBe(true);
  expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
  expect(calls).toBe(1);
  expect(attempts).toBe(1);
  expect(delivery.outcome).toBe('failed');
  expect(record?.error).toContain('past its deadline of 5 s');
  expect(record?.error).toContain('Try a lower --q');
  expect(queued).toBe(0);
}, 20_000);
