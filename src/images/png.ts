/**
 * PNG output with the generation parameters in an iTXt "parameters" chunk (the key AUTOMATIC1111 and
 * ComfyUI use). sharp's metadata options cannot write arbitrary text chunks, so the chunk is spliced in
 * after IHDR here (a chunk is length + type + data + CRC-32). iTXt rather than tEXt: prompts may be Chinese.
 */
import sharp from 'sharp';
import type { RawImage } from './raw-image.js';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return c;
}

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const typeBytes = new TextEncoder().encode(type);
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(typeBytes, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, (crc32(data, crc32(typeBytes)) ^ 0xffffffff) >>> 0);
  return out;
}

function iTXt(keyword: string, text: string): Uint8Array {
  const encoder = new TextEncoder();
  const key = encoder.encode(keyword);
  const value = encoder.encode(text);
  // keyword \0, compression flag 0, method 0, language tag "" \0, translated keyword "" \0, UTF-8 text
  const data = new Uint8Array(key.length + 5 + value.length);
  data.set(key, 0);
  data.set(value, key.length + 5);
  return pngChunk('iTXt', data);
}

/** Inserts text chunks right after IHDR (the first chunk, always 25 bytes long with its header and CRC). */
export function withTextChunks(png: Uint8Array, text: Readonly<Record<string, string>>): Uint8Array {
  const ihdrEnd = SIGNATURE.length + 25;
  const chunks = Object.entries(text).map(([k, v]) => iTXt(k, v));
  const extra = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, ihdrEnd), 0);
  let offset = ihdrEnd;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  out.set(png.subarray(ihdrEnd), offset);
  return out;
}

/** The text chunks (tEXt and uncompressed iTXt) of a PNG. */
export function readTextChunks(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const decoder = new TextDecoder();
  let offset = SIGNATURE.length;
  while (offset + 8 <= png.length) {
    const length = view.getUint32(offset);
    const type = decoder.decode(png.subarray(offset + 4, offset + 8));
    const data = png.subarray(offset + 8, offset + 8 + length);
    const zero = data.indexOf(0);
    if (type === 'tEXt' && zero > 0)
      out[decoder.decode(data.subarray(0, zero))] = new TextDecoder('latin1').decode(data.subarray(zero + 1));
    if (type === 'iTXt' && zero > 0 && data[zero + 1] === 0) {
      const lang = data.indexOf(0, zero + 3);
      const translated = data.indexOf(0, lang + 1);
      out[decoder.decode(data.subarray(0, zero))] = decoder.decode(data.subarray(translated + 1));
    }
    offset += 12 + length;
  }
  return out;
}

/**
 * zlib level 1 (zlib-ng's quick deflate), no row filters. A job's five PNGs (the grid and four singles,
 * about 1.5 MB of RGB) took some 23 ms to encode at level 6 on the development machine, about 7% of the
 * time inside the model; level 1 takes some 13 ms, for files about 15% larger. Adaptive filtering would make
 * them smaller but costs more time than level 6 saves. See `job_overhead_with_png` in docs/benchmarks.md.
 */
export const PNG_OUTPUT = { compressionLevel: 1, adaptiveFiltering: false } as const;

/** Encodes RGB to PNG (deterministic: same pixels and text, same bytes) with optional text chunks. */
export async function encodePng(
  image: RawImage,
  text: Readonly<Record<string, string>> = {},
): Promise<Uint8Array> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png(PNG_OUTPUT)
    .toBuffer();
  return withTextChunks(new Uint8Array(png.buffer, png.byteOffset, png.length), text);
}
