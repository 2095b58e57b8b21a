/** @jest-environment ./test/diffusion/onnx-environment.cjs */

import sharp from 'sharp';
import {
  guidanceForStylize,
  parametersText,
  taskFromJob,
  VARIATION_STRENGTH,
} from '../../src/diffusion/job-request.js';
import type { ModelDefaults } from '../../src/diffusion/pipeline.js';
import { imagesOf, runJob } from '../../src/diffusion/run-job.js';
import { ImageInputError } from '../../src/images/errors.js';
import { readTextChunks } from '../../src/images/png.js';
import type { JobDescription } from '../../src/jobs/spec.js';
import { stepsForQuality } from '../../src/model/steps.js';
import { parsePrompt } from '../../src/prompt/parse.js';
import { loadFixture } from './helpers.js';

const model: ModelDefaults = {
  steps: 20,
  guidanceScale: 5,
  scheduler: 'ddim',
  size: 32,
  sizeMultiple: 8,
  hasImageEncoder: true,
  hasUpscaler: true,
  distilled: 'none',
  guidance: 'cfg',
  styles: [],
  styleReference: false,
  styleGuidance: 0,
  latentStyleGuidance: 0,
  latentSrefGuidance: 0,
  chooseStartsAt: null,
  warnings: [],
};

const png = (color: string, side = 16) =>
  sharp({ create: { width: side, height: side, channels: 3, background: color } })
    .png()
    .toBuffer()
    .then((b) => new Uint8Array(b));

async function generateTask(prompt: string, images: Record<string, Uint8Array> = {}) {
  const task = await taskFromJob(parsePrompt(prompt), { seed: 9, images }, model);
  if (task.kind !== 'generate') throw new Error('expected a generation');
  return task;
}

test('--stylize maps to guidance around the model default (100 -> default, 0 -> 1)', () => {
  expect(guidanceForStylize(100, 5)).toBe(5);
  expect(guidanceForStylize(0, 5)).toBe(1);
  expect(guidanceForStylize(400, 5)).toBe(9);
  expect(guidanceForStylize(1000, 7.5)).toBeCloseTo(1 + 6.5 * Math.sqrt(10), 9);
});

test('--q scales the model steps', () => {
  expect([0.25, 0.5, 1, 2].map((q) => stepsForQuality(q, 20))).toEqual([5, 10, 20, 40]);
  expect(stepsForQuality(0.25, 2)).toBe(1);
});

test('parameters map onto the request', async () => {
  const { request, notes } = await generateTask(
    'a red cat --ar 2:1 --chaos 30 --stop 50 --tile --s 400 --q .5 --weird 10',
  );
  expect(request).toMatchObject({
    width: 48,
    height: 24,
    chaos: 30,
    stop: 0.5,
    tile: true,
    guidanceScale: 9,
    steps: 10,
    seed: 9,
    scheduler: 'ddim',
    images: [0, 1, 2, 3],
    init: null,
  });
  expect(notes.join(' ')).toMatch(/--weird/);
});

test('`a::1` and plain `a` give the same request; `--no` becomes a negative condition', async () => {
  expect((await generateTask('a red cat::1')).request).toEqual((await generateTask('a red cat')).request);
  const { request } = await generateTask('a red cat --no dog');
  expect(request.conditions).toEqual([
    { kind: 'text', text: 'a red cat', weight: 2 },
    { kind: 'text', text: 'dog', weight: -1 },
  ]);
});

test('image prompts take the caller-supplied bytes, keyed by URL', async () => {
  const url = 'https://example.com/cat.png';
  const { request } = await generateTask(`${url} a red cat`, { [url]: await png('#ff0000') });
  expect(request.conditions[0]).toMatchObject({ kind: 'image', image: { width: 16, height: 16 } });
});

test('bad or missing image bytes are typed errors before any inference', async () => {
  const url = 'https://example.com/cat.png';
  await expect(
    generateTask(`${url} a cat`, { [url]: new TextEncoder().encode('nope') }),
  ).rejects.toMatchObject({
    code: 'not-an-image',
  });
  await expect(generateTask(`${url} a cat`)).rejects.toBeInstanceOf(ImageInputError);
});

function variation(role: 'variation-strong' | 'variation-subtle' | 'upscale'): JobDescription {
  return { ...parsePrompt('a red cat'), parents: [{ jobId: 'j1', index: 2, role }] };
}

test('variations are img2img from the parent image with their documented strength', async () => {
  const images = { 'job:j1/2': await png('#00ff00') };
  for (const role of ['variation-strong', 'variation-subtle'] as const) {
    const task = await taskFromJob(variation(role), { seed: 1, images }, model);
    expect(task.kind === 'generate' && task.request.init?.strength).toBe(VARIATION_STRENGTH[role]);
  }
  const upscale = await taskFromJob(variation('upscale'), { seed: 1, images }, model);
  expect(upscale).toMatchObject({ kind: 'upscale', index: 2 });
});

test("an upscale brings a display-sized parent back to the image's own size first", async () => {
  const images = { 'job:j1/2': await png('#00ff00', 256) };
  const recorded = await taskFromJob(
    { ...variation('upscale'), upscale: { width: 64, height: 64 } },
    { seed: 1, images },
    model,
  );
  expect(recorded.kind === 'upscale' && recorded.image).toMatchObject({ width: 64, height: 64 });
  // A record from before the size was kept: taken to be at the model's native area.
  const older = await taskFromJob(variation('upscale'), { seed: 1, images }, model);
  expect(older.kind === 'upscale' && older.image.width).toBe(model.size);
  const creative = await taskFromJob(
    { ...variation('upscale'), upscale: { width: 64, height: 64, creative: true } },
    { seed: 1, images },
    model,
  );
  expect(creative.kind === 'upscale' && creative.creative?.conditions.map((c) => c.kind)).toEqual(['text']);
});

test('the parameters text names the settings that reproduce the image', async () => {
  const task = await generateTask('a red cat --seed 5');
  expect(parametersText(parsePrompt('a red cat'), task, 'emoji-ld')).toBe(
    'a red cat\nSteps: 20, Sampler: ddim, CFG scale: 5, Seed: 5, Size: 32x32, Model: emoji-ld, Chaos: 0, Stop: 100, Tile: false',
  );
});

test('the seed travels in the description; the inputs give one only to a description without it', async () => {
  const described = await taskFromJob(parsePrompt('a red cat --seed 5'), { images: {} }, model);
  expect(described.kind === 'generate' && described.request.seed).toBe(5);
  expect((await generateTask('a red cat')).request.seed).toBe(9);
  await expect(taskFromJob(parsePrompt('a red cat'), { images: {} }, model)).rejects.toThrow('no seed');
});

/** Byte equality without jest's element-by-element diff of megabyte arrays. */
const same = (a: Uint8Array | null, b: Uint8Array | null) =>
  a !== null && b !== null && Buffer.from(a).equals(b);

async function pixels(png: Uint8Array | null): Promise<Buffer> {
  return sharp(png!).raw().toBuffer();
}

describe('runJob on the project layout', () => {
  test('previews are paced where they are made: none before a quarter of the steps, then one per interval', async () => {
    const pipeline = await loadFixture('emoji-tiny');
    try {
      const previewSteps = async (previewIntervalMs: number) => {
        const steps: number[] = [];
        await runJob(
          pipeline,
          parsePrompt('a cat'),
          { seed: 1, images: {}, steps: 8 },
          {
            modelName: 'tiny',
            previewIntervalMs,
            onProgress: (p) => {
              if (p.preview) steps.push(p.step);
            },
          },
        );
        return steps;
      };
      expect(await previewSteps(0)).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(await previewSteps(60_000)).toEqual([2]);
    } finally {
      await pipeline.dispose();
    }
  });

  test('same prompt and seed: byte-identical PNGs; `a::1` equals `a`; parameters inside', async () => {
    const pipeline = await loadFixture('emoji-tiny');
    try {
      const run = (prompt: string) =>
        runJob(pipeline, parsePrompt(prompt), { seed: 3, images: {}, steps: 4 }, { modelName: 'tiny' }).then(
          imagesOf,
        );
      const a = await run('polar bear:: penguin::0.5 --ar 3:2');
      const b = await run('polar bear:: penguin::0.5 --ar 3:2');
      expect(same(b.grid, a.grid)).toBe(true);
      expect(b.images.every((image, i) => same(image.png, a.images[i]!.png))).toBe(true);
      // The PNG text differs (the prompt as typed); the pixels do not.
      const swapped = await run('penguin::0.5 polar bear:: --ar 3:2');
      expect((await pixels(swapped.grid)).equals(await pixels(a.grid))).toBe(true);
      const weighted = await run('polar bear::1');
      expect((await pixels(weighted.grid)).equals(await pixels((await run('polar bear')).grid))).toBe(true);
      const meta = await sharp(a.grid!).metadata();
      expect(Math.min(meta.width!, meta.height!)).toBeGreaterThanOrEqual(512);
      // The output says the size of its single images, as encoded.
      for (const { png } of a.images) {
        expect(await sharp(png).metadata()).toMatchObject({ width: a.width, height: a.height });
      }
      expect(meta).toMatchObject({ width: 2 * a.width, height: 2 * a.height });
      expect(readTextChunks(a.grid!)['parameters']).toMatch(
        /^polar bear:: penguin::0.5 --ar 3:2\nSteps: 4, Sampler: ddim/,
      );
      const upscaled = imagesOf(
        await runJob(
          pipeline,
          variation('upscale'),
          { seed: 1, images: { 'job:j1/2': a.images[2]!.png } },
          { modelName: 'tiny' },
        ),
      );
      expect(upscaled.grid).toBeNull();
      expect(upscaled.images.map((i) => i.index)).toEqual([2]);
      expect(await sharp(upscaled.images[0]!.png).metadata()).toMatchObject({
        width: upscaled.width,
        height: upscaled.height,
      });
    } finally {
      await pipeline.dispose();
    }
  });
});

test('an aspect ratio the model cannot keep exactly is named in a note; one it keeps is not', async () => {
  const odd = await generateTask('a cat --ar 16:9');
  expect(odd.notes.join(' ')).toMatch(/--ar 16:9 became \d+x\d+ \(\d+:\d+\): sides are multiples of/);
  const kept = await generateTask('a cat --ar 2:1');
  expect(kept.notes.filter((n) => n.startsWith('--ar'))).toEqual([]);
});
