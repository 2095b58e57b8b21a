import type { Redis } from 'ioredis';
import { parseImageRef } from '../jobs/refs.js';
import type { Keys } from './keys.js';

/**
 * PNG bytes in Redis, with a time to live: grid images by job and slot (`0`-`3`, `grid`), and user uploads.
 * Every image a button or /blend can feed back in is addressed by the `job:<id>/<slot>` or
 * `upload:<id>` references that job descriptions carry.
 *
 * An upload starts with a short life (minutes): one fetched for a command that is then refused, or whose
 * bot died before queueing it, goes away on its own. Once its job is queued it lives as long as the job
 * record (`keepUploads`), since a reroll reads it again.
 */
export class ImageStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
    private readonly uploadTtlSeconds = 15 * 60,
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
    await this.redis.set(this.keys.upload(id), bytes, 'EX', this.uploadTtlSeconds);
  }

  /** Gives uploads that queued jobs use the life of the job records. */
  async keepUploads(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const multi = this.redis.multi();
    for (const id of ids) multi.expire(this.keys.upload(id), this.ttlSeconds);
    await multi.exec();
  }

  /** Deletes uploads of a command that did not get queued (DEL works even when Redis is out of memory). */
  async dropUploads(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.del(...ids.map((id) => this.keys.upload(id)));
  }

  /** Bytes behind an internal image reference, or null when it expired or never existed. */
  async resolve(reference: string): Promise<Buffer | null> {
    const ref = parseImageRef(reference);
    if (ref?.kind === 'job') return this.getJobImage(ref.jobId, String(ref.slot));
    if (ref?.kind === 'upload') return this.redis.getBuffer(this.keys.upload(ref.id));
    return null;
  }
}
