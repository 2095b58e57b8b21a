import { type ConnectionOptions, type Job, QueueEvents, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { outputOf } from '../jobs/kinds.js';
import type { BotMetrics } from '../metrics/registry.js';
import { DELIVERY_QUEUE, type DeliveryJobData, type ProgressData, RENDER_QUEUE } from '../queue/queues.js';
import { outageLogger } from '../store/connection.js';
import type { ImageStore } from '../store/image-store.js';
import type { JobRecord, JobRecords } from '../store/job-records.js';
import type { Keys } from '../store/keys.js';
import type { MessageUpdater } from './message-updater.js';
import {
  describeMessage,
  failedMessage,
  gridMessage,
  type MessageBody,
  progressMessage,
  upscaleMessage,
} from './messages.js';
import type { Outbox } from './outbox.js';

export interface DeliveryDeps {
  metrics?: BotMetrics;
  records: JobRecords;
  images: ImageStore;
  outbox: Outbox;
  updater: MessageUpdater;
  redis: Redis;
  keys: Keys;
  logger: Logger;
}

/**
 * Puts a job's final message in place exactly once. The interaction's message is edited while its
 * token lives (an edit is idempotent, so a retried delivery changes nothing); after 15 minutes the
 * result goes to the channel as a new message, guarded by a marker so a retry cannot post it twice.
 */
export async function deliver(deps: DeliveryDeps, record: JobRecord, message: MessageBody): Promise<void> {
  await deps.updater.final(record.id, async () => {
    const outcome = record.status === 'failed' ? 'failed' : 'done';
    if (await deps.outbox.edit(record.reply, message)) {
      deps.metrics?.deliveries.inc({ via: 'edit', outcome });
      return;
    }
    const marker = deps.keys.delivered(record.id);
    if (await deps.redis.exists(marker)) return;
    const messageId = await deps.outbox.post(record.reply.channelId, message);
    await deps.redis.set(marker, messageId, 'EX', 7 * 24 * 3600);
    deps.metrics?.deliveries.inc({ via: 'channel', outcome });
    deps.logger.info(
      { jobId: record.id, messageId },
      'interaction token expired; result posted to the channel',
    );
  });
}

export async function finalMessageFor(
  deps: Pick<DeliveryDeps, 'images'>,
  record: JobRecord,
): Promise<MessageBody> {
  if (record.status === 'failed') return failedMessage(record, record.error ?? 'unknown error');
  if (record.result?.type === 'text') return describeMessage(record, record.result.lines);
  if (outputOf(record.kind) === 'image') {
    const image = await deps.images.getJobImage(record.id, '0');
    if (!image) return failedMessage(record, 'the image expired');
    return upscaleMessage(record, image);
  }
  const grid = await deps.images.getJobImage(record.id, 'grid');
  if (!grid) return failedMessage(record, 'the image expired');
  return gridMessage(record, grid);
}

/** Consumes the delivery queue: every finished or failed render becomes its message. */
export function startDeliveryWorker(
  deps: DeliveryDeps,
  connection: ConnectionOptions,
): Worker<DeliveryJobData> {
  const worker = new Worker<DeliveryJobData>(
    DELIVERY_QUEUE,
    async (job: Job<DeliveryJobData>) => {
      const record = await deps.records.get(job.data.jobId);
      if (!record) return;
      if (job.data.outcome === 'failed' && record.status !== 'failed') {
        record.status = 'failed';
        record.error = job.data.message;
      }
      await deliver(deps, record, await finalMessageFor(deps, record));
    },
    { connection, concurrency: 8 },
  );
  worker.on('error', outageLogger(deps.logger, 'delivery worker'));
  worker.on('failed', (job, error) =>
    deps.logger.warn({ jobId: job?.data.jobId, err: error }, 'delivery failed'),
  );
  return worker;
}

/** Follows render progress (BullMQ QueueEvents, a Redis stream) and edits the preview into the message. */
export function startProgressFollower(deps: DeliveryDeps, connection: ConnectionOptions): QueueEvents {
  const events = new QueueEvents(RENDER_QUEUE, { connection });
  // Previews arrive already paced (src/jobs/progress.ts): each one is an edit; the updater keeps them in
  // order and behind none of the final message.
  events.on('progress', ({ jobId, data }) => {
    const progress = data as unknown as ProgressData;
    if (typeof progress !== 'object' || progress === null || typeof progress.preview !== 'string') return;
    const preview = Buffer.from(progress.preview, 'base64');
    deps.updater.progress(jobId, async () => {
      const record = await deps.records.get(jobId);
      if (!record || record.status === 'done' || record.status === 'failed') return;
      const percent = (100 * progress.step) / Math.max(1, progress.total);
      await deps.outbox.edit(record.reply, progressMessage(record, percent, preview));
    });
  });
  events.on('error', outageLogger(deps.logger, 'progress follower'));
  return events;
}
