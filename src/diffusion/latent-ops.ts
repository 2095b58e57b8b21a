/** Pure operations on [batch, channels, height, width] latents used by the sampler loop. */
import type { FloatTensor } from './tensor.js';

/**
 * Rolls every plane by (dy, dx) with wrap-around. `--tile` rolls the latents by a fresh offset before each
 * UNet call and back after it: the UNet's zero padding then lands at a different place every step, so no
 * fixed border forms and opposite edges are denoised as neighbours (a fixed ONNX graph has no circular
 * padding to switch on).
 */
export function rollLatents(latents: FloatTensor, dy: number, dx: number): FloatTensor {
  const [batch = 0, channels = 0, height = 0, width = 0] = latents.dims;
  const out = new Float32Array(latents.data.length);
  const sy = ((dy % height) + height) % height;
  const sx = ((dx % width) + width) % width;
  for (let plane = 0; plane < batch * channels; plane++) {
    const offset = plane * height * width;
    for (let y = 0; y < height; y++) {
      const ty = (y + sy) % height;
      for (let x = 0; x < width; x++) {
        out[offset + ty * width + ((x + sx) % width)] = latents.data[offset + y * width + x]!;
      }
    }
  }
  return { data: out, dims: latents.dims };
}

/** Pads every plane by `pad` cells taken from the opposite edges (decoding a tile with its neighbours). */
export function padCircular(latents: FloatTensor, pad: number): FloatTensor {
  const [batch = 0, channels = 0, height = 0, width = 0] = latents.dims;
  const ph = height + 2 * pad;
  const pw = width + 2 * pad;
  const out = new Float32Array(batch * channels * ph * pw);
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let y = 0; y < ph; y++) {
      const sy = (((y - pad) % height) + height) % height;
      for (let x = 0; x < pw; x++) {
        const sx = (((x - pad) % width) + width) % width;
        out[plane * ph * pw + y * pw + x] = latents.data[plane * height * width + sy * width + sx]!;
      }
    }
  }
  return { data: out, dims: [batch, channels, ph, pw] };
}

/** Crops `border` pixels from each side of [batch, channels, height, width] images. */
export function cropBorder(images: FloatTensor, border: number): FloatTensor {
  const [batch = 0, channels = 0, height = 0, width = 0] = images.dims;
  const h = height - 2 * border;
  const w = width - 2 * border;
  const out = new Float32Array(batch * channels * h * w);
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let y = 0; y < h; y++) {
      const start = plane * height * width + (y + border) * width + border;
      out.set(images.data.subarray(start, start + w), plane * h * w + y * w);
    }
  }
  return { data: out, dims: [batch, channels, h, w] };
}

/**
 * Approximate RGB of SD-family latents (a 4x3 linear map fitted to the SD VAE, widely used for live
 * previews). For other VAEs the colours are only indicative, which is all a progress preview needs.
 */
const LATENT_RGB = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
] as const;

/** One latent [4, h, w] (at `offset` in `data`) -> interleaved RGB bytes of size h x w. */
export function latentToRgb(data: Float32Array, offset: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const out = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += data[offset + k * plane + p]! * LATENT_RGB[k]![c]!;
      out[p * 3 + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
    }
  }
  return out;
}

/** [n, 3, H, W] in [-1, 1] -> n interleaved RGB byte arrays. */
export function tensorToRgbImages(images: FloatTensor): Uint8Array[] {
  const [batch = 0, channels = 0, height = 0, width = 0] = images.dims;
  if (channels !== 3) throw new RangeError(`expected 3 channels, got ${channels}`);
  const plane = height * width;
  return Array.from({ length: batch }, (_, b) => {
    const out = new Uint8Array(plane * 3);
    const base = b * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = images.data[base + c * plane + p]!;
        out[p * 3 + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
      }
    }
    return out;
  });
}

/** Interleaved RGB bytes -> [1, 3, H, W] floats in [-1, 1] (or [0, 1] with `unit`). */
export function rgbToTensor(data: Uint8Array, height: number, width: number, unit = false): FloatTensor {
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = data[p * 3 + c]! / 255;
      out[c * plane + p] = unit ? v : v * 2 - 1;
    }
  }
  return { data: out, dims: [1, 3, height, width] };
}
