/** @jest-environment ./test/diffusion/onnx-environment.cjs */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import type { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { Progress } from '../../src/diffusion/request.js';
import { GenerationRequestError } from '../../src/diffusion/request.js';
import { SCHEDULERS } from '../../src/diffusion/schedulers/index.js';
import { rawImage } from '../../src/images/raw-image.js';
import { LAYOUTS, loadFixture, meanAbsDiff, request } from './helpers.js';

describe.each(LAYOUTS)('layout %s', (name) => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture(name);
  });
  afterAll(() => pipeline.dispose());

  test.each(SCHEDULERS)(
    '%s makes four images of the requested size, not flat, not all alike',
    async (scheduler) => {
      const result = await pipeline.generate(request(pipeline, { scheduler }));
      expect(result.images).toHaveLength(4);
      for (const image of result.images) {
        expect(image).toMatchObject({ width: pipeline.defaults.size, height: pipeline.defaults.size });
        const values = [...image.data];
        expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(20);
      }
      expect(meanAbsDiff(result.images[0]!.data, result.images[1]!.data)).toBeGreaterThan(1);
    },
  );

  test('non-square sizes keep width and height apart', async () => {
    const m = pipeline.defaults.sizeMultiple;
    const result = await pipeline.generate(request(pipeline, { width: m * 6, height: m * 2, images: [0] }));
    expect(result.images[0]).toMatchObject({ width: m * 6, height: m * 2 });
  });

  test('the same request gives the same bytes', async () => {
    const a = await pipeline.generate(request(pipeline));
    const b = await pipeline.generate(request(pipeline));
    expect(b.images.map((i) => i.data)).toEqual(a.images.map((i) => i.data));
  });

  test('one batched UNet call per step: text encoder + steps + decoder', async () => {
    const result = await pipeline.generate(
      request(pipeline, {
        conditions: [
          { kind: 'text', text: 'a red cat', weight: 0.7 },
          { kind: 'text', text: 'a blue dog', weight: 0.5 },
          { kind: 'text', text: 'the sea', weight: -0.2 },
        ],
        steps: 5,
      }),
    );
    expect(result.timings.onnxRuns).toBe(1 + 5 + 1);
  });
});

describe('guidance through the whole pipeline (project layout)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('emoji-tiny');
  });
  afterAll(() => pipeline.dispose());

  const cat = { kind: 'text', text: 'a red cat', weight: 0.75 } as const;
  const dog = { kind: 'text', text: 'a blue dog', weight: 0.25 } as const;

  test('a prompt of weight 0 changes nothing', async () => {
    const base = await pipeline.generate(request(pipeline, { conditions: [cat, dog] }));
    const zero = await pipeline.generate(
      request(pipeline, { conditions: [cat, { kind: 'text', text: 'penguin', weight: 0 }, dog] }),
    );
    expect(zero.images).toEqual(base.images);
  });

  test('swapping the order of prompts changes nothing', async () => {
    const ab = await pipeline.generate(request(pipeline, { conditions: [cat, dog] }));
    const ba = await pipeline.generate(request(pipeline, { conditions: [dog, cat] }));
    expect(ba.images).toEqual(ab.images);
  });

  test('image i made alone is byte-identical to image i of the grid', async () => {
    const grid = await pipeline.generate(request(pipeline, { chaos: 40, scheduler: 'euler-ancestral' }));
    const alone = await pipeline.generate(
      request(pipeline, { chaos: 40, scheduler: 'euler-ancestral', images: [2] }),
    );
    expect(alone.images[0]!.data).toEqual(grid.images[2]!.data);
  });

  test('chunked UNet calls give the same images as one batched call', async () => {
    const chunked = await loadFixture('emoji-tiny', { maxUnetBatch: 3 });
    try {
      const req = request(pipeline, { conditions: [cat, dog], steps: 3 });
      const a = await pipeline.generate(req);
      const b = await chunked.generate(req);
      expect(b.timings.onnxRuns).toBe(1 + 3 * 4 + 1);
      for (let i = 0; i < 4; i++) expect(meanAbsDiff(a.images[i]!.data, b.images[i]!.data)).toBeLessThan(0.5);
    } finally {
      await chunked.dispose();
    }
  });

  test('the UNet batch is split only when onnxruntime fails to allocate, then stays split', async () => {
    const splitting = await loadFixture('emoji-tiny');
    try {
      const unet = (
        splitting as unknown as { parts: { unet: { run: (...args: never[]) => Promise<unknown> } } }
      ).parts.unet;
      const run = unet.run.bind(unet);
      const rows: number[] = [];
      unet.run = (async (feeds: { sample: { tensor: { dims: number[] } } }, ...rest: never[]) => {
        const n = feeds.sample.tensor.dims[0]!;
        rows.push(n);
        if (n > 4) throw new Error('Failed to allocate memory for requested buffer of size 123456');
        return run(feeds as never, ...rest);
      }) as never;
      const req = request(pipeline, { conditions: [cat, dog], steps: 2 });
      const result = await splitting.generate(req);
      // 12 rows fail, 6 rows fail, then 3-row chunks: 4 calls per step, and the limit is kept.
      expect(rows).toEqual([12, 6, 3, 3, 3, 3, 3, 3, 3, 3]);
      const reference = await pipeline.generate(req);
      for (let i = 0; i < 4; i++)
        expect(meanAbsDiff(result.images[i]!.data, reference.images[i]!.data)).toBeLessThan(0.5);
      unet.run = (async () => {
        throw new Error('shape mismatch');
      }) as never;
      await expect(splitting.generate(req)).rejects.toThrow('shape mismatch');
    } finally {
      await splitting.dispose();
    }
  });

  test('the VAE decoder falls back to one image at a time when a batch fails to allocate', async () => {
    const splitting = await loadFixture('emoji-tiny');
    try {
      type Run = (...args: never[]) => Promise<unknown>;
      const decoder = (splitting as unknown as { parts: { vaeDecoder: { run: Run } } }).parts.vaeDecoder;
      const run = decoder.run.bind(decoder);
      const batches: number[] = [];
      decoder.run = (async (feeds: { latent_sample: { tensor: { dims: number[] } } }, ...rest: never[]) => {
        batches.push(feeds.latent_sample.tensor.dims[0]!);
        if (feeds.latent_sample.tensor.dims[0]! > 1) throw new Error('bad_alloc');
        return run(feeds as never, ...rest);
      }) as never;
      const req = request(pipeline, { steps: 2 });
      const result = await splitting.generate(req);
      expect(batches).toEqual([4, 1, 1, 1, 1]);
      expect(result.images).toEqual((await pipeline.generate(req)).images);
    } finally {
      await splitting.dispose();
    }
  });

  test('more chaos makes the four images differ more', async () => {
    const spread = async (chaos: number) => {
      const { images } = await pipeline.generate(request(pipeline, { chaos, steps: 6 }));
      let sum = 0;
      for (let i = 1; i < 4; i++) sum += meanAbsDiff(images[0]!.data, images[i]!.data);
      return sum;
    };
    expect(await spread(100)).toBeGreaterThan(await spread(0));
  });

  test('--stop ends early and decodes the current estimate', async () => {
    const full = await pipeline.generate(request(pipeline, { steps: 10 }));
    const stopped = await pipeline.generate(request(pipeline, { steps: 10, stop: 0.5 }));
    expect(stopped.timings.onnxRuns).toBe(1 + 5 + 1);
    expect(stopped.images[0]!.data).not.toEqual(full.images[0]!.data);
  });

  test('--tile gives images whose opposite edges match better', async () => {
    const seam = (image: { width: number; height: number; data: Uint8Array }) => {
      const { width, height, data } = image;
      let wrap = 0;
      let inner = 0;
      for (let y = 0; y < height; y++) {
        for (let c = 0; c < 3; c++) {
          wrap += Math.abs(data[(y * width + width - 1) * 3 + c]! - data[y * width * 3 + c]!);
          inner += Math.abs(
            data[(y * width + width / 2) * 3 + c]! - data[(y * width + width / 2 - 1) * 3 + c]!,
          );
        }
      }
      return wrap / inner;
    };
    const plain = await pipeline.generate(request(pipeline, { steps: 8 }));
    const tiled = await pipeline.generate(request(pipeline, { steps: 8, tile: true }));
    const mean = (images: typeof plain.images) => images.reduce((s, i) => s + seam(i), 0) / images.length;
    expect(mean(tiled.images)).toBeLessThan(mean(plain.images));
  });

  test('an image prompt goes through the image encoder, text and image in one batch', async () => {
    const picture = rawImage(40, 40, new Uint8Array(40 * 40 * 3).fill(200));
    const result = await pipeline.generate(
      request(pipeline, { conditions: [cat, { kind: 'image', image: picture, weight: 0.25 }], steps: 3 }),
    );
    expect(result.notes).toEqual([]);
    expect(result.timings.onnxRuns).toBe(1 + 1 + 3 + 1);
  });

  test('img2img from an init image stays closer to it as strength falls', async () => {
    const { data } = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff8800' } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const init = rawImage(32, 32, new Uint8Array(data));
    const distance = async (strength: number) => {
      const r = await pipeline.generate(
        request(pipeline, { init: { image: init, strength }, steps: 10, images: [0] }),
      );
      return meanAbsDiff(r.images[0]!.data, init.data);
    };
    const subtle = await distance(0.2);
    const strong = await distance(1);
    expect(subtle).toBeLessThan(strong);
    const r = await pipeline.generate(
      request(pipeline, { init: { image: init, strength: 0.3 }, steps: 10, images: [0] }),
    );
    expect(r.timings.onnxRuns).toBe(1 + 1 + 3 + 1); // text, VAE encoder, 3 of 10 steps, decoder
  });

  test('progress reports every stage and step, each step able to show the forming grid', async () => {
    const events: Progress[] = [];
    const previews: { step: number; mean: number }[] = [];
    const taken: Promise<void>[] = [];
    await pipeline.generate(request(pipeline, { steps: 10 }), (p) => {
      events.push(p);
      // A preview is the estimate of this very step: taken inside the callback (it may come as a promise).
      const picture = p.preview?.();
      if (picture) {
        taken.push(
          Promise.resolve(picture).then((image) => {
            expect(image).toMatchObject({ width: 64, height: 64 }); // full size: emoji-tiny has vae_decoder_tiny/
            previews.push({ step: p.step, mean: image.data.reduce((a, b) => a + b, 0) / image.data.length });
          }),
        );
      }
    });
    await Promise.all(taken);
    const denoise = events.filter((e) => e.stage === 'denoise');
    expect(denoise.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(denoise.every((e) => e.total === 10)).toBe(true);
    expect(previews.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The estimates move from step to step (a stale buffer would repeat itself).
    expect(new Set(previews.map((p) => p.mean.toFixed(3))).size).toBeGreaterThan(5);
    expect(events[0]!.stage).toBe('encode');
    expect(events.at(-1)!.stage).toBe('decode');
  });

  test('an abort signal stops the loop between steps', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const run = pipeline.generate(
      request(pipeline, { steps: 10 }),
      (p) => {
        if (p.stage !== 'denoise') return;
        steps.push(p.step);
        if (p.step === 3) controller.abort();
      },
      controller.signal,
    );
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toEqual([1, 2, 3]);
  });

  test('the model upscaler doubles the size', async () => {
    const { image, method } = await pipeline.upscale(rawImage(32, 16, new Uint8Array(32 * 16 * 3).fill(90)));
    expect(method).toBe('model');
    expect(image).toMatchObject({ width: 64, height: 32 });
    // It is fully convolutional: an upscale of an upscale doubles again (the job says the image's own size).
    const again = await pipeline.upscale(image);
    expect(again.image).toMatchObject({ width: 128, height: 64 });
  });

  test('invalid requests are refused before inference', async () => {
    for (const bad of [
      { width: 33 },
      { width: 32 * 8, height: 32 * 8 },
      { steps: 0 },
      { stop: 0 },
      { chaos: 101 },
      { seed: -1 },
      { images: [4] },
    ]) {
      await expect(pipeline.generate(request(pipeline, bad))).rejects.toThrow(GenerationRequestError);
    }
  });
});

describe('stock SD: no image encoder', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('sd21-tiny');
  });
  afterAll(() => pipeline.dispose());

  test('an image prompt becomes an init image and the result says so', async () => {
    const picture = rawImage(64, 64, new Uint8Array(64 * 64 * 3).fill(30));
    const result = await pipeline.generate(
      request(pipeline, {
        conditions: [
          { kind: 'image', image: picture, weight: 0.5 },
          { kind: 'text', text: 'a cat', weight: 0.5 },
        ],
        steps: 8,
      }),
    );
    expect(result.notes.join(' ')).toMatch(/init image/);
    // strength 0.75 of 8 steps: 6 UNet calls, plus text encoder, VAE encoder and decoder.
    expect(result.timings.onnxRuns).toBe(1 + 1 + 6 + 1);
  });

  test('a variation (init image + the same image as a prompt) runs img2img and says how', async () => {
    const parent = rawImage(64, 64, new Uint8Array(64 * 64 * 3).fill(120));
    const result = await pipeline.generate(
      request(pipeline, {
        conditions: [
          { kind: 'image', image: parent, weight: 0.5 },
          { kind: 'text', text: 'a cat', weight: 0.5 },
        ],
        init: { image: parent, strength: 0.5 },
        steps: 4,
        images: [0],
      }),
    );
    expect(result.notes).toEqual([
      'This model has no image encoder: image prompts act only through the init image (img2img).',
    ]);
    expect(result.timings.onnxRuns).toBe(1 + 1 + 2 + 1);
  });

  test('/blend of images of different sizes becomes one blended init image', async () => {
    const a = rawImage(64, 32, new Uint8Array(64 * 32 * 3).fill(250));
    const b = rawImage(20, 50, new Uint8Array(20 * 50 * 3).fill(10));
    const result = await pipeline.generate(
      request(pipeline, {
        conditions: [
          { kind: 'image', image: a, weight: 0.5 },
          { kind: 'image', image: b, weight: 0.5 },
        ],
        steps: 4,
        images: [0],
      }),
    );
    expect(result.notes.join(' ')).toMatch(/init image/);
    expect(result.timings.onnxRuns).toBe(1 + 1 + 2 + 1); // strength 0.5 of 4 steps
  });

  test('the upscale falls back to sharp', async () => {
    const { image, method } = await pipeline.upscale(rawImage(8, 8, new Uint8Array(8 * 8 * 3)));
    expect(method).toBe('sharp');
    expect(image).toMatchObject({ width: 16, height: 16 });
  });
});

describe('end to end against an independent PyTorch reference', () => {
  // scripts/make-fixture-models.py ran the same tiny model in PyTorch with its own Philox, DDIM and
  // composable guidance: the engine must produce the same grid.
  const reference = JSON.parse(
    readFileSync(new URL('../fixtures/pipeline-reference.json', import.meta.url), 'utf8'),
  ) as {
    seed: number;
    steps: number;
    guidance_scale: number;
    prompts: { text: string; weight: number }[];
    images: string[];
  };

  test('DDIM + guidance on the project layout matches PyTorch to within rounding', async () => {
    const pipeline = await loadFixture('emoji-tiny');
    try {
      const result = await pipeline.generate(
        request(pipeline, {
          conditions: [...reference.prompts].reverse().map((p) => ({ kind: 'text' as const, ...p })),
          seed: reference.seed,
          steps: reference.steps,
          guidanceScale: reference.guidance_scale,
          scheduler: 'ddim',
          chaos: 0,
        }),
      );
      reference.images.forEach((hex, i) => {
        const expected = Uint8Array.from(Buffer.from(hex, 'hex'));
        const actual = result.images[i]!.data;
        let worst = 0;
        for (let k = 0; k < expected.length; k++)
          worst = Math.max(worst, Math.abs(actual[k]! - expected[k]!));
        expect(worst).toBeLessThanOrEqual(1);
      });
    } finally {
      await pipeline.dispose();
    }
  });
});
