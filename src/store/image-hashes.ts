import type { Redis } from 'ioredis';
import { hammingDistance, type ImageHashes } from '../images/image-hash.js';
import { ID_SOURCE, type ImageSlot } from '../jobs/refs.js';
import type { Keys } from './keys.js';

/** Where a recognised image came from: a job and its slot (null: the whole grid). */
export interface ImageOrigin {
  jobId: string;
  index: number | null;
}

/** Perceptual hashes this close (of 64 bits) are the same picture re-encoded or resized. */
export const SAME_PICTURE_BITS = 8;
// Eight bands of a byte each: two hashes within 7 bits of each other share at least one band exactly,
// so a lookup reads eight small sets instead of every image.
const BANDS = 8;

/**
 * The fingerprints of every image the bot made, for as long as the image itself lives, so that a
 * saved, re-encoded or resized copy coming back is linked to the job it came from. Exact hashes are
 * plain keys; perceptual ones sit in banded sorted sets scored by their expiry time.
 */
export class ImageHashStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly ttlSeconds: number,
  ) {}

  async remember(jobId: string, slot: ImageSlot, hashes: ImageHashes): Promise<void> {
    const expires = Date.now() + this.ttlSeconds * 1000;
    const member = `${jobId}/${slot}/${hashes.perceptual}`;
    const pipeline = this.redis.pipeline();
    pipeline.set(this.keys.exactHash(hashes.exact), `${jobId}/${slot}`, 'EX', this.ttlSeconds);
    for (const [band, value] of bands(hashes.perceptual).entries()) {
      const key = this.keys.hashBand(band, value);
      pipeline.zadd(key, expires, member);
      pipeline.zremrangebyscore(key, '-inf', Date.now());
      pipeline.expire(key, this.ttlSeconds);
    }
    await pipeline.exec();
  }

  /** The closest remembered image (exact first), or null; `accept` may rule origins out (other servers). */
  async recognise(
    hashes: ImageHashes,
    accept: (origin: ImageOrigin) => Promise<boolean>,
  ): Promise<ImageOrigin | null> {
    const exact = await this.redis.get(this.keys.exactHash(hashes.exact));
    const exactOrigin = exact ? originOf(exact) : null;
    if (exactOrigin && (await accept(exactOrigin))) return exactOrigin;
    const now = Date.now();
    const candidates = new Map<string, number>();
    for (const [band, value] of bands(hashes.perceptual).entries()) {
      for (const member of await this.redis.zrangebyscore(this.keys.hashBand(band, value), now, '+inf')) {
        const hash = member.slice(member.lastIndexOf('/') + 1);
        candidates.set(member.slice(0, member.lastIndexOf('/')), hammingDistance(hash, hashes.perceptual));
      }
    }
    const close = [...candidates].filter(([, d]) => d <= SAME_PICTURE_BITS).sort((a, b) => a[1] - b[1]);
    for (const [where] of close) {
      const origin = originOf(where);
      if (origin && (await accept(origin))) return origin;
    }
    return null;
  }
}

function bands(perceptual: string): string[] {
  return Array.from({ length: BANDS }, (_, i) => perceptual.slice(i * 2, i * 2 + 2));
}

const WHERE = new RegExp(`^(${ID_SOURCE})/([0-3]|grid)$`);

function originOf(where: string): ImageOrigin | null {
  const match = WHERE.exec(where);
  if (!match) return null;
  return { jobId: match[1]!, index: match[2] === 'grid' ? null : Number(match[2]) };
}
