/** @jest-environment ./test/diffusion/onnx-environment.cjs */
/**
 * emoji-ld2's extras (models/emoji-ld2, made by models/recipe/extras2.py): the 64 -> 128 px upscaler
 * through the engine's upscale path, and the tiny preview decoder for its VAE, picked up by the pipeline.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { Backend } from '../../src/diffusion/backend.js';
import { rgbToTensor, tensorToRgbImages } from '../../src/diffusion/latent-ops.js';
import type { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import { PreviewDecoder } from '../../src/diffusion/preview-decoder.js';
import type { RawImage } from '../../src/images/raw-image.js';
import { request } from './helpers.js';

const WIP = new URL('../../models/emoji-ld2/', import.meta.url).pathname;

/** PSNR in dB of two 8-bit images. */
function psnr(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (sum / a.length));
}

/** 2x2 box average: the 128 px upscale brought back to 64 px. */
function halve(image: RawImage): Uint8Array {
  const w = image.width / 2;
  const h = image.height / 2;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ] as const)
          s += image.data[((2 * y + dy) * image.width + 2 * x + dx) * 3 + c]!;
        out[(y * w + x) * 3 + c] = Math.round(s / 4);
      }
  return out;
}

describe('emoji-ld2 extras', () => {
  let pipeline: DiffusionPipeline;
  let images: RawImage[];
  beforeAll(async () => {
    const { DiffusionPipeline } = await import('../../src/diffusion/pipeline.js');
    pipeline = await DiffusionPipeline.fromPretrained(WIP, { threads: 1 });
    const conditions = [{ kind: 'text', text: 'polar bear', weight: 1 }] as const;
    images = (await pipeline.generate(request(pipeline, { conditions, steps: 10, seed: 7, images: [0, 1] })))
      .images;
  }, 120_000);
  afterAll(() => pipeline.dispose());

  test('the upscaler doubles a generated 64 px image through the engine and keeps its content', async () => {
    expect(pipeline.defaults.hasUpscaler).toBe(true);
    for (const image of images) {
      expect(image).toMatchObject({ width: 64, height: 64 });
      const up = await pipeline.upscale(image);
      expect(up.method).toBe('model');
      expect(up.image).toMatchObject({ width: 128, height: 128 });
      // brought back to 64 px it is the image it came from (an upscaler adds detail, not content).
      // Measured on the two images: 34.5 and 32.0 dB; 28.5 and 26.0 dB from sharp's Lanczos.
      expect(psnr(halve(up.image), image.data)).toBeGreaterThan(30);
      // and it is not sharp's Lanczos (the fallback without an upscaler)
      const lanczos = await sharp(image.data, { raw: { width: 64, height: 64, channels: 3 } })
        .resize(128, 128, { kernel: 'lanczos3' })
        .raw()
        .toBuffer();
      expect(psnr(up.image.data, new Uint8Array(lanczos))).toBeLessThan(40);
    }
  });

  test('previews go through vae_decoder_tiny/ and come close to the full decoder', async () => {
    const backend = new Backend({ threads: 1 });
    try {
      const decoder = await PreviewDecoder.load(backend, WIP);
      expect(decoder.kind).toBe('tiny');
      const encoder = await backend.load(`${WIP}vae_encoder/model.onnx`, 'vae_encoder');
      const full = await backend.load(`${WIP}vae_decoder/model.onnx`, 'vae_decoder');
      const scale = JSON.parse(readFileSync(`${WIP}vae_decoder/config.json`, 'utf8'))
        .scaling_factor as number;
      const scores: number[] = [];
      for (const image of images) {
        const encoded = await encoder.run({
          sample: { kind: 'float', tensor: rgbToTensor(image.data, 64, 64) },
        });
        const unscaled = Object.values(encoded)[0]!;
        const latent = unscaled.data.map((v) => v * scale);
        const decoded = await full.run({ latent_sample: { kind: 'float', tensor: unscaled } });
        const want = tensorToRgbImages(Object.values(decoded)[0]!)[0]!;
        const [picture] = await decoder.images(latent, 1, 16, 16);
        expect(picture).toMatchObject({ width: 64, height: 64 });
        scores.push(psnr(picture!.data, want));
      }
      // Measured: 32.6 and 30.6 dB (8-bit pixels); extras2.py's held-out numbers are in the config.
      expect(Math.min(...scores)).toBeGreaterThan(28);
      const grid = await decoder.grid(new Float32Array(4 * 4 * 16 * 16), 4, 16, 16);
      expect(grid).toMatchObject({ width: 128, height: 128 });
    } finally {
      await backend.dispose();
    }
  });
});
