/**
 * What the bot keeps in Redis about a job, read back for the tests: the record as the bot wrote it (left
 * untyped, each test names the fields it checks) and the images by slot.
 */
import type { Redis } from 'ioredis';
import type { MessageView } from '../../src/sandbox/discord/index.js';
import { requireJobId } from './messages.js';

/** The job's record; `null` when none is stored, so a test that expects one fails on its first field. */
export async function jobRecord(redis: Redis, jobId: string) {
  return JSON.parse((await redis.get(`lb:job:${jobId}`)) ?? 'null');
}

/** The record of the job a finished message names. */
export const recordOf = (redis: Redis, message: MessageView) => jobRecord(redis, requireJobId(message));

/** The stored image of one slot of a job; a missing one fails here rather than inside an image decoder. */
export async function jobImage(redis: Redis, jobId: string, index: number): Promise<Buffer> {
  const image = await redis.getBuffer(`lb:img:${jobId}:${index}`);
  if (!image) throw new Error(`job ${jobId} has no stored image ${index}`);
  return image;
}

/** The four images of a grid job, in slot order. */
export const jobImages = (redis: Redis, jobId: string) =>
  Promise.all([0, 1, 2, 3].map((index) => jobImage(redis, jobId, index)));
