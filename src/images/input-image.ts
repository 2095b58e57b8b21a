/**
 * Images that arrive from members (links, uploads) are brought down to what the model reads before
 * anything is kept: decoded one at a time per process, scaled to fit the model's input side, and
 * re-encoded as PNG. Redis then holds a few kilobytes per input instead of the raw upload, and a worker
 * never decodes a 4096 px image.
 */
import sharp, { type Metadata } from 'sharp';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './decode.js';
import { ImageInputError } from './errors.js';

export interface InputImage {
  png: Buffer;
  width: number;
  height: number;
}

export interface InputImageLimits extends Partial<DecodeLimits> {
  /** Longest side kept; larger images are scaled down (never up). */
  keepSide: number;
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
  const { maxBytes, maxPixels, maxSide, formats } = { ...DEFAULT_DECODE_LIMITS, ...limits };
  if (bytes.length > maxBytes) {
    throw new ImageInputError('too-many-bytes', `image is ${bytes.length} bytes; the limit is ${maxBytes}`);
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageInputError('not-an-image', 'the file is not an image sharp can read');
  }
  if (!metadata.format || !formats.includes(metadata.format)) {
    throw new ImageInputError(
      'unsupported-format',
      `${metadata.format ?? 'unknown'} images are not accepted (${formats})`,
    );
  }
  const { width, height } = metadata;
  if (!width || !height) throw new ImageInputError('not-an-image', 'the image has no size');
  if (width * height > maxPixels) {
    throw new ImageInputError(
      'too-many-pixels',
      `${width}x${height} is over the limit of ${maxPixels} pixels`,
    );
  }
  if (width > maxSide || height > maxSide) {
    throw new ImageInputError('too-large', `${width}x${height} has a side over ${maxSide} px`);
  }
  try {
    // libvips streams the decode through the resize (JPEG even shrinks on load), so the full-size
    // pixels of a large input are never held at once.
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', pages: 1 })
      .rotate()
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(limits.keepSide, limits.keepSide, {
        fit: 'inside',
        withoutEnlargement: true,
        kernel: 'lanczos3',
      })
      .png({ compressionLevel: 6 })
      .toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height };
  } catch (error) {
    throw new ImageInputError('not-an-image', `the image could not be decoded: ${(error as Error).message}`);
  }
}
