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
/**
 * Copies of one picture the bot itself made (a grid image, its U upscale, that upscale's Upscale
 * (Subtle)) hash within a few bits of each other, about as far as JPEG and resizing move a hash. Within
 * this many bits of the best match the candidates count as equally close, and the largest wins: the
 * copy members save and share is the upscale, not the grid cell it was made from. (The returning
 * image's own size says little: members resize what they save.)
 */
export const SAME_COPY_BITS = 2;
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
    const member = `${jobId}/${slot}/${hashes.width}x${hashes.height}/${hashes.perceptual}`;
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
    const candidates = new Map<string, Candidate>();
    for (const [band, value] of bands(hashes.perceptual).entries()) {
      for (const member of await this.redis.zrangebyscore(this.keys.hashBand(band, value), now, '+inf')) {
        const candidate = candidateOf(member, hashes);
        if (candidate && candidate.bits <= SAME_PICTURE_BITS) candidates.set(candidate.where, candidate);
      }
    }
    for (const { where } of ranked([...candidates.values()])) {
      const origin = originOf(where);
      if (origin && (await accept(origin))) return origin;
    }
    return null;
  }
}

interface Candidate {
  /** `jobId/slot` */
  where: string;
  /** Hamming distance to the returning image's perceptual hash. */
  bits: number;
  /** The stored copy's longer side; 0 when it was not kept. */
  side: number;
}

/** A band member, `jobId/slot/WxH/perceptual` (or `jobId/slot/perceptual`, written before sizes were kept). */
function candidateOf(member: string, returning: Pick<ImageHashes, 'perceptual'>): Candidate | null {
  const parts = member.split('/');
  const hash = parts.at(-1)!;
  const size = parts.length === 4 ? /^(\d+)x(\d+)$/.exec(parts[2]!) : null;
  if (parts.length < 3 || !/^[0-9a-f]{16}$/.test(hash)) return null;
  return {
    where: `${parts[0]}/${parts[1]}`,
    bits: hammingDistance(hash, returning.perceptual),
    side: size ? Math.max(Number(size[1]), Number(size[2])) : 0,
  };
}

/** Nearest hash first; those within SAME_COPY_BITS of the nearest, the largest first among them. */
function ranked(candidates: Candidate[]): Candidate[] {
  const byBits = [...candidates].sort((a, b) => a.bits - b.bits);
  const best = byBits[0]?.bits ?? 0;
  const copies = byBits.filter((c) => c.bits <= best + SAME_COPY_BITS);
  copies.sort((a, b) => b.side - a.side || a.bits - b.bits);
  return [...copies, ...byBits.filter((c) => c.bits > best + SAME_COPY_BITS)];
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
