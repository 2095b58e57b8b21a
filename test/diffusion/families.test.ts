/** @jest-environment ./test/diffusion/onnx-environment.cjs */
/**
 * The few-step and inpainting fixtures (random weights with the signatures of Optimum's exports) generate
 * through the pipeline with their own defaults, and the UNet gets the inputs each family was trained with.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, type Feed } from '../../src/diffusion/backend.js';
import { DiffusionPipeline } from '../../src/diffusion/pipeline.js';
import type { GenerationRequest } from '../../src/diffusion/request.js';
import { guidanceScaleEmbedding } from '../../src/diffusion/schedulers/index.js';
import type { FloatTensor } from '../../src/diffusion/tensor.js';
import { rawImage } from '../../src/images/raw-image.js';
import { ModelFolderError } from '../../src/model/config.js';
import { type Fed, loadFixture, MODELS, meanAbsDiff, recordRuns, request } from './helpers.js';

const unetRuns = (runs: Fed[]) => runs.filter((r) => r.label === 'unet');

function floatDims(feed: Feed | undefined): readonly number[] {
  return floatTensor(feed).dims;
}

function floatTensor(feed: Feed | undefined): FloatTensor {
  if (feed?.kind !== 'float') throw new Error('not a float feed');
  return feed.tensor;
}

/**
 * Largest |a - b| over two same-length arrays (Infinity if the lengths differ): one number to assert on,
 * so a failure does not make jest print a diff of 150 000 floats.
 */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Row `r` of a [rows, ...] tensor. */
function row(t: FloatTensor, r: number): Float32Array {
  const size = t.data.length / t.dims[0]!;
  return t.data.subarray(r * size, (r + 1) * size);
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

/** Byte-identical grids (the seed fixes the output). */
const sameImages = (a: { images: { data: Uint8Array }[] }, b: { images: { data: Uint8Array }[] }) =>
  a.images.length === b.images.length &&
  a.images.every((image, i) => Buffer.from(image.data).equals(b.images[i]!.data));

describe('SDXL base (two text encoders, text_embeds, time_ids)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('sdxl-tiny');
  });
  afterAll(() => pipeline.dispose());

  test('defaults: its Euler sampler, 20 steps, classifier-free guidance 7.5', () => {
    expect(pipeline.defaults).toMatchObject({
      scheduler: 'euler',
      steps: 20,
      guidanceScale: 7.5,
      distilled: 'none',
      guidance: 'cfg',
    });
    expect(pipeline.vaeOverflowWarning).toBeNull();
    expect(pipeline.defaults.warnings).toEqual([]);
  });

  test('a grid with its own defaults: every UNet row gets 2048-wide states, text_embeds and time_ids', async () => {
    const { result, runs } = await recordRuns(() => pipeline.generate(defaultRequest(pipeline)));
    expectImages(result, pipeline.defaults.size);
    expect(result.notes).toEqual([]);
    // Both encoders once (the unconditional row is zeros, not encoded), 20 UNet calls, one decode.
    expect(runs.map((r) => r.label).filter((l) => l.startsWith('text_encoder'))).toEqual([
      'text_encoder',
      'text_encoder_2',
    ]);
    const unet = unetRuns(runs);
    expect(unet).toHaveLength(20);
    for (const run of unet) {
      expect(floatDims(run.feeds['sample'])).toEqual([8, 4, 8, 8]);
      expect(floatDims(run.feeds['encoder_hidden_states'])).toEqual([8, 77, 2048]);
      expect(floatDims(run.feeds['text_embeds'])).toEqual([8, 1280]);
      const timeIds = floatTensor(run.feeds['time_ids']);
      expect(timeIds.dims).toEqual([8, 6]);
      for (let r = 0; r < 8; r++) expect([...row(timeIds, r)]).toEqual([64, 64, 0, 0, 64, 64]);
    }
  });

  test('force_zeros_for_empty_prompt: the unconditional rows are zeros, the prompt rows are not', async () => {
    const { runs } = await recordRuns(() => pipeline.generate(request(pipeline)));
    const run = unetRuns(runs)[0]!;
    for (const input of ['encoder_hidden_states', 'text_embeds']) {
      const t = floatTensor(run.feeds[input]);
      for (let r = 0; r < 4; r++)
        expect({ input, r, zeros: row(t, r).every((v) => v === 0) }).toEqual({ input, r, zeros: true });
      for (let r = 4; r < 8; r++)
        expect({ input, r, zeros: row(t, r).every((v) => v === 0) }).toEqual({ input, r, zeros: false });
    }
  });

  test('the rows are the penultimate states of both encoders (each with its own pad token) and text_encoder_2 text_embeds', async () => {
    const { runs } = await recordRuns(() => pipeline.generate(request(pipeline, { images: [0] })));
    const idsOf = (label: string) => {
      const feed = runs.find((r) => r.label === label)!.feeds['input_ids'];
      if (feed?.kind !== 'int') throw new Error('no input_ids');
      return feed;
    };
    const ids1 = idsOf('text_encoder');
    const ids2 = idsOf('text_encoder_2');
    // tokenizer pads with <|endoftext|>, tokenizer_2 with "!" (id 0), as SDXL's tokenizers do.
    expect(ids1.values.at(-1)).toBe(49407);
    expect(ids2.values.at(-1)).toBe(0);
    expect(ids1.values.slice(0, 5)).toEqual(ids2.values.slice(0, 5));
    const backend = new Backend({ threads: 1 });
    try {
      const te1 = await backend.load(`${MODELS}sdxl-tiny/text_encoder/model.onnx`, 'te1');
      const te2 = await backend.load(`${MODELS}sdxl-tiny/text_encoder_2/model.onnx`, 'te2');
      const out1 = await te1.run({ input_ids: ids1 }, ['hidden_states.11', 'last_hidden_state']);
      const out2 = await te2.run({ input_ids: ids2 }, ['hidden_states.31', 'text_embeds']);
      const unet = unetRuns(runs)[0]!;
      const states = floatTensor(unet.feeds['encoder_hidden_states']);
      const prompt = row(states, 1); // row 0 is the unconditional one
      const h1 = out1['hidden_states.11']!.data;
      const h2 = out2['hidden_states.31']!.data;
      const expected = new Float32Array(77 * 2048);
      for (let t = 0; t < 77; t++) {
        expected.set(h1.subarray(t * 768, (t + 1) * 768), t * 2048);
        expected.set(h2.subarray(t * 1280, (t + 1) * 1280), t * 2048 + 768);
      }
      expect(maxDiff(prompt, expected)).toBe(0);
      // Not the final, layer-normed state.
      expect(
        maxDiff(prompt.subarray(0, 768), out1['last_hidden_state']!.data.subarray(0, 768)),
      ).toBeGreaterThan(0);
      expect(maxDiff(row(floatTensor(unet.feeds['text_embeds']), 1), out2['text_embeds']!.data)).toBe(0);
    } finally {
      await backend.dispose();
    }
  });

  test('the request size is the time ids, and they change the output', async () => {
    const { runs } = await recordRuns(() =>
      pipeline.generate(request(pipeline, { images: [0], width: 96, height: 64 })),
    );
    const timeIds = floatTensor(unetRuns(runs)[0]!.feeds['time_ids']);
    expect([...row(timeIds, 0)]).toEqual([64, 96, 0, 0, 64, 96]);
    expect([...row(timeIds, 1)]).toEqual([64, 96, 0, 0, 64, 96]);
    const plain = await pipeline.generate(request(pipeline, { images: [0] }));
    // The same latents with other time ids: a different picture.
    const { result: altered } = await recordRuns(
      () => pipeline.generate(request(pipeline, { images: [0] })),
      (label, feeds) => {
        if (label !== 'unet') return feeds;
        const t = floatTensor(feeds['time_ids']);
        return {
          ...feeds,
          time_ids: { kind: 'float', tensor: { data: t.data.map((v) => v * 16), dims: t.dims } },
        };
      },
    );
    expect(meanAbsDiff(plain.images[0]!.data, altered.images[0]!.data)).toBeGreaterThan(0);
  });

  test('a different prompt changes text_embeds and the output; text_embeds alone change the output', async () => {
    const cat = await recordRuns(() => pipeline.generate(request(pipeline, { images: [0] })));
    const dog = await recordRuns(() =>
      pipeline.generate(
        request(pipeline, { images: [0], conditions: [{ kind: 'text', text: 'a blue dog', weight: 1 }] }),
      ),
    );
    const embeds = (runs: Fed[]) => row(floatTensor(unetRuns(runs)[0]!.feeds['text_embeds']), 1);
    expect(maxDiff(embeds(cat.runs), embeds(dog.runs))).toBeGreaterThan(0);
    expect(meanAbsDiff(cat.result.images[0]!.data, dog.result.images[0]!.data)).toBeGreaterThan(0);
    const { result: noPooled } = await recordRuns(
      () => pipeline.generate(request(pipeline, { images: [0] })),
      (label, feeds) => {
        if (label !== 'unet') return feeds;
        const t = floatTensor(feeds['text_embeds']);
        return {
          ...feeds,
          text_embeds: { kind: 'float', tensor: { data: new Float32Array(t.data.length), dims: t.dims } },
        };
      },
    );
    expect(meanAbsDiff(cat.result.images[0]!.data, noPooled.images[0]!.data)).toBeGreaterThan(0);
  });

  test('weighted and negative parts: one row block each, each with its own states and text_embeds', async () => {
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(
        request(pipeline, {
          conditions: [
            { kind: 'text', text: 'a red cat', weight: 1.25 },
            { kind: 'text', text: 'a blue dog', weight: -0.25 },
          ],
        }),
      ),
    );
    expectImages(result, pipeline.defaults.size);
    const run = unetRuns(runs)[0]!;
    expect(floatDims(run.feeds['sample'])[0]).toBe(12);
    const embeds = floatTensor(run.feeds['text_embeds']);
    expect(embeds.dims).toEqual([12, 1280]);
    // Blocks of four (one row per image): uncond, then the parts in canonical order.
    expect(maxDiff(row(embeds, 4), row(embeds, 7))).toBe(0);
    expect(maxDiff(row(embeds, 4), row(embeds, 8))).toBeGreaterThan(0);
    expect(floatDims(run.feeds['time_ids'])).toEqual([12, 6]);
  });

  test('the same seed gives the same bytes, another seed other ones', async () => {
    const a = await pipeline.generate(request(pipeline));
    const b = await pipeline.generate(request(pipeline));
    const c = await pipeline.generate(request(pipeline, { seed: 43 }));
    expect(sameImages(a, b)).toBe(true);
    expect(sameImages(a, c)).toBe(false);
  });

  test('an image prompt becomes the init image (no image encoder), and the note says so', async () => {
    const side = pipeline.defaults.size;
    const image = rawImage(side, side, new Uint8Array(side * side * 3).fill(180));
    const { result, runs } = await recordRuns(() =>
      pipeline.generate(
        request(pipeline, {
          conditions: [
            { kind: 'text', text: 'a red cat', weight: 0.5 },
            { kind: 'image', image, weight: 0.5 },
          ],
        }),
      ),
    );
    expectImages(result, side);
    expect(result.notes.join('\n')).toMatch(/image prompts were used as an init image/);
    expect(runs.some((r) => r.label === 'vae_encoder')).toBe(true);
    // The image is not a row: uncond + the text.
    expect(floatDims(unetRuns(runs)[0]!.feeds['text_embeds'])).toEqual([8, 1280]);
  });

  test('embedTexts gives text_encoder_2 text_embeds', async () => {
    const [cat, dog] = await pipeline.embedTexts(['a red cat', 'a blue dog']);
    expect(cat).toHaveLength(1280);
    const { runs } = await recordRuns(() => pipeline.generate(request(pipeline, { images: [0], steps: 1 })));
    // Batched and single-text encoder calls differ in the last float bits only.
    const fed = row(floatTensor(unetRuns(runs)[0]!.feeds['text_embeds']), 1);
    expect(maxDiff(cat!, fed)).toBeLessThan(1e-5);
    expect(maxDiff(cat!, dog!)).toBeGreaterThan(0);
  });

  test('a VAE decoder that gives non-finite pixels fails the job instead of posting black images', async () => {
    const nan = (label: string, feeds: Record<string, Feed>) => {
      if (label !== 'vae_decoder') return feeds;
      const t = floatTensor(feeds['latent_sample']);
      return {
        latent_sample: {
          kind: 'float' as const,
          tensor: { data: t.data.map(() => Number.NaN), dims: t.dims },
        },
      };
    };
    await expect(
      recordRuns(() => pipeline.generate(request(pipeline, { images: [0] })), nan),
    ).rejects.toThrow(ModelFolderError);
  });
});

describe('SDXL without force_zeros_for_empty_prompt', () => {
  let dir: string;
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdxl-'));
    cpSync(`${MODELS}sdxl-tiny`, dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8'));
    writeFileSync(
      join(dir, 'model_index.json'),
      JSON.stringify({ ...index, force_zeros_for_empty_prompt: false }),
    );
    pipeline = await DiffusionPipeline.fromPretrained(dir, { threads: 1 });
  });
  afterAll(async () => {
    await pipeline?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the unconditional row is the encoding of the empty prompt', async () => {
    const { runs } = await recordRuns(() => pipeline.generate(request(pipeline, { images: [0] })));
    const ids = runs.find((r) => r.label === 'text_encoder')!.feeds['input_ids'];
    expect(ids).toMatchObject({ dims: [2, 77] }); // "" and the prompt in one call
    const run = unetRuns(runs)[0]!;
    const embeds = floatTensor(run.feeds['text_embeds']);
    expect(row(embeds, 0).some((v) => v !== 0)).toBe(true);
    expect(maxDiff(row(embeds, 0), row(embeds, 1))).toBeGreaterThan(0);
    expect(row(floatTensor(run.feeds['encoder_hidden_states']), 0).some((v) => v !== 0)).toBe(true);
  });
});

describe('SDXL-Turbo, fp16 (guidance-distilled, Euler ancestral trailing)', () => {
  let pipeline: DiffusionPipeline;
  beforeAll(async () => {
    pipeline = await loadFixture('sdxl-turbo-fp16-tiny');
  });
  afterAll(() => pipeline.dispose());

  test('defaults: its own sampler, 2 steps at --q 1, guidance 1', () => {
    expect(pipeline.defaults).toMatchObject({
      scheduler: 'euler-ancestral',
      steps: 2,
      guidanceScale: 1,
      distilled: 'turbo',
      guidance: 'none',
    });
  });

  test('one prompt: one UNet row per image with its states, text_embeds and time_ids; no note', async () => {
    const { result, runs } = await recordRuns(() => pipeline.generate(defaultRequest(pipeline)));
    expectImages(result, pipeline.defaults.size);
    expect(result.notes).toEqual([]);
    const unet = unetRuns(runs);
    expect(unet).toHaveLength(2);
    for (const run of unet) {
      expect(floatDims(run.feeds['sample'])).toEqual([4, 4, 8, 8]);
      expect(floatDims(run.feeds['encoder_hidden_states'])).toEqual([4, 77, 2048]);
      const embeds = floatTensor(run.feeds['text_embeds']);
      expect(embeds.dims).toEqual([4, 1280]);
      expect(row(embeds, 0).some((v) => v !== 0)).toBe(true);
      expect([...row(floatTensor(run.feeds['time_ids']), 3)]).toEqual([64, 64, 0, 0, 64, 64]);
    }
  });

  test('a negative part turns guidance on with the note; the unconditional rows are zeros', async () => {
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
    expectImages(result, pipeline.defaults.size);
    expect(result.notes.join('\n')).toMatch(
      /guidance-distilled; negative or weighted parts turned guidance on \(3 UNet rows per image instead of 2\)/,
    );
    const run = unetRuns(runs)[0]!;
    expect(floatDims(run.feeds['sample'])[0]).toBe(12);
    const embeds = floatTensor(run.feeds['text_embeds']);
    expect(embeds.dims).toEqual([12, 1280]);
    for (let r = 0; r < 4; r++) expect(row(embeds, r).every((v) => v === 0)).toBe(true);
    expect(maxDiff(row(embeds, 4), row(embeds, 8))).toBeGreaterThan(0);
  });

  test('the same seed gives the same bytes (ancestral noise is seeded too)', async () => {
    const a = await pipeline.generate(defaultRequest(pipeline));
    const b = await pipeline.generate(defaultRequest(pipeline));
    const c = await pipeline.generate(defaultRequest(pipeline, { seed: 43 }));
    expect(sameImages(a, b)).toBe(true);
    expect(sameImages(a, c)).toBe(false);
  });

  test('its float16 VAE with force_upcast is named; an fp32 VAE beside the fp16 UNet clears it', async () => {
    expect(pipeline.vaeOverflowWarning).toMatch(/vae_decoder and vae_encoder are float16 .* force_upcast/);
    // The worker logs it at start (the defaults travel out of the inference process).
    expect(pipeline.defaults.warnings).toEqual([pipeline.vaeOverflowWarning]);
    const dir = mkdtempSync(join(tmpdir(), 'sdxl-turbo-'));
    let mixed: DiffusionPipeline | undefined;
    try {
      cpSync(`${MODELS}sdxl-turbo-fp16-tiny`, dir, { recursive: true });
      for (const part of ['vae_decoder', 'vae_encoder'])
        cpSync(`${MODELS}sdxl-tiny/${part}`, join(dir, part), { recursive: true });
      mixed = await DiffusionPipeline.fromPretrained(dir, { threads: 1 });
      expect(mixed.vaeOverflowWarning).toBeNull();
      expectImages(await mixed.generate(defaultRequest(mixed)), mixed.defaults.size);
    } finally {
      await mixed?.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('SD folders keep pooler_output for embedTexts', async () => {
  const pipeline = await loadFixture('sd15-tiny');
  try {
    const [a, b] = await pipeline.embedTexts(['a red cat', 'a blue dog']);
    expect(a).toHaveLength(768);
    expect(a).not.toEqual(b);
  } finally {
    await pipeline.dispose();
  }
});
