/**
 * Job ids and the internal image references job descriptions carry, built and parsed here only.
 *
 *   job id             12 characters of [a-z0-9] (short enough for /show, free of `:` as BullMQ ids must be)
 *   job:<id>/<slot>    an image of a finished job: 0-3 for the grid's images (an upscale keeps its index),
 *                      `grid` for the 2x2 grid itself
 *   upload:<id>        a member's image (a link or an attachment), stored at the model's input size
 */
import { randomBytes } from 'node:crypto';

/** The id pattern's source, for composing other patterns (button ids, page routes). */
export const ID_SOURCE = '[a-z0-9]{12}';
export const JOB_ID_PATTERN = new RegExp(`^${ID_SOURCE}$`);

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh id for a job or an upload. */
export function newJobId(): string {
  return [...randomBytes(12)].map((byte) => ALPHABET[byte % ALPHABET.length]).join('');
}

export type ImageSlot = 0 | 1 | 2 | 3 | 'grid';

export type ImageRef = { kind: 'job'; jobId: string; slot: ImageSlot } | { kind: 'upload'; id: string };

export const jobImageRef = (jobId: string, slot: ImageSlot): string => `job:${jobId}/${slot}`;
export const uploadRef = (id: string): string => `upload:${id}`;

const JOB_IMAGE = new RegExp(`^job:(${ID_SOURCE})/([0-3]|grid)$`);
const UPLOAD = new RegExp(`^upload:(${ID_SOURCE})$`);

/** Parses an internal reference; null for anything else (an http link, a malformed or forged one). */
export function parseImageRef(reference: string): ImageRef | null {
  const job = JOB_IMAGE.exec(reference);
  if (job)
    return { kind: 'job', jobId: job[1]!, slot: job[2] === 'grid' ? 'grid' : (Number(job[2]) as ImageSlot) };
  const upload = UPLOAD.exec(reference);
  if (upload) return { kind: 'upload', id: upload[1]! };
  return null;
}

/** The upload id behind `upload:<id>`, or null. */
export function uploadIdOf(reference: string): string | null {
  const parsed = parseImageRef(reference);
  return parsed?.kind === 'upload' ? parsed.id : null;
}
