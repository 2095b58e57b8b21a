import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * PNG bytes in Redis, with a time to live: grid images by job and slot (`0`-`3`, `grid`), and user uploads.
 * Every image a button or /blend can feed back in is addressed by the `job:<id>/<slot>` or
 * `upload:<id>` references that job descriptions carry.
 */
export class ImageStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  async putJobImages(jobId: string, images: ReadonlyMap<string, Buffer>): Promise<void> {
    const multi = this.redis.multi();
    for (const [slot, png] of images) multi.set(this.keys.image(jobId, slot), png, 'EX', this.ttlSeconds);
    await multi.exec();
  }

  getJobImage(jobId: string, slot: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.image(jobId, slot));
  }

  async putUpload(id: string, bytes: Buffer): Promise<void> {
    await this.redis.set(this.keys.upload(id), bytes, 'EX', this.ttlSeconds);
  }

  /** Bytes behind an internal image reference, or null when it expired or never existed. */
  async resolve(reference: string): Promise<Buffer | null> {
    const job = /^job:([A-Za-z0-9_-]{1,64})\/(\d|grid)$/.exec(reference);
    if (job) return this.getJobImage(job[1]!, job[2]!);
    const upload = /^upload:([A-Za-z0-9_-]{1,64})$/.exec(reference);
    if (upload) return this.redis.getBuffer(this.keys.upload(upload[1]!));
    return null;
  }
}

export const jobImageRef = (jobId: string, index: number): string => `job:${jobId}/${index}`;
export const uploadRef = (id: string): string => `upload:${id}`;
