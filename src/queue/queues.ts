import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq';
import type { Progress } from '../jobs/progress.js';

export const RENDER_QUEUE = 'render';
export const DELIVERY_QUEUE = 'deliver';

/** A render job carries only the id; the record (prompt, parents, reply target) lives in Redis. */
export interface RenderJobData {
  jobId: string;
}

/** Progress as it travels through BullMQ to the bot (JSON: the preview PNG as base64). */
export type ProgressData = Progress<string>;

export type DeliveryJobData =
  | { jobId: string; outcome: 'done' }
  | { jobId: string; outcome: 'failed'; message: string };

export const renderJobOptions: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 24 * 3600 },
};

// Delivery jobs stay a day after completion: their fixed id (`d-<jobId>`) then makes a second add of
// the same delivery (a render retried after its worker died) a no-op, so nothing is posted twice.
export const deliveryJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  removeOnComplete: { age: 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

export const deliveryJobId = (jobId: string) => `d-${jobId}`;

export interface Queues {
  render: Queue<RenderJobData>;
  delivery: Queue<DeliveryJobData>;
  close(): Promise<void>;
}

export function openQueues(
  connection: ConnectionOptions,
  onError: (error: Error) => void = () => {},
  prefix?: string,
): Queues {
  const options = { connection, ...(prefix ? { prefix } : {}) };
  const render = new Queue<RenderJobData>(RENDER_QUEUE, options);
  const delivery = new Queue<DeliveryJobData>(DELIVERY_QUEUE, options);
  // Connection errors while Redis restarts are retried by ioredis; without a listener they would crash.
  render.on('error', onError);
  delivery.on('error', onError);
  return {
    render,
    delivery,
    close: async () => {
      await Promise.all([render.close(), delivery.close()]);
    },
  };
}

/** Queue priority from the speed mode: relax jobs wait behind everything else (lower runs first in BullMQ). */
export function priorityFor(mode: 'fast' | 'relax' | 'turbo' | null): number | undefined {
  return mode === 'relax' ? 10 : undefined;
}
