/** @jest-environment ./test/diffusion/onnx-environment.cjs */
/**
 * The few-step and inpainting fixtures (random weights with the signatures of Optimum's exports) generate
 * through the pipeline with their own defaults, and the UNet gets the inputs each family was trained with.
 */
import { jest } from '@jest/globals';
import { type Feed, ModelSession } from '../../src/diffusion/backend.js';
import type { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { GenerationRequest } from '../../src/diffusion/request.js';
import { guidanceScaleEmbedding } from '../../src/diffusion/schedulers/index.js';
import { rawImage } from '../../src/images/raw-image.js';
import { loadFixture, meanAbsDiff, request } from './helpers.js';

type Fed = { label: string; feeds: Record<string, Feed> };

/** Every ONNX call the pipeline makes while `fn` runs, with its feeds. */
async function recordRuns<T>(fn: () => Promise<T>): Promise<{ result: T; runs: Fed[] }> {
  const runs: Fed[] = [];
  const original = ModelSession.prototype.run;
  const spy = jest.spyOn(ModelSession.prototype, 'run').mockImplementation(function (
    this: ModelSession,
    feeds,
    outputs,
  ) {
    runs.push({ label: this.label, feeds });
    return original.call(this, feeds, outputs);
  });
  try {
    return { result: await fn(), runs };
  } finally {
    spy.mockRestore();
  }
}

const unetRuns = (runs: Fed[]) => runs.filter((r) => r.label === 'unet');

function floatDims(feed: Feed | undefined): readonly number[] {
  if (feed?.kind !== 'float') throw new Error('not a float feed');
  return feed.tensor.dims;
}

function expectImages(
  result: { images: { width: number; height: number; data: Uint8Array }[] },
  side: number,
) {
  expect(result.images).toHaveLength(4);
  for (const image of result.images) {
    expect(image).toMatchObject({ width: side, height: side });
    expect(image.data.every((v) => Number.isFinite(v))).toBe(true);
    expect(Math.max(...image.data) - Math.min(...image.data)).toBeGreaterThan(0);
  }
}

/** The pipeline's own defaults: steps and sampler of the family, not the test helper's four steps. */
function defaultRequest(pipeline: DiffusionPipeline, overrides: Partial<GenerationRequest> = {}) {
  return request(pipeline, { steps: pipeline.defaults.steps, ...overrides });
}

describe('SD-Turbo (guidance-distilled, Euler trailing)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('sd-turbo-tiny');
  });
  afterAll(() => pipeline.dispose());

  test('defaults: its own sampler, 2 steps at --q 1, guidance 1', () => {
    expect(pipeline.defaults).toMatchObject({
      scheduler: 'euler',
      steps: 2,
      guidanceScale: 1,
      distilled: 'turbo',
      guidance: 'none',
    });
  });

  test('one prompt: one UNet row per image, no unconditional row, no note', async () => {
    const { result, runs } = await recordRuns(() => pipeline.generate(defaultRequest(pipeline)));
    expectImages(result, pipeline.defaults.size);
    const unet = unetRuns(runs);
    expect(unet).toHaveLength(2);
    for (const run of unet) {
      expect(floatDims(run.feeds['sample'])).toEqual([4, 4, 8, 8]);
      expect(floatDims(run.feeds['encoder_hidden_states'])[0]).toBe(4);
      expect(run.feeds['timestep_cond']).toBeUndefined();
    }
    expect(result.notes).toEqual([]);
    expect(meanAbsDiff(result.images[0]!.data, result.images[1]!.data)).toBeGreaterThan(0);
  });

  test('the prompt changes the output', async () => {
    const a = await pipeline.generate(defaultRequest(pipeline, { images: [0] }));
    const b = await pipeline.generate(
      defaultRequest(pipeline, {
        images: [0],
        conditions: [{ kind: 'text', text: 'a blue dog', weight: 1 }],
      }),
    );
    expect(meanAbsDiff(a.images[0]!.data, b.images[0]!.data)).toBeGreaterThan(0);
  });

  test('positive weights summing to 1 stay without the unconditional row', async () => {
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(
        defaultRequest(pipeline, {
          conditions: [
            { kind: 'text', text: 'a red cat', weight: 0.75 },
            { kind: 'text', text: 'a blue dog', weight: 0.25 },
          ],
        }),
      ),
    );
    expect(floatDims(unetRuns(runs)[0]!.feeds['sample'])[0]).toBe(2 * 4);
    expect(result.notes).toEqual([]);
  });

  test('a negative part turns guidance on, and the notes say so', async () => {
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(
        defaultRequest(pipeline, {
          conditions: [
            { kind: 'text', text: 'a red cat', weight: 1.25 },
            { kind: 'text', text: 'a blue dog', weight: -0.25 },
          ],
        }),
      ),
    );
    expect(floatDims(unetRuns(runs)[0]!.feeds['sample'])[0]).toBe(3 * 4);
    expect(result.notes.join('\n')).toMatch(
      /guidance-distilled; negative or weighted parts turned guidance on/,
    );
    expectImages(result, pipeline.defaults.size);
  });

  test('a guidance scale other than 1 turns guidance on too', async () => {
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(defaultRequest(pipeline, { guidanceScale: 2 })),
    );
    expect(floatDims(unetRuns(runs)[0]!.feeds['sample'])[0]).toBe(2 * 4);
    expect(result.notes.join('\n')).toMatch(/guidance scale 2 turned guidance on/);
  });
});

describe('LCM SD 1.5 (timestep_cond guidance embedding)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('sd15-lcm-tiny');
  });
  afterAll(() => pipeline.dispose());

  test('defaults: lcm, 4 steps at --q 1, scale 8.5 as an embedding', () => {
    expect(pipeline.defaults).toMatchObject({
      scheduler: 'lcm',
      steps: 4,
      guidanceScale: 8.5,
      distilled: 'lcm',
      guidance: 'embedded',
    });
  });

  test('one row per image with timestep_cond = the embedding of each image scale', async () => {
    const { result, runs } = await recordRuns(() => pipeline.generate(defaultRequest(pipeline)));
    expectImages(result, pipeline.defaults.size);
    const unet = unetRuns(runs);
    expect(unet).toHaveLength(4);
    const expected = guidanceScaleEmbedding(8.5, 256);
    for (const run of unet) {
      expect(floatDims(run.feeds['sample'])).toEqual([4, 4, 8, 8]);
      const cond = run.feeds['timestep_cond'];
      if (cond?.kind !== 'float') throw new Error('no timestep_cond');
      expect(cond.tensor.dims).toEqual([4, 256]);
      for (let r = 0; r < 4; r++) expect(cond.tensor.data.subarray(r * 256, (r + 1) * 256)).toEqual(expected);
    }
    expect(result.notes).toEqual([]);
  });

  test('the prompt and the guidance scale change the output', async () => {
    const a = await pipeline.generate(defaultRequest(pipeline, { images: [0] }));
    const b = await pipeline.generate(
      defaultRequest(pipeline, {
        images: [0],
        conditions: [{ kind: 'text', text: 'a blue dog', weight: 1 }],
      }),
    );
    const c = await pipeline.generate(defaultRequest(pipeline, { images: [0], guidanceScale: 3 }));
    expect(meanAbsDiff(a.images[0]!.data, b.images[0]!.data)).toBeGreaterThan(0);
    expect(meanAbsDiff(a.images[0]!.data, c.images[0]!.data)).toBeGreaterThan(0);
  });

  test('weighted and negative parts: one row each, mixed, and a note says how', async () => {
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(
        defaultRequest(pipeline, {
          conditions: [
            { kind: 'text', text: 'a red cat', weight: 1.25 },
            { kind: 'text', text: 'a blue dog', weight: -0.25 },
          ],
        }),
      ),
    );
    const run = unetRuns(runs)[0]!;
    expect(floatDims(run.feeds['sample'])[0]).toBe(2 * 4);
    expect(floatDims(run.feeds['timestep_cond'])).toEqual([8, 256]);
    expect(result.notes.join('\n')).toMatch(/combined into the conditioning rows/);
    expectImages(result, pipeline.defaults.size);
  });
});

describe('SD 1.5 inpainting (9-channel UNet)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('sd15-inpaint-tiny');
  });
  afterAll(() => pipeline.dispose());

  const plane = 8 * 8;
  const channel = (data: Float32Array, row: number, c: number) =>
    data.subarray((row * 9 + c) * plane, (row * 9 + c + 1) * plane);

  test('without a canvas: latents, a full mask and the latents of an empty image, as the UNet was trained', async () => {
    const { result, runs } = await recordRuns(() => pipeline.generate(request(pipeline)));
    expectImages(result, pipeline.defaults.size);
    // The masked image is encoded once (all zeros in [-1, 1]).
    const encoder = runs.filter((r) => r.label === 'vae_encoder');
    expect(encoder).toHaveLength(1);
    const pixels = encoder[0]!.feeds['sample'];
    if (pixels?.kind !== 'float') throw new Error('no encoder sample');
    expect(pixels.tensor.data.every((v) => v === 0)).toBe(true);
    const unet = unetRuns(runs);
    expect(unet).toHaveLength(4);
    for (const run of unet) {
      const sample = run.feeds['sample'];
      if (sample?.kind !== 'float') throw new Error('no sample');
      expect(sample.tensor.dims).toEqual([8, 9, 8, 8]); // uncond + 1 condition, 4 images
      for (let row = 0; row < 8; row++) {
        expect(channel(sample.tensor.data, row, 4).every((v) => v === 1)).toBe(true);
        for (let c = 5; c < 9; c++)
          expect(channel(sample.tensor.data, row, c)).toEqual(channel(sample.tensor.data, 0, c));
      }
    }
  });

  test('the prompt changes the output', async () => {
    const a = await pipeline.generate(request(pipeline, { images: [0] }));
    const b = await pipeline.generate(
      request(pipeline, { images: [0], conditions: [{ kind: 'text', text: 'a blue dog', weight: 1 }] }),
    );
    expect(meanAbsDiff(a.images[0]!.data, b.images[0]!.data)).toBeGreaterThan(0);
  });

  test('with a canvas: the mask at latent size and the masked image; the kept half stays the source', async () => {
    const side = pipeline.defaults.size;
    const data = new Uint8Array(side * side * 3);
    for (let p = 0; p < side * side; p++) data.set([200, (p * 7) % 256, 40], p * 3);
    const image = rawImage(side, side, data);
    // Paint the right half, keep the left.
    const mask = new Float32Array(side * side).map((_, p) => (p % side >= side / 2 ? 1 : 0));
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(request(pipeline, { images: [0], canvas: { image, mask } })),
    );
    const sample = unetRuns(runs)[0]!.feeds['sample'];
    if (sample?.kind !== 'float') throw new Error('no sample');
    expect(sample.tensor.dims).toEqual([2, 9, 8, 8]);
    const latentMask = channel(sample.tensor.data, 0, 4);
    expect([...latentMask]).toEqual(Array.from({ length: plane }, (_, p) => (p % 8 >= 4 ? 1 : 0)));
    // The masked image fed to the encoder: the painted half is 0, the kept half the source's pixels.
    const masked = runs.find(
      (r) =>
        r.label === 'vae_encoder' &&
        r.feeds['sample']?.kind === 'float' &&
        r.feeds['sample'].tensor.data.some((v) => v === 0),
    );
    expect(masked).toBeDefined();
    const out = result.images[0]!;
    let keptDiff = 0;
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side / 4; x++)
        for (let c = 0; c < 3; c++)
          keptDiff += Math.abs(out.data[(y * side + x) * 3 + c]! - data[(y * side + x) * 3 + c]!);
    expect(keptDiff).toBe(0);
  });
});
