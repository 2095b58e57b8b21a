/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import { readFileSync } from 'node:fs';
import type { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import { meanAbsDiff, request } from '../diffusion/helpers.js';

// The shipped model: loads through the bot's pipeline, has the documented shapes, follows its prompts.
const MODEL = new URL('../../models/emoji-ld/', import.meta.url).pathname;

describe('models/emoji-ld', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    const { DiffusionPipeline } = await import('../../src/diffusion/pipeline.js');
    pipeline = await DiffusionPipeline.fromPretrained(MODEL, { threads: 1 });
  });
  afterAll(() => pipeline.dispose());

  test('declares a 32 px model with an image encoder and an upscaler', () => {
    const d = pipeline.defaults;
    expect(d.size).toBe(32);
    expect(d.sizeMultiple).toBe(8);
    expect(d.hasImageEncoder).toBe(true);
    expect(d.hasUpscaler).toBe(true);
    const index = JSON.parse(readFileSync(`${MODEL}model_index.json`, 'utf8')) as { max_length: number };
    expect(index.max_length).toBe(16);
  });

  test('makes a 2x2 grid of 32x32 images; different prompts give different images', async () => {
    const steps = 8;
    const bear = await pipeline.generate(
      request(pipeline, { conditions: [{ kind: 'text', text: 'polar bear', weight: 1 }], steps }),
    );
    const fire = await pipeline.generate(
      request(pipeline, { conditions: [{ kind: 'text', text: '火', weight: 1 }], steps }),
    );
    expect(bear.images).toHaveLength(4);
    for (const image of bear.images) expect(image).toMatchObject({ width: 32, height: 32 });
    expect(meanAbsDiff(bear.images[0]!.data, fire.images[0]!.data)).toBeGreaterThan(5);
    expect(meanAbsDiff(bear.images[0]!.data, bear.images[1]!.data)).toBeGreaterThan(1);
  });

  test('non-square sizes and image prompts run', async () => {
    const wide = await pipeline.generate(request(pipeline, { width: 48, height: 32, steps: 4, images: [0] }));
    expect(wide.images[0]).toMatchObject({ width: 48, height: 32 });
    const image = wide.images[0]!;
    const byImage = await pipeline.generate(
      request(pipeline, { conditions: [{ kind: 'image', image, weight: 1 }], steps: 4, images: [0] }),
    );
    expect(byImage.notes).toEqual([]);
    expect(byImage.images[0]).toMatchObject({ width: 32, height: 32 });
  });

  test('the upscaler doubles the side', async () => {
    const result = await pipeline.generate(request(pipeline, { steps: 4, images: [0] }));
    const up = await pipeline.upscale(result.images[0]!);
    expect(up.method).toBe('model');
    expect(up.image).toMatchObject({ width: 64, height: 64 });
  });
});
