/**
 * Safe decoding of images that come from users (uploads, links the worker fetched) or from earlier jobs.
 * Checks run on the header before pixels are decoded: a byte limit, a format allowlist, a side limit and
 * sharp's `limitInputPixels`, so a decompression bomb is refused without allocating its pixels.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { ImageInputError } from './errors.js';
import { type RawImage, rawImage } from './raw-image.js';

export interface DecodeLimits {
  maxBytes: number;
  maxPixels: number;
  maxSide: number;
  formats: readonly string[];
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxBytes: 16 * 1024 * 1024,
  maxPixels: 4096 * 4096,
  maxSide: 8192,
  formats: ['png', 'jpeg', 'webp', 'gif'],
};

export interface ImageHeader {
  format: string;
  width: number;
  height: number;
}

/**
 * The checks that run on the header, before any pixel is decoded: the byte limit, the format allowlist,
 * and the pixel and side limits. Every decode of outside bytes starts here.
 */
export async function checkImageHeader(bytes: Uint8Array, limits: DecodeLimits): Promise<ImageHeader> {
  const { maxBytes, maxPixels, maxSide, formats } = limits;
  if (bytes.length > maxBytes) {
    throw new ImageInputError('too-many-bytes', `image is ${bytes.length} bytes; the limit is ${maxBytes}`);
  }
  let metadata: Metadata;
  try {
    // metadata() reads the header only; the pixel limit is checked below with a precise error.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageInputError('not-an-image', 'the file is not an image sharp can read');
  }
  const format = metadata.format;
  if (!format || !formats.includes(format)) {
    throw new ImageInputError(
      'unsupported-format',
      `${format ?? 'unknown'} images are not accepted (${formats})`,
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
  return { format, width, height };
}

/**
 * Checked bytes as sharp reads them for the model: the first frame, EXIF orientation applied, any alpha
 * composited on white (what the image encoder was trained on), sRGB; sharp's own pixel limit stays on.
 */
export function checkedRgb(bytes: Uint8Array, limits: DecodeLimits): Sharp {
  return sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .toColourspace('srgb');
}

export function decodeFailed(error: unknown): ImageInputError {
  return new ImageInputError('not-an-image', `the image could not be decoded: ${(error as Error).message}`);
}

/** Decodes to RGB with any alpha composited on white. */
export async function decodeImage(bytes: Uint8Array, limits: Partial<DecodeLimits> = {}): Promise<RawImage> {
  const resolved = { ...DEFAULT_DECODE_LIMITS, ...limits };
  await checkImageHeader(bytes, resolved);
  try {
    const { data, info } = await checkedRgb(bytes, resolved).raw().toBuffer({ resolveWithObject: true });
    return rawImage(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.length));
  } catch (error) {
    throw decodeFailed(error);
  }
}

/**
 * Resizes to exactly width x height: scale to cover and crop the centre (the aspect of the target wins,
 * nothing is stretched).
 */
export async function resizeCover(image: RawImage, width: number, height: number): Promise<RawImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return rawImage(width, height, new Uint8Array(data.buffer, data.byteOffset, data.length));
}

/** Scales by a factor (e.g. display resampling, sharp's 2x upscale when the model has no upscaler). */
export async function resizeBy(image: RawImage, factor: number, kernel: 'lanczos3' | 'nearest' = 'lanczos3') {
  const width = Math.round(image.width * factor);
  const height = Math.round(image.height * factor);
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel })
    .raw()
    .toBuffer();
  return rawImage(width, height, new Uint8Array(data.buffer, data.byteOffset, data.length));
}
