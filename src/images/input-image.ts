/**
 * Images that arrive from members (links, uploads) are brought down to what the model reads before
 * anything is kept: decoded one at a time per process, scaled to fit the model's input side, and
 * re-encoded as PNG. Redis then holds a few kilobytes per input instead of the raw upload, and a worker
 * never decodes a 4096 px image.
 */
import {
  checkedRgb,
  checkImageHeader,
  DEFAULT_DECODE_LIMITS,
  type DecodeLimits,
  decodeFailed,
} from './decode.js';
import { type ImageHashes, imageHashes } from './image-hash.js';

export interface InputImage {
  png: Buffer;
  width: number;
  height: number;
  /** Fingerprints of the image as sent, to recognise one the bot made (with `fingerprint`). */
  hashes?: ImageHashes;
}

export interface InputImageLimits extends Partial<DecodeLimits> {
  /** Longest side kept; larger images are scaled down (never up). */
  keepSide: number;
  fingerprint?: boolean;
}

// One decode at a time: a burst of large uploads queues here instead of multiplying peak memory.
let chain: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(task: () => Promise<T>): Promise<T> {
  const run = chain.then(task, task);
  chain = run.catch(() => {});
  return run;
}

export function prepareInputImage(bytes: Uint8Array, limits: InputImageLimits): Promise<InputImage> {
  return oneAtATime(() => prepare(bytes, limits));
}

async function prepare(bytes: Uint8Array, limits: InputImageLimits): Promise<InputImage> {
  const resolved = { ...DEFAULT_DECODE_LIMITS, ...limits };
  await checkImageHeader(bytes, resolved);
  try {
    // libvips streams the decode through the resize (JPEG even shrinks on load), so the full-size
    // pixels of a large input are never held at once.
    const { data, info } = await checkedRgb(bytes, resolved)
      .resize(limits.keepSide, limits.keepSide, {
        fit: 'inside',
        withoutEnlargement: true,
        kernel: 'lanczos3',
      })
      .png({ compressionLevel: 6 })
      .toBuffer({ resolveWithObject: true });
    const hashes = limits.fingerprint ? await imageHashes(bytes) : undefined;
    return { png: data, width: info.width, height: info.height, ...(hashes ? { hashes } : {}) };
  } catch (error) {
    throw decodeFailed(error);
  }
}
